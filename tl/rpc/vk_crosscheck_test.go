// The cross-checks below compare tl and tl/rpc encodings with VK's own Go
// code (github.com/VKCOM/tl v1.5.7, imported by tests only).
package rpc_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/VKCOM/tl/pkg/basictl"
	vk "github.com/VKCOM/tl/pkg/rpc"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

func full() rpc.InvokeReqExtra {
	return rpc.InvokeReqExtra{
		Flags:                       0x76bd8284 | 1<<27 | 1<<14 | 1,
		RequesterID:                 0x0102030405060708,
		WaitShardsBinlogPos:         rpc.LongDictionary{}.Add("s", 5),
		WaitBinlogPos:               7,
		StringForwardKeys:           rpc.MakeStringVector("k1", "key2", string(make([]byte, 300))),
		IntForwardKeys:              rpc.MakeLongVector(1, -1),
		StringForward:               []byte("abc"),
		IntForward:                  42,
		CustomTimeoutMs:             500,
		SupportedCompressionVersion: 1,
		RandomDelay:                 1.5,
		PersistentQuery:             rpc.PersistentQuery{Tag: rpc.TagCommitRequest, QueryUUID: rpc.UUID{1, 2}, SlotUUID: rpc.UUID{3, 4}},
		TraceContext:                rpc.TraceContext{FieldsMask: 0xff, TraceID: rpc.UUID{16, 32}, ParentID: 48, SourceID: []byte("x")},
		ExecutionContext:            []byte("ctx"),
	}
}

func TestExtraVsVK(t *testing.T) {
	for _, prep := range []bool{false, true} {
		e := full()
		if prep {
			e.PersistentQuery.Tag = rpc.TagPrepareRequest
			e.TraceContext.FieldsMask = 0x3
			e.TraceContext.SourceID = nil
		}
		req := rpc.InvokeReq{QueryID: 5, ActorID: 7, Extra: e, Body: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
		out := rpc.AppendInvokeReq(nil, &req)
		hdr := rpc.AppendInvokeReqHeader(nil, &req)
		extraBytes := hdr[8+4+8:]
		var x vk.RequestExtra
		rest, err := x.ReadTL1(extraBytes)
		if err != nil || len(rest) != 0 {
			t.Fatalf("VK ReadTL1: %v rest %d", err, len(rest))
		}
		if w := x.WriteTL1(nil); !bytes.Equal(w, extraBytes) {
			t.Fatalf("VK re-encode differs\n%x\n%x", w, extraBytes)
		}
		hctx := &vk.HandlerContext{Request: bytes.Clone(out)}
		if err := hctx.ParseInvokeReq(&vk.ServerOptions{}); err != nil {
			t.Fatal(err)
		}
		if hctx.QueryID() != 5 || hctx.ActorID() != 7 || hctx.RequestTag() != 0x04030201 || !bytes.Equal(hctx.Request, req.Body) {
			t.Fatalf("VK parse: qid %d actor %d tag %x body %x", hctx.QueryID(), hctx.ActorID(), hctx.RequestTag(), hctx.Request)
		}
		if hctx.RequestExtra.CustomTimeoutMs != 500 || len(hctx.RequestExtra.StringForwardKeys) != 3 || hctx.RequestExtra.Flags != e.Flags {
			t.Fatalf("VK extra %+v", hctx.RequestExtra)
		}
	}
}

// TestStringsVsVK compares string encodings with basictl for every length
// around the boundaries, both directions.
func TestStringsVsVK(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for n := 0; n < 1100; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		mine := tl.AppendBytes(nil, b)
		theirs := basictl.StringWriteBytes(nil, b)
		if !bytes.Equal(mine, theirs) {
			t.Fatalf("len %d differs", n)
		}
	}
	// Reader strictness on random garbage: both accept or both reject.
	for i := 0; i < 200000; i++ {
		in := make([]byte, rng.IntN(12))
		for j := range in {
			in[j] = byte(rng.Uint32())
			if rng.IntN(3) == 0 {
				in[j] = 0
			}
		}
		if rng.IntN(4) == 0 && len(in) > 0 {
			in[0] = byte(rng.IntN(12))
		}
		_, r1, e1 := tl.ReadBytes(in)
		var s []byte
		r2, e2 := basictl.StringReadBytes(in, &s)
		if (e1 == nil) != (e2 == nil) || (e1 == nil && len(r1) != len(r2)) {
			t.Fatalf("%x: mine %v, VK %v", in, e1, e2)
		}
	}
}

// TestParseInvokeReqDifferential mutates a full request at random and
// requires VK's server parser and ours to agree on accept/reject and on the
// query id, actor, function tag, body and extra bytes.
func TestParseInvokeReqDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	base := rpc.InvokeReq{QueryID: 5, ActorID: 7, Extra: full(), Body: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	seed := rpc.AppendInvokeReq(nil, &base)
	agreeOK, agreeErr := 0, 0
	for i := 0; i < 100000; i++ {
		in := bytes.Clone(seed)
		switch rng.IntN(4) {
		case 0:
			in = in[:rng.IntN(len(in)+1)]
		case 1:
			in[rng.IntN(len(in))] ^= byte(1 << rng.IntN(8))
		case 2: // flip a flags bit
			in[12+8+rng.IntN(4)] ^= byte(1 << rng.IntN(8))
		case 3:
			in[rng.IntN(len(in))] = byte(rng.Uint32())
		}
		var mine rpc.InvokeReq
		e1 := rpc.ParseInvokeReq(in, &mine)
		hctx := &vk.HandlerContext{Request: bytes.Clone(in)}
		e2 := hctx.ParseInvokeReq(&vk.ServerOptions{})
		if (e1 == nil) != (e2 == nil) {
			t.Fatalf("%x\nmine: %v\nVK:   %v", in, e1, e2)
		}
		if e1 != nil {
			agreeErr++
			continue
		}
		agreeOK++
		tag, _ := mine.FunctionTag()
		if mine.QueryID != hctx.QueryID() || mine.ActorID != hctx.ActorID() || tag != hctx.RequestTag() ||
			mine.TL2 != hctx.BodyFormatTL2() || !bytes.Equal(mine.Body, hctx.Request) || mine.Extra.Flags != hctx.RequestExtra.Flags {
			t.Fatalf("%x: field mismatch", in)
		}
		// VK decodes the dictionary into a map (sorted, deduplicated), so its
		// re-encoding is only comparable without bit 15.
		if mine.Extra.Flags != 0 {
			var ex []byte
			h := rpc.AppendInvokeReqHeader(nil, &mine)
			ex = h[8+4:]
			if mine.ActorID != 0 {
				ex = ex[8:]
			}
			if mine.TL2 {
				ex = ex[:len(ex)-4]
			}
			if w := hctx.RequestExtra.WriteTL1(nil); mine.Extra.Flags&rpc.FlagWaitShardsBinlogPos == 0 && !bytes.Equal(w, ex) {
				t.Fatalf("%x: extra differs\n%x\n%x", in, w, ex)
			}
		}
	}
	t.Logf("agreed: %d accepted, %d rejected", agreeOK, agreeErr)
}

func TestResultExtraVsVK(t *testing.T) {
	e := rpc.ResultExtra{
		Flags: 0x0800407f, BinlogPos: 1, BinlogTime: 2, EnginePID: rpc.NetPID{3, 4, 5},
		RequestSize: 6, ResponseSize: 7, FailedSubqueries: 8, CompressionVersion: 9,
		Stats: rpc.StringDictionary{}.Add("a", "b"), ShardsBinlogPos: rpc.LongDictionary{}.Add("s", 10),
		EpochNumber: 11, ViewNumber: 12,
	}
	hdr := rpc.AppendResultHeader(nil, 222, &e, 0xffffffff, false)
	extraBytes := hdr[12:]
	var x vk.ResponseExtra
	rest, err := x.ReadTL1(extraBytes)
	if err != nil || len(rest) != 0 {
		t.Fatalf("VK ReadTL1: %v rest %d", err, len(rest))
	}
	if w := x.WriteTL1(nil); !bytes.Equal(w, extraBytes) {
		t.Fatalf("VK re-encode differs\n%x\n%x", w, extraBytes)
	}
	_ = basictl.NatWrite
}

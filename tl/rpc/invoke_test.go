package rpc

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
)

func TestInvokeReqGolden(t *testing.T) {
	body := []byte{0xaa, 0xbb, 0xcc, 0xdd}
	timeout255 := InvokeReqExtra{Flags: FlagCustomTimeoutMs | FlagReturnViewNumber, CustomTimeoutMs: 255}
	tests := []struct {
		name string
		req  InvokeReq
		hex  string
	}{
		// wire.md §4.2 (VK's rpc_format_test vectors).
		{"plain", InvokeReq{QueryID: 222, Body: body}, "de00000000000000 aabbccdd"},
		{"actor 111", InvokeReq{QueryID: 222, ActorID: 111, Body: body},
			"de00000000000000 bdaa6875 6f00000000000000 aabbccdd"},
		{"flags bit 23 = 255 + bit 27", InvokeReq{QueryID: 222, Extra: timeout255, Body: body},
			"de00000000000000 5e0352e3 00008008 ff000000 aabbccdd"},
		{"actor and flags", InvokeReq{QueryID: 222, ActorID: 111, Extra: timeout255, Body: body},
			"de00000000000000 f7aca5f0 6f00000000000000 00008008 ff000000 aabbccdd"},
		{"TL2 marker", InvokeReq{QueryID: 222, TL2: true, Body: body},
			"de00000000000000 544c3230 aabbccdd"},
		{"actor then TL2", InvokeReq{QueryID: 222, ActorID: 111, TL2: true, Body: body},
			"de00000000000000 bdaa6875 6f00000000000000 544c3230 aabbccdd"},
		// wire.md §3.7: return_pid + custom_timeout_ms 500, function 0x12345678 with int 10.
		{"captured request", InvokeReq{
			QueryID: 0x0102030405060708,
			Extra:   InvokeReqExtra{Flags: 0x00800004, CustomTimeoutMs: 500},
			Body:    []byte{0x78, 0x56, 0x34, 0x12, 0x0a, 0, 0, 0},
		}, "08070605 04030201 5e0352e3 04008000 f4010000 78563412 0a000000"},
		{"every extra field", InvokeReq{QueryID: 1, Extra: fullExtra(), Body: body},
			"01000000 00000000 5e0352e3 " + fullExtraHex + " aabbccdd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tltest.Unhex(t, tt.hex)
			got := AppendInvokeReq(nil, &tt.req)
			if !bytes.Equal(got, want) {
				t.Fatalf("AppendInvokeReq\n got %x\nwant %x", got, want)
			}
			if n := InvokeReqHeaderSize(&tt.req); n != len(want)-len(tt.req.Body) {
				t.Fatalf("InvokeReqHeaderSize = %d, want %d", n, len(want)-len(tt.req.Body))
			}
			var parsed InvokeReq
			must(t, ParseInvokeReq(want, &parsed))
			if !reflect.DeepEqual(parsed, tt.req) {
				t.Fatalf("ParseInvokeReq\n got %+v\nwant %+v", parsed, tt.req)
			}
		})
	}
}

func TestParseInvokeReqErrors(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want error
	}{
		{"empty", "", tl.ErrTruncated},
		{"short query id", "de000000", tl.ErrTruncated},
		{"no function", "de00000000000000", ErrNoQuery},
		{"short function tag", "de00000000000000 aabb", ErrNoQuery},
		{"header without function", "de00000000000000 bdaa6875 6f00000000000000", ErrNoQuery},
		{"two actors", "de00000000000000 bdaa6875 6f00000000000000 bdaa6875 6f00000000000000 aabbccdd", ErrHeader},
		{"two extras", "de00000000000000 5e0352e3 00000000 5e0352e3 00000000 aabbccdd", ErrHeader},
		{"actor then actor+flags", "de00000000000000 bdaa6875 01000000 00000000 f7aca5f0 01000000 00000000 00000000 aabbccdd", ErrHeader},
		{"two TL2 markers", "de00000000000000 544c3230 544c3230 aabbccdd", ErrHeader},
		{"TL2 not last", "de00000000000000 544c3230 bdaa6875 6f00000000000000 aabbccdd", ErrHeader},
		{"truncated actor", "de00000000000000 bdaa6875 6f000000", tl.ErrTruncated},
		{"truncated extra", "de00000000000000 5e0352e3 00008000", tl.ErrTruncated},
		{"huge forward key count", "de00000000000000 5e0352e3 00000400 ffffffff aabbccdd", tl.ErrTruncated},
		{"huge int key count", "de00000000000000 5e0352e3 00000800 20000000 aabbccdd", tl.ErrTruncated},
		{"bad key string padding", "de00000000000000 5e0352e3 00000400 01000000 01610001 aabbccdd", tl.ErrPadding},
		{"non-canonical string_forward", "de00000000000000 5e0352e3 00001000 fe030000 61626300 aabbccdd", tl.ErrNonCanonical},
		{"bad persistent query tag", "de00000000000000 5e0352e3 00000010 aabbccdd 00000000 00000000 00000000 00000000", tl.ErrTag},
		{"huge dictionary count", "de00000000000000 5e0352e3 00800000 ffffff7f aabbccdd", tl.ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req InvokeReq
			err := ParseInvokeReq(tltest.Unhex(t, tt.hex), &req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if c := ErrorOf(err).Code; c != CodeHeader {
				t.Fatalf("ErrorOf code %d, want %d", c, CodeHeader)
			}
		})
	}
}

// TestParseInvokeReqPrefixes cuts a request with every extra field at every
// length: each cut inside the envelope must fail cleanly, each cut inside the
// body must parse with a shorter body.
func TestParseInvokeReqPrefixes(t *testing.T) {
	full := tltest.Unhex(t, "01000000 00000000 f7aca5f0 6f000000 00000000 "+fullExtraHex+" aabbccdd 11223344")
	headerLen := len(full) - 8
	for n := range len(full) {
		var req InvokeReq
		err := ParseInvokeReq(full[:n], &req)
		switch {
		case n < headerLen+4 && err == nil:
			t.Fatalf("prefix %d of %d parsed", n, len(full))
		case n >= headerLen+4 && err != nil:
			t.Fatalf("prefix %d: %v", n, err)
		case n >= headerLen+4 && len(req.Body) != n-headerLen:
			t.Fatalf("prefix %d: body %d bytes", n, len(req.Body))
		}
	}
}

// TestRewrite is the proxy's path: route by the first forward key, drop it,
// clear no_result, override the timeout, swap the query id, strip the actor,
// and forward the body untouched.
func TestRewrite(t *testing.T) {
	in := tltest.Unhex(t, ""+
		"de00000000000000"+ // query_id 222
		"f7aca5f0 6f00000000000000"+ // rpcDestActorFlags actor 111
		"84008400"+ // flags: return_pid, no_result, string_forward_keys, custom_timeout_ms
		"02000000 026b3100 046b6579 32000000"+ // ["k1", "key2"]
		"f4010000"+ // 500 ms
		"ae133bd3 03666f6f") // memcache.get "foo"
	orig := bytes.Clone(in)

	var req InvokeReq
	must(t, ParseInvokeReq(in, &req))
	key, ok := req.Extra.FirstStringForwardKey()
	if !ok || string(key) != "k1" {
		t.Fatalf("first key %q %v", key, ok)
	}
	if !req.Extra.NoResult() {
		t.Fatal("no_result not parsed")
	}
	if !req.Extra.DropFirstForwardKey() {
		t.Fatal("nothing dropped")
	}
	req.Extra.ClearNoResult()
	req.Extra.SetCustomTimeoutMs(100)
	req.QueryID = 999
	req.StripActor()

	out := AppendInvokeReqHeader(nil, &req)
	want := tltest.Unhex(t, ""+
		"e703000000000000"+ // query_id 999
		"5e0352e3"+ // rpcDestFlags
		"04008400"+ // flags: return_pid, string_forward_keys, custom_timeout_ms
		"01000000 046b6579 32000000"+ // ["key2"]
		"64000000") // 100 ms
	if !bytes.Equal(out, want) {
		t.Fatalf("header\n got %x\nwant %x", out, want)
	}
	if !bytes.Equal(req.Body, tltest.Unhex(t, "ae133bd3 03666f6f")) {
		t.Fatalf("body %x", req.Body)
	}
	if !bytes.Equal(in, orig) {
		t.Fatal("rewrite modified the input buffer")
	}

	// Dropping the last key keeps an empty vector; timeout 0 clears the bit.
	req.Extra.DropFirstForwardKey()
	if req.Extra.DropFirstForwardKey() {
		t.Fatal("dropped from an empty vector")
	}
	req.Extra.SetCustomTimeoutMs(0)
	out = AppendInvokeReqHeader(out[:0], &req)
	if want := tltest.Unhex(t, "e703000000000000 5e0352e3 04000400 00000000"); !bytes.Equal(out, want) {
		t.Fatalf("header\n got %x\nwant %x", out, want)
	}
}

func TestExtraAccessors(t *testing.T) {
	e := fullExtra()
	if !slices.Equal(slices.Collect(e.IntForwardKeys.All()), []int64{1, -1}) {
		t.Fatal("int keys")
	}
	var keys []string
	for k := range e.StringForwardKeys.All() {
		keys = append(keys, string(k))
	}
	if !slices.Equal(keys, []string{"k1", "key2"}) {
		t.Fatalf("string keys %q", keys)
	}
	for k, v := range e.WaitShardsBinlogPos.All() {
		if string(k) != "s" || v != 5 {
			t.Fatalf("dict %q=%d", k, v)
		}
	}
	if ms, ok := e.Timeout(); !ok || ms != 500 {
		t.Fatalf("timeout %d %v", ms, ok)
	}
	if k, ok := e.FirstIntForwardKey(); !ok || k != 1 {
		t.Fatalf("first int key %d %v", k, ok)
	}
	if k, ok := e.DropFirstIntForwardKey(); !ok || k != 1 || e.IntForwardKeys.Len() != 1 {
		t.Fatalf("drop int key %d %v", k, ok)
	}
	var none InvokeReqExtra
	if _, ok := none.FirstStringForwardKey(); ok {
		t.Fatal("key without the bit")
	}
	if none.DropFirstForwardKey() {
		t.Fatal("dropped without the bit")
	}
	if _, ok := none.Timeout(); ok {
		t.Fatal("timeout without the bit")
	}
}

// TestUnknownFlagsVerbatim keeps bits the schema does not know (17, 22, 24,
// 31 and the True bits) through parse and append.
func TestUnknownFlagsVerbatim(t *testing.T) {
	in := tltest.Unhex(t, "de00000000000000 5e0352e3 ff7d4289 aabbccdd")
	var req InvokeReq
	must(t, ParseInvokeReq(in, &req))
	if req.Extra.Flags != 0x89427dff || !bytes.Equal(AppendInvokeReq(nil, &req), in) {
		t.Fatalf("flags %#x, out %x", req.Extra.Flags, AppendInvokeReq(nil, &req))
	}
}

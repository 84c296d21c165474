package rpc

import (
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
)

// benchRequest is a proxy-typical request: actor, string forward keys,
// a timeout, no_result, and a memcache.get body.
func benchRequest(b *testing.B) []byte {
	b.Helper()
	return tltest.Unhex(b, ""+
		"de00000000000000"+
		"f7aca5f0 6f00000000000000"+
		"84008400"+
		"02000000 026b3100 046b6579 32000000"+
		"f4010000"+
		"ae133bd3 03666f6f")
}

func BenchmarkParseInvokeReq(b *testing.B) {
	in := benchRequest(b)
	var req InvokeReq
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := ParseInvokeReq(in, &req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRewriteInvokeReq is the proxy's whole request path through this
// package: parse, read and drop the routing key, adjust, write the new
// header into a reused buffer.
func BenchmarkRewriteInvokeReq(b *testing.B) {
	in := benchRequest(b)
	var req InvokeReq
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := ParseInvokeReq(in, &req); err != nil {
			b.Fatal(err)
		}
		if _, ok := req.Extra.FirstStringForwardKey(); !ok {
			b.Fatal("no key")
		}
		req.Extra.DropFirstForwardKey()
		req.Extra.ClearNoResult()
		req.Extra.SetCustomTimeoutMs(100)
		req.QueryID = 999
		req.StripActor()
		buf = AppendInvokeReqHeader(buf[:0], &req)
		buf = append(buf, req.Body...)
	}
}

func BenchmarkParseRewriteResult(b *testing.B) {
	in := tltest.Unhex(b, "de00000000000000 e14cc88c 04000000 0100007f 2b000000 05000000 1abbbea6 03626172 01000000")
	var res ReqResult
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseResult(TypeReqResult, in, &res); err != nil {
			b.Fatal(err)
		}
		res.QueryID = 999
		buf = AppendResult(buf[:0], &res, FlagReturnPid)
	}
}

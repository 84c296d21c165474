package rpc

import (
	"bytes"
	"math"
	"reflect"
	"testing"
)

// FuzzParseInvokeReq: parse -> append -> parse again must give the same
// request, and appending that must give the same bytes (writers are
// canonical). The body must be a suffix of the input, never a copy.
func FuzzParseInvokeReq(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		var req InvokeReq
		if err := ParseInvokeReq(in, &req); err != nil {
			if req2 := ErrorOf(err); req2.Code != CodeHeader {
				t.Fatalf("parse error maps to %d: %v", req2.Code, err)
			}
			return
		}
		if len(req.Body) < 4 || !bytes.HasSuffix(in, req.Body) || &req.Body[len(req.Body)-1] != &in[len(in)-1] {
			t.Fatalf("body %x is not an aliasing suffix of the input", req.Body)
		}
		out := AppendInvokeReq(nil, &req)
		if n := InvokeReqHeaderSize(&req); n != len(out)-len(req.Body) {
			t.Fatalf("InvokeReqHeaderSize %d, header %d", n, len(out)-len(req.Body))
		}
		var req2 InvokeReq
		if err := ParseInvokeReq(out, &req2); err != nil {
			t.Fatalf("re-parse of %x: %v", out, err)
		}
		if out2 := AppendInvokeReq(nil, &req2); !bytes.Equal(out, out2) {
			t.Fatalf("second append differs\n%x\n%x", out, out2)
		}
		if math.Float64bits(req.Extra.RandomDelay) != math.Float64bits(req2.Extra.RandomDelay) {
			t.Fatal("random_delay bits changed")
		}
		req.Extra.RandomDelay, req2.Extra.RandomDelay = 0, 0 // NaN != NaN for DeepEqual
		if !reflect.DeepEqual(req, req2) {
			t.Fatalf("round trip\n got %+v\nwant %+v", req2, req)
		}
	})
}

// FuzzParseResult: anything accepted re-encodes (with every extra flag
// requested) to a result that parses to the same answer.
func FuzzParseResult(f *testing.F) {
	f.Fuzz(func(t *testing.T, typ uint32, in []byte) {
		var res ReqResult
		if err := ParseResult(typ, in, &res); err != nil {
			return
		}
		out := AppendResult(nil, &res, math.MaxUint32)
		var res2 ReqResult
		if err := ParseResult(TypeReqResult, out, &res2); err != nil {
			t.Fatalf("re-parse of %x: %v", out, err)
		}
		if res.QueryID != res2.QueryID || res.IsError() != res2.IsError() ||
			!reflect.DeepEqual(res.Extra, res2.Extra) {
			t.Fatalf("round trip\n got %+v\nwant %+v", res2, res)
		}
		if res.IsError() {
			want := res.ErrorCode
			if want == 0 {
				want = CodeUnknown
			}
			if res2.ErrorForm != ErrorFormNested || res2.ErrorCode != want || !bytes.Equal(res.ErrorText, res2.ErrorText) {
				t.Fatalf("error round trip\n got %+v\nwant %+v", res2, res)
			}
			return
		}
		if res.TL2 != res2.TL2 || !bytes.Equal(res.Body, res2.Body) {
			t.Fatalf("result round trip\n got %+v\nwant %+v", res2, res)
		}
	})
}

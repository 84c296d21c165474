package rpc

import (
	"fmt"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
)

// TestZeroAlloc pins the hot-path guarantee of doc.go: parsing and rewriting
// a request and a result allocate nothing.
func TestZeroAlloc(t *testing.T) {
	in := tltest.Unhex(t, "de00000000000000 f7aca5f0 6f00000000000000 84008400 "+
		"02000000 026b3100 046b6579 32000000 f4010000 ae133bd3 03666f6f")
	resIn := tltest.Unhex(t, "de00000000000000 e14cc88c 04000000 0100007f 2b000000 05000000 b5757299")
	var req InvokeReq
	var res ReqResult
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		if err := ParseInvokeReq(in, &req); err != nil {
			t.Fatal(err)
		}
		req.Extra.DropFirstForwardKey()
		req.Extra.SetCustomTimeoutMs(100)
		if InvokeReqHeaderSize(&req) > cap(buf) {
			t.Fatal("buffer too small")
		}
		buf = AppendInvokeReq(buf[:0], &req)
		for range req.Extra.StringForwardKeys.All() {
		}
		if err := ParseResult(TypeReqResult, resIn, &res); err != nil {
			t.Fatal(err)
		}
		buf = AppendResult(buf[:0], &res, FlagReturnPid)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
}

// TestErrorOfAlloc: an *Error (the proxy's fail-fast answers are built
// once per engine) is mapped without allocating; a wrapped one is still
// found.
func TestErrorOfAlloc(t *testing.T) {
	var err error = &Error{Code: CodeNoConnections, Description: "engine down"}
	if n := testing.AllocsPerRun(100, func() { _ = ErrorOf(err) }); n != 0 {
		t.Fatalf("%v allocations per ErrorOf", n)
	}
	if got := ErrorOf(fmt.Errorf("wrapped: %w", err)); got.Code != CodeNoConnections || got.Description != "engine down" {
		t.Fatalf("wrapped: %+v", got)
	}
}

func TestUnwrapDiagonal(t *testing.T) {
	tests := []struct {
		name  string
		hex   string
		inner string
		ok    bool
	}{
		{"diagonal memcache.get", "c394ebbc ae133bd3 03666f6f", "ae133bd3 03666f6f", true},
		{"not diagonal", "ae133bd3 03666f6f", "", false},
		{"diagonal without call", "c394ebbc", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner, ok := UnwrapDiagonal(tltest.Unhex(t, tt.hex))
			if ok != tt.ok || string(inner) != string(tltest.Unhex(t, tt.inner)) {
				t.Fatalf("got %x %v", inner, ok)
			}
		})
	}
}

func TestCheckTL2(t *testing.T) {
	tests := []struct {
		name       string
		res        ReqResult
		requestTL2 bool
		wantErr    bool
	}{
		{"TL1 both", ReqResult{}, false, false},
		{"TL2 both", ReqResult{TL2: true}, true, false},
		{"TL2 request, no marker", ReqResult{}, true, true},
		{"TL1 request, marker", ReqResult{TL2: true}, false, true},
		{"TL2 request, error", ReqResult{ErrorForm: ErrorFormNested}, true, false},
	}
	for _, tt := range tests {
		if err := tt.res.CheckTL2(tt.requestTL2); (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
}

package enginetest

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// Call runs one function call (tag first) through funcs, as engines.Server
// would, and returns the answer or the TL error. It fails the test when no
// function has the call's tag.
func Call(t testing.TB, funcs []engines.Func, body []byte) ([]byte, *rpc.Error) {
	t.Helper()
	tag, args, err := tl.ReadUint32(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range funcs {
		if f.Tag == tag {
			out, err := f.Call(args, nil)
			if err != nil {
				var e *rpc.Error
				switch {
				case errors.As(err, &e):
					return nil, e
				case errors.Is(err, engines.ErrExtraData):
					return nil, &rpc.Error{Code: rpc.CodeExtraData, Description: err.Error()}
				default:
					return nil, &rpc.Error{Code: rpc.CodeSyntax, Description: err.Error()}
				}
			}
			return out, nil
		}
	}
	t.Fatalf("no function %08x", tag)
	return nil, nil
}

// Unhex decodes a hex byte vector written with spaces between groups, as
// the golden vectors in tl.md are.
func Unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

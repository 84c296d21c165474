package rpc

import (
	"bytes"
	"errors"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
)

func TestCancelReq(t *testing.T) {
	body := AppendCancelReq(nil, 222)
	if !bytes.Equal(body, tltest.Unhex(t, "de00000000000000")) {
		t.Fatalf("body %x", body)
	}
	// wire.md §5.6: over UDP the tag comes first; VK's Go client omits it.
	if msg := AppendMessage(nil, TypeCancelReq, body); !bytes.Equal(msg, tltest.Unhex(t, "221b3f19 de00000000000000")) {
		t.Fatalf("message %x", msg)
	}
	id, err := ParseCancelReq(body)
	if err != nil || id != 222 {
		t.Fatalf("got %d, %v", id, err)
	}
	if _, err := ParseCancelReq(body[:7]); !errors.Is(err, tl.ErrTruncated) {
		t.Fatalf("short: %v", err)
	}
	if _, err := ParseCancelReq(append(body, 0, 0, 0, 0)); !errors.Is(err, ErrTrailing) {
		t.Fatalf("long: %v", err)
	}
}

func TestMessages(t *testing.T) {
	typ, body, err := SplitMessage(tltest.Unhex(t, "3ddf7423 de00000000000000"))
	if err != nil || typ != TypeInvokeReq || len(body) != 8 {
		t.Fatalf("SplitMessage = %#x %x %v", typ, body, err)
	}
	if _, _, err := SplitMessage([]byte{1}); !errors.Is(err, tl.ErrTruncated) {
		t.Fatalf("short: %v", err)
	}
	if ParseEmpty(nil) != nil || !errors.Is(ParseEmpty([]byte{0}), ErrTrailing) {
		t.Fatal("ParseEmpty")
	}
	names := map[uint32]string{
		TypeInvokeReq: "rpcInvokeReq", TypeReqResult: "rpcReqResult", TypeReqResultError: "rpcReqResultError",
		TypeCancelReq: "rpcCancelReq", TypeServerWantsFin: "rpcServerWantsFin", TypeClientWantsFin: "rpcClientWantsFin",
		TypePing: "rpcPing", TypePong: "rpcPong", 0x12345678: "",
	}
	for typ, want := range names {
		if got := TypeName(typ); got != want {
			t.Errorf("TypeName(%#x) = %q, want %q", typ, got, want)
		}
	}
}

package server

import (
	"bytes"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoldenExchange replays the request of wire.md §3.7 (a VK Go client
// capture: rpcDestFlags 0x00800004, custom_timeout_ms 500) and checks the
// answer frame byte for byte against the captured VK server answer.
func TestGoldenExchange(t *testing.T) {
	leakCheck(t)
	ts := startServer(t, Config{Handler: echo})
	c := dial(t, ts.addr, packet.Config{})
	qid := "0807060504030201"
	req := unhex(t, qid+"5e0352e3 04008000 f4010000 78563412 0a000000")
	if err := c.pc.WritePacket(rpc.TypeInvokeReq, nil, req); err != nil {
		t.Fatal(err)
	}
	// Read the raw frame: the packet client has no reader running.
	want := frame(0, rpc.TypeReqResult, unhex(t, qid+"78563412 0a000000"))
	if !bytes.HasPrefix(want, unhex(t, "20000000 00000000 4edaae63")) {
		t.Fatalf("test frame % x", want)
	}
	got := make([]byte, len(want))
	_ = c.nc.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.ReadFull(c.nc, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("answer frame\n got % x\nwant % x", got, want)
	}
}

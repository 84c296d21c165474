package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/engines/enginetest"
	"github.com/rpcproxy/rpcproxy/engines/events"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

// TestRunEvents: -kind events serves events.tl: an add answers id 1 and
// search finds the event; ctx's end exits 0.
func TestRunEvents(t *testing.T) {
	defer goleak.VerifyNone(t)
	addr, stop, stderr := startRun(t, "-kind", "events", "-listen", "127.0.0.1:0")
	cl, err := client.New(addr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := ctxWait(t)
	var resp client.Response
	add := tl.AppendString(tl.AppendUint32(nil, events.TagAdd), "user1")
	add = tl.AppendString(tl.AppendInt64(add, 1000), "hello")
	if err := cl.Do(ctx, &client.Request{Body: add}, &resp); err != nil || !bytes.Equal(resp.Body, tl.AppendInt64(tl.AppendUint32(nil, tl.TagLong), 1)) {
		t.Fatalf("add: %x %v", resp.Body, err)
	}
	search := tl.AppendInt32(tl.AppendString(tl.AppendUint32(nil, events.TagSearch), "ell"), 10)
	// Vector of one events.event id=1 ts=1000 key="user1" text="hello".
	want := "15c4b51c 01000000 663cf41d 0100000000000000 e803000000000000 05757365 72310000 0568656c 6c6f0000"
	if err := cl.Do(ctx, &client.Request{Body: search}, &resp); err != nil || !bytes.Equal(resp.Body, enginetest.Unhex(t, want)) {
		t.Fatalf("search: %x %v, want %s", resp.Body, err, want)
	}
	_ = cl.Close()
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, stderr.String())
	}
	if want := `msg="engine started" kind=events addr=` + addr; !strings.Contains(stderr.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, stderr.String())
	}
}

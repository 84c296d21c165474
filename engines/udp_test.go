package engines_test

import (
	"bytes"
	"testing"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

// TestListenUDP: the same engine answers over TCP and, on the TCP port,
// over UDP; Shutdown ends both.
func TestListenUDP(t *testing.T) {
	leakCheck(t)
	key := []byte("0123456789abcdef0123456789abcdef-engines")
	e := startEngine(t, engines.Config{})
	ua, err := e.ListenUDP(e.addr, key, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ua.String() != e.addr {
		t.Fatalf("UDP on %v, want the TCP address %s", ua, e.addr)
	}
	opts := client.Options{Network: "udp"}
	opts.Packet.Key = key
	cl, err := client.New(ua.String(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := ctxWait(t)
	var resp client.Response
	for _, s := range []string{"udp", "again"} {
		if err := cl.Do(ctx, &client.Request{Body: echo(s)}, &resp); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(resp.Body, echoAnswer(s)) {
			t.Fatalf("UDP echo %q: %x", s, resp.Body)
		}
	}
	if _, err := e.do(ctx, echo("tcp")); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

package engines_test

import (
	"bytes"
	"testing"
	"time"

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
	cl := udpClient(t, ua.String(), key)
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

// TestListenUDPParks: a UDP peer idle for idleAfter is parked, and its
// next call revives it; engine.stat shows both.
func TestListenUDPParks(t *testing.T) {
	leakCheck(t)
	key := []byte("0123456789abcdef0123456789abcdef-engines")
	e := startEngine(t, engines.Config{})
	ua, err := e.ListenUDP("127.0.0.1:0", key, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	cl := udpClient(t, ua.String(), key)
	ctx := ctxWait(t)
	var resp client.Response
	if err := cl.Do(ctx, &client.Request{Body: echo("before")}, &resp); err != nil {
		t.Fatal(err)
	}
	waitStatFor(t, e, "udp_parked", "1")
	if st := e.Stats(); st["udp_conns"] != "0" || st["udp_dormant"] != "1" {
		t.Fatalf("parked: udp_conns %s, udp_dormant %s; want 0 and 1", st["udp_conns"], st["udp_dormant"])
	}
	if err := cl.Do(ctx, &client.Request{Body: echo("after")}, &resp); err != nil || !bytes.Equal(resp.Body, echoAnswer("after")) {
		t.Fatalf("call after the park: %v", err)
	}
	if st := e.Stats(); st["udp_revived"] != "1" || st["udp_resets"] != "0" {
		t.Fatalf("revived %s, resets %s; want 1 and 0", st["udp_revived"], st["udp_resets"])
	}
}

// waitStatFor polls engine.stat (in-process) until key = want, for what
// changes on the transport's timers rather than on a request.
func waitStatFor(t *testing.T, e *engine, key, want string) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for e.Stats()[key] != want {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("stat %s never became %s (now %q)", key, want, e.Stats()[key])
		}
	}
}

// udpClient is our client to addr over UDP with key, closed when the test
// ends.
func udpClient(t *testing.T, addr string, key []byte) *client.Client {
	t.Helper()
	opts := client.Options{Network: "udp"}
	opts.Packet.Key = key
	cl, err := client.New(addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

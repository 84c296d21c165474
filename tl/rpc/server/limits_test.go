package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	rpcclient "github.com/rpcproxy/rpcproxy/tl/rpc/client"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// TestSharedLimits: two servers sharing one Limits count connections
// together: with a cap of 2 and both taken on server a, a connection to
// server b is refused. Set raises the cap while both run, and b admits
// the next one.
func TestSharedLimits(t *testing.T) {
	leakCheck(t)
	lim, err := NewLimits(LimitValues{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	a := startServer(t, Config{Handler: echo, Limits: lim})
	b := startServer(t, Config{Handler: echo, Limits: lim})
	for i := range 2 {
		dial(t, a.addr, packet.Config{}).call(&rpc.InvokeReq{QueryID: int64(i + 1), Body: fn(tagEcho)})
	}
	if n := lim.Conns(); n != 2 {
		t.Fatalf("%d connections counted, want 2", n)
	}
	refused := func() bool {
		nc, err := (&netDialer{}).dial(b.addr)
		if err != nil {
			t.Fatal(err)
		}
		pc, err := packet.ClientHandshake(nc, packet.Config{PacketTimeout: wait})
		if err != nil {
			return true
		}
		c := &client{t: t, nc: nc, pc: pc}
		t.Cleanup(func() { _ = pc.Close() })
		c.call(&rpc.InvokeReq{QueryID: 9, Body: fn(tagEcho)})
		return false
	}
	if !refused() {
		t.Fatal("server b admitted a third connection over the shared cap of 2")
	}
	if !strings.Contains(b.log.String(), "MaxConns reached") || b.stats.connsRejected.Load() != 1 {
		t.Fatalf("rejection not logged or counted on b:\n%s", b.log.String())
	}
	if err := lim.Set(LimitValues{MaxConns: 3}); err != nil {
		t.Fatal(err)
	}
	if refused() {
		t.Fatal("server b refused a connection after the cap was raised to 3")
	}
	if got := b.Stats(nil)["max_conns"]; got != "3" {
		t.Fatalf("engine.stat max_conns %q, want 3", got)
	}
	if got, ok := b.Stats(nil)["udp_conns"]; ok {
		t.Fatalf("engine.stat of a TCP-only server has udp_conns = %q", got)
	}
}

// TestLimitsSetGrantsWaiters: a reader waiting for request bytes is let
// in by a raised cap, with no reply freeing anything; a cap lowered below
// a request's size leaves it served once nothing else is in flight, not
// stranded.
func TestLimitsSetGrantsWaiters(t *testing.T) {
	leakCheck(t)
	lim, err := NewLimits(LimitValues{MaxRequestBytes: 2 * (requestOverhead + 100)})
	if err != nil {
		t.Fatal(err)
	}
	h := newHolder()
	waited := make(chan struct{}, 1)
	ts := startServer(t, Config{Handler: h, Limits: lim}, func(s *Server) { s.lim.sem.onWait = signal(waited) })
	c := dial(t, ts.addr, packet.Config{})
	body := fn(tagEcho, make([]byte, 80)...)
	for i := range 3 {
		c.send(&rpc.InvokeReq{QueryID: int64(i + 1), Body: body})
	}
	held := []*Request{recv(t, h.reqs, "request 1"), recv(t, h.reqs, "request 2")}
	recv(t, waited, "reader to wait")
	if err := lim.Set(LimitValues{MaxRequestBytes: 3 * (requestOverhead + 100)}); err != nil {
		t.Fatal(err)
	}
	held = append(held, recv(t, h.reqs, "request 3 after the cap was raised"))

	// Lowered below one request: the next waits until all three are
	// answered, then is served alone.
	if err := lim.Set(LimitValues{MaxRequestBytes: requestOverhead}); err != nil {
		t.Fatal(err)
	}
	c.send(&rpc.InvokeReq{QueryID: 4, Body: body})
	recv(t, waited, "reader to wait under the lowered cap")
	for _, r := range held {
		r.Reply(fn(tagEcho))
	}
	recv(t, h.reqs, "request 4, alone under a cap below its size").Reply(fn(tagEcho))
	for range 4 {
		c.result()
	}
	checkDrained(t, ts.Server)
}

// TestLimitsConfig: Limits replaces MaxConns and MaxRequestBytes, which
// must then stay zero, and Set refuses what New would.
func TestLimitsConfig(t *testing.T) {
	lim, err := NewLimits(LimitValues{})
	if err != nil {
		t.Fatal(err)
	}
	if lim.MaxConns() != DefaultMaxConns || lim.MaxRequestBytes() != DefaultMaxRequestBytes || lim.Budget().Limit() != 0 {
		t.Fatalf("defaults: %d conns, %d bytes, budget %d", lim.MaxConns(), lim.MaxRequestBytes(), lim.Budget().Limit())
	}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"MaxConns too", Config{Handler: echo, Limits: lim, MaxConns: 5}},
		{"MaxRequestBytes too", Config{Handler: echo, Limits: lim, MaxRequestBytes: 1 << 20}},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), "must be zero when Limits is set") {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	for _, bad := range []LimitValues{{MaxConns: -1}, {MaxRequestBytes: -1}, {MaxRequestBytes: 10}, {MaxHeldBytes: -1}, {MaxPacketLen: -1}} {
		if err := lim.Set(bad); err == nil {
			t.Errorf("Set(%+v) accepted", bad)
		}
		if err := bad.Check(); err == nil {
			t.Errorf("Check(%+v) passed", bad)
		}
	}
	if lim.MaxConns() != DefaultMaxConns || lim.MaxRequestBytes() != DefaultMaxRequestBytes {
		t.Fatal("a refused Set changed the limits")
	}
}

// TestLimitsPacketLen: a packet cap set while the server runs applies to
// connections accepted after it; one accepted before keeps its own.
func TestLimitsPacketLen(t *testing.T) {
	leakCheck(t)
	lim, err := NewLimits(LimitValues{})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{Handler: echo, Limits: lim})
	before := dial(t, ts.addr, packet.Config{})
	if err := lim.Set(LimitValues{MaxPacketLen: 4096}); err != nil {
		t.Fatal(err)
	}
	after := dial(t, ts.addr, packet.Config{})
	big := fn(tagEcho, make([]byte, 8192)...)
	if res := before.call(&rpc.InvokeReq{QueryID: 1, Body: big}); res.IsError() {
		t.Fatalf("8 KiB request on a connection older than the cap: error %d %s", res.ErrorCode, res.ErrorText)
	}
	after.call(&rpc.InvokeReq{QueryID: 2, Body: fn(tagEcho)})
	after.send(&rpc.InvokeReq{QueryID: 3, Body: big})
	if err := after.waitClosed(); err == nil {
		t.Fatal("8 KiB request over a 4 KiB packet cap: connection not closed")
	}
}

// TestLimitsPacketLenUDP: over UDP a request over the packet cap is
// answered with QUERY_INCORRECT naming both sizes, and the connection goes
// on; the cap is read per request, so raising it admits the same request
// on the same connection at once.
func TestLimitsPacketLenUDP(t *testing.T) {
	leakCheck(t)
	lim, err := NewLimits(LimitValues{MaxPacketLen: 4096})
	if err != nil {
		t.Fatal(err)
	}
	log := &logSink{}
	s, _, addr, _ := startUDPServerWith(t, Config{Handler: echo, Limits: lim, Logger: log.logger()}, udp.Config{})
	cl := udpClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	const max = 4096 - (packet.MaxPacketLen - packet.MaxBodyLen)
	// The first answer tells the envelope's size (query id, extra), so
	// that the next requests can be cut at the cap to the byte.
	var resp rpcclient.Response
	big := fn(tagEcho, make([]byte, 8192)...)
	err = cl.Do(ctx, &rpcclient.Request{Body: big}, &resp)
	var re *rpc.Error
	var n, cap int
	if !errors.As(err, &re) || re.Code != rpc.CodeQueryIncorrect {
		t.Fatalf("8 KiB over a 4 KiB cap: err %v, want QUERY_INCORRECT", err)
	}
	if _, err := fmt.Sscanf(re.Description, "rpc/server: request of %d bytes is over this server's cap of %d bytes per request", &n, &cap); err != nil || cap != max || n <= len(big) {
		t.Fatalf("description %q: %v; want the request's size and the cap %d", re.Description, err, max)
	}
	envelope := n - len(big)
	for _, tc := range []struct {
		name string
		body []byte
		over bool
	}{
		{"at the cap", make([]byte, max-envelope), false},
		{"one byte over", make([]byte, max-envelope+1), true},
		{"small after", fn(tagEcho, 1, 2, 3, 4), false},
	} {
		copy(tc.body, fn(tagEcho))
		err := cl.Do(ctx, &rpcclient.Request{Body: tc.body}, &resp)
		switch {
		case !tc.over && (err != nil || !bytes.Equal(resp.Body, tc.body)):
			t.Fatalf("%s: err %v, %d bytes back, want the echo of %d", tc.name, err, len(resp.Body), len(tc.body))
		case tc.over && (!errors.As(err, &re) || re.Code != rpc.CodeQueryIncorrect || !strings.Contains(re.Description, fmt.Sprint(max+1))):
			t.Fatalf("%s: err %v, want QUERY_INCORRECT for %d bytes", tc.name, err, max+1)
		}
	}
	// A request leaves Active after its answer is written: the client may
	// have it first.
	pollUntil(t, "the last request released", func() bool { return s.Counters().Active == 0 })
	if c := s.Counters(); c.Oversized != 2 || c.ConnsTotal != 1 || c.Requests != 4 {
		t.Fatalf("counters %+v: want 2 oversized of 4 requests on 1 connection", c)
	}
	// Logged under a count of its own (once a second at most).
	if l := log.String(); !strings.Contains(l, "UDP request over the size cap") || !strings.Contains(l, "oversized_since_last_log=0") || strings.Contains(l, "malformed_since_last_log") {
		t.Fatalf("log: want the refusals logged under their own count:\n%s", l)
	}
	if err := lim.Set(LimitValues{MaxPacketLen: 16 << 10}); err != nil {
		t.Fatal(err)
	}
	if err := cl.Do(ctx, &rpcclient.Request{Body: big}, &resp); err != nil || !bytes.Equal(resp.Body, big) {
		t.Fatalf("8 KiB after raising the cap: err %v, %d bytes back", err, len(resp.Body))
	}
}

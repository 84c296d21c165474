package upstream

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/health"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

var udpTestKey = []byte("0123456789abcdef0123456789abcdef-upstream")

// udpEngine is an echo engine (engine.pid built in) served over UDP on
// addr ("127.0.0.1:0" for a new port); stop closes it.
func udpEngine(t *testing.T, addr string) (string, func()) {
	t.Helper()
	ua, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	sock, err := net.ListenUDP("udp4", ua)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := udp.New(sock, udp.Config{Keys: [][]byte{udpTestKey}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Handler: server.SyncFunc(func(r *server.Request, dst []byte) ([]byte, error) { return append(dst, r.Body...), nil }),
		Engine:  server.EngineConfig{Enabled: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeUDP(tr) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = srv.Close()
		if err := <-served; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("ServeUDP: %v", err)
		}
	}
	t.Cleanup(stop)
	return sock.LocalAddr().String(), stop
}

// TestUDPEngineHealth: a UDP engine answers through the pool's shared
// Transport; stopped, its calls time out and it goes down after
// ConsecutiveTimeouts (no connect step tells earlier); started again on
// the same port, a probe brings it back.
func TestUDPEngineHealth(t *testing.T) {
	clk := newClock()
	changes := make(chan health.State, 16)
	p := NewPool(Options{Tick: time.Millisecond, Now: clk.Now, UDPKey: udpTestKey,
		OnChange: func(_ *Engine, c health.Change, _ error) { changes <- c.State }})
	t.Cleanup(p.Close)
	addr, stop := udpEngine(t, "127.0.0.1:0")
	e := p.AcquireUDP(addr, settings(), health.NewGroup(1, 1))
	waitReady(t, e)
	if !e.UDP() || !e.Connected() {
		t.Fatalf("UDP %v connected %v", e.UDP(), e.Connected())
	}
	send := func() *logCall {
		t.Helper()
		c := newCall()
		now := clk.Now()
		if err := e.Send(c, make([]byte, 8), call(0x12345678, "k"), now, now.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	body := call(0x12345678, "k")
	if r := send().wait(t); r.err != nil || !bytes.Equal(r.body[8:], body) {
		t.Fatalf("answer %x, %v", r.body, r.err)
	}

	stop()
	for i := range settings().ConsecutiveTimeouts {
		c := send()
		clk.Advance(2 * time.Second) // past the deadline: the ticker fails it
		if r := c.wait(t); r.err != e.errs.timeout {
			t.Fatalf("call %d after stop: %v, want the timeout error", i, r.err)
		}
	}
	waitState(t, changes, health.StateDown)

	udpEngine(t, addr)
	// Probes run while the clock passes their time; the ticker starts them.
	deadline := time.After(10 * time.Second)
	for e.Health().State() != health.StateUp {
		clk.Advance(5 * time.Second)
		select {
		case s := <-changes:
			if s == health.StateUp {
				continue
			}
		case <-deadline:
			t.Fatal("the probe never brought the engine back")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if r := send().wait(t); r.err != nil || !bytes.Equal(r.body[8:], body) {
		t.Fatalf("after recovery: %x, %v", r.body, r.err)
	}
}

func waitState(t *testing.T, changes <-chan health.State, want health.State) {
	t.Helper()
	for {
		select {
		case s := <-changes:
			if s == want {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("engine never became %v", want)
		}
	}
}

package upstream

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/rpcproxy/health"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// TestEarlierDeadlineSentLater: the sweeper skips scans until the earliest
// deadline, so a call sent later with an earlier deadline must still move
// that point forward and time out first; the other one times out at its own.
func TestEarlierDeadlineSentLater(t *testing.T) {
	eng, err := enginetest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	eng.Handler = func(r *enginetest.Request) enginetest.Reply { return enginetest.Reply{Drop: true} }
	clk := newClock()
	p := startPool(t, clk)
	e := p.Acquire(eng.Addr, settings(), health.NewGroup(1, 0.5))
	waitReady(t, e)
	late, early := newCall(), newCall()
	now := clk.Now()
	if err := e.Send(late, make([]byte, 8), call(1, "late"), now, now.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := e.Send(early, make([]byte, 8), call(1, "early"), now, now.Add(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(101 * time.Millisecond)
	wantTimeout(t, early.wait(t).err)
	if n := e.Pending(); n != 1 {
		t.Fatalf("%d pending after the first timeout, want 1", n)
	}
	clk.Advance(10 * time.Second)
	wantTimeout(t, late.wait(t).err)
}

func wantTimeout(t *testing.T, err error) {
	t.Helper()
	var re *rpc.Error
	if !errors.As(err, &re) || re.Code != rpc.CodeQueryTimeout {
		t.Fatalf("ended with %v, want QUERY_TIMEOUT", err)
	}
}

// TestSendFailsFastWhenEngineNotReading: an engine that handshakes and
// then never reads fills the connection's QueueLimit; Send then fails at
// once with NO_CONNECTIONS naming the engine instead of waiting, and the
// calls refused are not left pending.
func TestSendFailsFastWhenEngineNotReading(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan *packet.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		pc, err := packet.ServerHandshake(nc, packet.Config{})
		if err != nil {
			close(accepted)
			return
		}
		accepted <- pc // never read
	}()
	p := NewPool(Options{Tick: time.Millisecond, DialTimeout: 2 * time.Second, QueueLimit: 64 << 10})
	defer p.Close()
	defer ln.Close()
	e := p.Acquire(ln.Addr().String(), settings(), health.NewGroup(1, 0.5))
	waitReady(t, e)
	var pc *packet.Conn
	select {
	case pc = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("no engine connection")
	}
	if pc == nil {
		t.Fatal("engine handshake failed")
	}
	defer pc.Close()
	body := call(1, strings.Repeat("x", 32<<10))
	sent := 0
	var refused error
	for i := 0; i < 100000 && refused == nil; i++ {
		now := time.Now()
		if refused = e.Send(newCall(), make([]byte, 8), body, now, now.Add(time.Hour)); refused == nil {
			sent++
		}
	}
	var re *rpc.Error
	if !errors.As(refused, &re) || re.Code != rpc.CodeNoConnections || !strings.Contains(re.Description, ln.Addr().String()) {
		t.Fatalf("after %d sends: %v, want NO_CONNECTIONS naming the engine", sent, refused)
	}
	if n := e.Pending(); n != sent {
		t.Fatalf("%d pending, want the %d sent", n, sent)
	}
}

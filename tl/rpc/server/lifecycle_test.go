package server

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// holder keeps every request for the test to answer, and every cancel
// for it to check. A connection's value is its first request's query id.
type holder struct {
	reqs     chan *Request
	canceled chan cancel
	inFlight map[int64]bool // what CancelRPC reports in flight; set before serving
}

// cancel is one CancelRPC call.
type cancel struct {
	conn    any
	queryID int64
}

func newHolder() *holder {
	return &holder{reqs: make(chan *Request, 64), canceled: make(chan cancel, 64)}
}

func (h *holder) ServeRPC(r *Request) {
	if r.ConnValue() == nil {
		r.SetConnValue(r.QueryID)
	}
	h.reqs <- r
}

func (h *holder) CancelRPC(conn any, queryID int64) bool {
	h.canceled <- cancel{conn, queryID}
	return h.inFlight[queryID]
}

var _ Canceler = (*holder)(nil)

func TestShutdown(t *testing.T) {
	leakCheck(t)
	h := newHolder()
	ts := startServer(t, Config{Handler: h})
	busy := dial(t, ts.addr, packet.Config{})
	idle := dial(t, ts.addr, packet.Config{})
	busy.send(&rpc.InvokeReq{QueryID: 1, Body: fn(tagEcho)})
	r := recv(t, h.reqs, "request")

	shut := make(chan error, 1)
	go func() { shut <- ts.Shutdown(ctxWait(t)) }()
	for _, c := range []*client{busy, idle} {
		typ, _, err := c.read()
		if err != nil || typ != rpc.TypeServerWantsFin {
			t.Fatalf("got type %#x err %v, want rpcServerWantsFin", typ, err)
		}
	}
	// As VK clients do: the idle one hangs up, the busy one asks to
	// finish, sends nothing more, and is closed after its last answer.
	_ = idle.pc.Close()
	if err := busy.pc.WritePacket(rpc.TypeClientWantsFin, nil, nil); err != nil {
		t.Fatal(err)
	}
	r.Reply(fn(tagEcho))
	if res := busy.result(); res.QueryID != 1 || res.IsError() {
		t.Fatalf("in-flight answer %+v", res)
	}
	if err := busy.waitClosed(); err == nil {
		t.Fatal("busy connection not closed")
	}
	if err := recv(t, shut, "Shutdown"); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, ts.served, "Serve"); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	ts.served <- ErrServerClosed // for the cleanup
}

func TestShutdownDeadline(t *testing.T) {
	leakCheck(t)
	h := newHolder()
	ts := startServer(t, Config{Handler: h})
	c := dial(t, ts.addr, packet.Config{})
	c.send(&rpc.InvokeReq{QueryID: 1, Body: fn(tagEcho)})
	r := recv(t, h.reqs, "request")
	ctx, cancel := context.WithCancel(context.Background())
	shut := make(chan error, 1)
	go func() { shut <- ts.Shutdown(ctx) }()
	if typ, _, err := c.read(); err != nil || typ != rpc.TypeServerWantsFin {
		t.Fatalf("got %#x %v", typ, err)
	}
	cancel()
	if err := recv(t, shut, "Shutdown"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown returned %v", err)
	}
	if err := c.waitClosed(); err == nil {
		t.Fatal("not closed")
	}
	r.Reply(fn(tagEcho)) // after Close: safe, writes nothing
	if got := ts.stats.active.Load(); got != 0 {
		t.Fatalf("%d active after the late reply", got)
	}
}

func TestClientWantsFin(t *testing.T) {
	leakCheck(t)
	h := newHolder()
	ts := startServer(t, Config{Handler: h})
	c := dial(t, ts.addr, packet.Config{})
	c.send(&rpc.InvokeReq{QueryID: 1, Body: fn(tagEcho)})
	r := recv(t, h.reqs, "request")
	if err := c.pc.WritePacket(rpc.TypeClientWantsFin, nil, nil); err != nil {
		t.Fatal(err)
	}
	r.Reply(fn(tagEcho))
	if res := c.result(); res.QueryID != 1 {
		t.Fatalf("%+v", res)
	}
	if err := c.waitClosed(); err == nil {
		t.Fatal("not closed after fin")
	}
}

// TestCancel: every well-formed rpcCancelReq reaches a Canceler, in order,
// with its query id and the connection's value, whatever the query's state
// (the server keeps no table: the handler knows its calls). Only those the
// handler finds in flight count in the stats; a malformed one is ignored.
func TestCancel(t *testing.T) {
	leakCheck(t)
	h := newHolder()
	h.inFlight = map[int64]bool{7: true}
	ts := startServer(t, Config{Handler: h})
	c := dial(t, ts.addr, packet.Config{})
	c.send(&rpc.InvokeReq{QueryID: 7, Body: fn(tagEcho)})
	r := recv(t, h.reqs, "request")
	for _, body := range [][]byte{
		rpc.AppendCancelReq(nil, 8), // not in flight
		{1, 2, 3},                   // malformed
		rpc.AppendCancelReq(nil, 7),
	} {
		if err := c.pc.WritePacket(rpc.TypeCancelReq, nil, body); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []cancel{{int64(7), 8}, {int64(7), 7}} {
		if got := recv(t, h.canceled, "cancel"); got != want {
			t.Fatalf("CancelRPC(%v, %d), want (%v, %d)", got.conn, got.queryID, want.conn, want.queryID)
		}
	}
	r.ReplyError(rpc.CodeQueryTimeout, "canceled")
	if res := c.result(); res.QueryID != 7 || res.ErrorCode != rpc.CodeQueryTimeout {
		t.Fatalf("%+v", res)
	}
	// The reader has handled the cancels once it serves the next request.
	c.send(&rpc.InvokeReq{QueryID: 9, Body: fn(tagEcho)})
	recv(t, h.reqs, "request 9").Reply(fn(tagEcho))
	c.result()
	if n := ts.Counters().Cancels; n != 1 {
		t.Fatalf("%d cancels counted, want 1 (the one in flight)", n)
	}
	select {
	case got := <-h.canceled:
		t.Fatalf("unexpected CancelRPC(%v, %d)", got.conn, got.queryID)
	default:
	}
}

func TestMaxConns(t *testing.T) {
	leakCheck(t)
	ts := startServer(t, Config{Handler: echo, MaxConns: 1})
	first := dial(t, ts.addr, packet.Config{})
	first.call(&rpc.InvokeReq{QueryID: 1, Body: fn(tagEcho)})
	nc, err := (&netDialer{}).dial(ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := packet.ClientHandshake(nc, packet.Config{PacketTimeout: wait}); err == nil {
		t.Fatal("second connection got through MaxConns 1")
	}
	if !strings.Contains(ts.log.String(), "MaxConns reached") || ts.stats.connsRejected.Load() != 1 {
		t.Fatalf("rejection not logged or counted:\n%s", ts.log.String())
	}
	first.call(&rpc.InvokeReq{QueryID: 2, Body: fn(tagEcho)})
}

// TestBackpressure: at the per-connection cap and at the server's byte cap
// the reader stops until a reply frees room; nothing is refused or lost.
func TestBackpressure(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		hook func(s *Server, f func())
	}{
		{"per-connection", Config{MaxInflightPerConn: 2}, func(s *Server, f func()) { s.onConnWait = f }},
		{"request bytes", Config{MaxRequestBytes: 2 * (requestOverhead + 100)}, func(s *Server, f func()) { s.lim.sem.onWait = f }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			h := newHolder()
			tc.cfg.Handler = h
			waited := make(chan struct{}, 1)
			ts := startServer(t, tc.cfg, func(s *Server) { tc.hook(s, signal(waited)) })
			c := dial(t, ts.addr, packet.Config{})
			body := fn(tagEcho, make([]byte, 80)...)
			for i := range 3 {
				c.send(&rpc.InvokeReq{QueryID: int64(i + 1), Body: body})
			}
			first := recv(t, h.reqs, "request 1")
			second := recv(t, h.reqs, "request 2")
			// The third request waits until one of the first two is answered.
			recv(t, waited, "reader to wait")
			select {
			case r := <-h.reqs:
				t.Fatalf("request %d served past the cap", r.QueryID)
			default:
			}
			first.Reply(fn(tagEcho))
			recv(t, h.reqs, "request 3").Reply(fn(tagEcho))
			second.Reply(fn(tagEcho))
			for _, want := range []int64{1, 3, 2} {
				if res := c.result(); res.QueryID != want {
					t.Fatalf("answer to %d, want %d", res.QueryID, want)
				}
			}
			checkDrained(t, ts.Server)
		})
	}
}

// TestRequestOverMemoryCap: a request larger than MaxRequestBytes is
// charged the whole cap and served, not refused or stuck.
func TestRequestOverMemoryCap(t *testing.T) {
	leakCheck(t)
	ts := startServer(t, Config{Handler: echo, MaxRequestBytes: 1000})
	c := dial(t, ts.addr, packet.Config{})
	for i := range 3 {
		body := fn(tagEcho, make([]byte, 5000)...)
		if res := c.call(&rpc.InvokeReq{QueryID: int64(i + 1), Body: body}); res.IsError() || len(res.Body) != len(body) {
			t.Fatalf("call %d: %+v", i, res)
		}
	}
	// SyncFunc replies on the reader goroutine, which Close waits for.
	_ = ts.Close()
	checkDrained(t, ts.Server)
}

// TestInflightCapUnderChurn: with MaxInflightPerConn 2 and replies made
// by another goroutine as soon as requests arrive, a long pipelined run
// never has more than 2 requests in the handler at once, and every
// request is answered (the reader's wait for a freed slot is never
// missed: it would hang here).
func TestInflightCapUnderChurn(t *testing.T) {
	leakCheck(t)
	const n = 3000
	h := newHolder()
	var inHandler, most atomic.Int32
	ts := startServer(t, Config{Handler: HandlerFunc(func(r *Request) {
		now := inHandler.Add(1)
		for old := most.Load(); now > old && !most.CompareAndSwap(old, now); old = most.Load() {
		}
		h.ServeRPC(r)
	}), MaxInflightPerConn: 2})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			r := <-h.reqs
			inHandler.Add(-1)
			r.Reply(fn(tagEcho))
		}
	}()
	c := dial(t, ts.addr, packet.Config{})
	c.sendEchoes(n)
	for i := range n {
		if res := c.result(); res.IsError() {
			t.Fatalf("answer %d: error %d %s", i, res.ErrorCode, res.ErrorText)
		}
	}
	recv(t, done, "the replier to finish")
	if m := most.Load(); m > 2 {
		t.Errorf("%d requests in the handler at once, cap 2", m)
	}
	checkDrained(t, ts.Server)
}

// TestBlockingReplyFromHandlerGoroutine: handlers that reply from their
// own goroutines with the blocking Reply, to a client that reads its
// answers only after sending everything. Such a reply may find the
// connection full and flush the reader's batch from the handler's
// goroutine while the reader stamps new requests with the batch's clock
// (DefaultTimeout): the batch must take that (run with -race), and every
// answer arrives.
func TestBlockingReplyFromHandlerGoroutine(t *testing.T) {
	leakCheck(t)
	const n = 300
	big := fn(tagEcho, make([]byte, 64<<10)...)
	var wg sync.WaitGroup
	ts := startServer(t, Config{
		Handler: HandlerFunc(func(r *Request) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.Reply(big)
			}()
		}),
		DefaultTimeout: time.Second,
		Packet:         packet.Config{WriteBufferLimit: 4096},
	})
	c := dial(t, ts.addr, packet.Config{})
	c.sendEchoes(n) // requests keep arriving while earlier replies block
	for i := range n {
		if res := c.result(); res.IsError() || len(res.Body) != len(big) {
			t.Fatalf("answer %d: error %d %q, %d bytes", i, res.ErrorCode, res.ErrorText, len(res.Body))
		}
	}
	wg.Wait()
	checkDrained(t, ts.Server)
}

// TestHugeInflightCap: a cap beyond int32 (math.MaxInt as "no limit")
// serves requests like any other.
func TestHugeInflightCap(t *testing.T) {
	leakCheck(t)
	ts := startServer(t, Config{Handler: echo, MaxInflightPerConn: math.MaxInt})
	c := dial(t, ts.addr, packet.Config{})
	if res := c.call(&rpc.InvokeReq{QueryID: 1, Body: fn(tagEcho)}); res.IsError() {
		t.Fatalf("error %d %s", res.ErrorCode, res.ErrorText)
	}
}

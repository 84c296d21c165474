package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	vk "github.com/VKCOM/tl/pkg/rpc"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	rpcclient "github.com/rpcproxy/rpcproxy/tl/rpc/client"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// startUDPServer serves cfg on a UDP transport on 127.0.0.1:0 until the
// test ends; served gets ServeUDP's result.
func startUDPServer(t testing.TB, cfg Config) (*Server, string, chan error) {
	t.Helper()
	s, _, addr, served := startUDPServerWith(t, cfg, udp.Config{})
	return s, addr, served
}

// startUDPServerWith is startUDPServer with the transport's config (its
// Keys default to testKey), returning the transport too.
func startUDPServerWith(t testing.TB, cfg Config, ucfg udp.Config) (*Server, *udp.Transport, string, chan error) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serveUDPWith(t, s, ucfg)
}

// serveUDPWith serves s on a new transport on 127.0.0.1.
func serveUDPWith(t testing.TB, s *Server, ucfg udp.Config) (*Server, *udp.Transport, string, chan error) {
	t.Helper()
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if ucfg.Keys == nil {
		ucfg.Keys = [][]byte{testKey}
	}
	tr, err := udp.New(sock, ucfg)
	if err != nil {
		_ = sock.Close()
		t.Fatal(err)
	}
	served := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		served <- s.ServeUDP(tr)
	}()
	t.Cleanup(func() {
		_ = s.Close()
		<-exited
	})
	return s, tr, sock.LocalAddr().String(), served
}

func udpClient(t testing.TB, addr string) *rpcclient.Client {
	t.Helper()
	opts := rpcclient.Options{Network: "udp"}
	opts.Packet.Key = testKey
	cl, err := rpcclient.New(addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// TestUDPServe: our client over UDP gets echoes (one datagram and many),
// errors and engine.pid from the built-ins; Shutdown then ends ServeUDP
// without a fin and the served transport is closed.
func TestUDPServe(t *testing.T) {
	leakCheck(t)
	h := SyncFunc(func(r *Request, dst []byte) ([]byte, error) {
		if r.ActorID == 7 {
			return nil, &rpc.Error{Code: -5005, Description: "udp says no"}
		}
		return append(dst, r.Body...), nil
	})
	s, addr, served := startUDPServer(t, Config{Handler: h, Engine: EngineConfig{Enabled: true, Version: "v"}})
	cl := udpClient(t, addr)

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var resp rpcclient.Response
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"small", fn(tagEcho, 1, 2, 3, 4)},
		{"chunked", fn(tagEcho, bytes.Repeat([]byte("0123"), 5000)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := cl.Do(ctx, &rpcclient.Request{Body: tc.body}, &resp); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(resp.Body, tc.body) {
				t.Fatalf("echo: got %d bytes, want %d", len(resp.Body), len(tc.body))
			}
		})
	}
	err := cl.Do(ctx, &rpcclient.Request{ActorID: 7, Body: fn(tagEcho)}, &resp)
	var re *rpc.Error
	if !errors.As(err, &re) || re.Code != -5005 {
		t.Fatalf("error answer: %v", err)
	}
	if err := cl.Do(ctx, &rpcclient.Request{Body: fn(TagEnginePID)}, &resp); err != nil {
		t.Fatalf("engine.pid: %v", err)
	}
	if st := s.Stats(nil); st["clients_active"] != "1" {
		t.Fatalf("stats: %+v", st)
	}

	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, ErrServerClosed) {
			t.Fatalf("ServeUDP returned %v", err)
		}
	case <-time.After(wait):
		t.Fatal("ServeUDP did not return after Shutdown")
	}
}

// TestUDPClose: Close ends a UDP connection with a request still held by
// the handler; its late reply is safe and ServeUDP returns.
func TestUDPClose(t *testing.T) {
	leakCheck(t)
	held := make(chan *Request, 1)
	s, addr, served := startUDPServer(t, Config{Handler: HandlerFunc(func(r *Request) { held <- r })})
	cl := udpClient(t, addr)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		var resp rpcclient.Response
		errc <- cl.Do(ctx, &rpcclient.Request{Body: fn(tagEcho)}, &resp)
	}()
	var r *Request
	select {
	case r = <-held:
	case <-time.After(wait):
		t.Fatal("request did not arrive")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r.Reply(nil) // after Close: writes nothing
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("ServeUDP returned %v", err)
	}
	_ = cl.Close()
	if err := <-errc; err == nil {
		t.Fatal("call answered after Close")
	}
}

// TestUDPShutdownLateRequest: during Shutdown, a UDP connection idle and
// waiting for its last answer's ack gets one more request, which an
// asynchronous handler (the proxy's) answers only after the server has
// acked the request and every message after it. The connection stays
// until that answer is written and acked: ending it once every answer then
// written was acked would drop it, and the app would wait for its timeout.
func TestUDPShutdownLateRequest(t *testing.T) {
	leakCheck(t)
	// The connection ends by the peer's ack, not by settleWait, however
	// slow the machine. The server acks when the test moves its clock;
	// the peer acks only as it sends.
	clk := newManualClock()
	s, tr, addr, served, held := startHoldingUDP(t, wait, udp.Config{Now: clk.Now, NewTimer: clk.NewTimer})
	peer := rawUDPPeer(t, addr)
	send := func(typ uint32, body []byte) { peerSend(t, peer, typ, body) }
	answer := func(qid int64) { peerAnswer(t, peer, qid) }
	// ackAll has the server's timer loop send every ack it owes.
	ackAll := func() {
		t.Helper()
		n := tr.Stats().AcksOnly
		clk.advance(100 * time.Millisecond)
		pollUntil(t, "the server's acks", func() bool { return tr.Stats().AcksOnly > n })
	}
	const unknownType = 0x12345678

	send(rpc.TypeInvokeReq, echoCall(1))
	a := recv(t, held, "the first request")
	shut := shutdownClosing(t, s)
	a.Reply(a.Body) // nothing in flight now: the connection ends once this is acked
	answer(1)

	// The late request acks the first answer. The unknown message after it
	// is taken only once the reader is back from the handler, which keeps
	// the request; then the server acks both.
	send(rpc.TypeInvokeReq, echoCall(2))
	send(unknownType, []byte{1, 2, 3, 4})
	b := recv(t, held, "the late request")
	pollUntil(t, "the reader to take the unknown message", func() bool { return s.Counters().UnknownMsgs == 1 })
	ackAll()
	b.Reply(b.Body)
	answer(2)
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) before the late answer was acked", err)
	default:
	}

	send(unknownType, []byte{5, 6, 7, 8}) // acks the late answer
	pollUntil(t, "the reader to take the ack", func() bool { return s.Counters().UnknownMsgs == 2 })
	ackAll()
	if err := recv(t, shut, "Shutdown"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := recv(t, served, "ServeUDP's end"); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("ServeUDP returned %v", err)
	}
}

// TestUDPShutdownPeerGone: during Shutdown, a UDP connection whose peer
// never acks its last answer (the app has gone) is closed once the
// server's settleWait has passed with nothing in flight, and Shutdown
// returns nil, where it would otherwise wait for its context.
func TestUDPShutdownPeerGone(t *testing.T) {
	leakCheck(t)
	s, _, addr, served, held := startHoldingUDP(t, time.Millisecond, udp.Config{})
	peer := rawUDPPeer(t, addr) // never acks: it sends nothing more
	peerSend(t, peer, rpc.TypeInvokeReq, echoCall(1))
	a := recv(t, held, "the request")
	shut := shutdownClosing(t, s)
	a.Reply(a.Body)
	peerAnswer(t, peer, 1)
	if err := recv(t, shut, "Shutdown"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := recv(t, served, "ServeUDP's end"); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("ServeUDP returned %v", err)
	}
}

// startHoldingUDP serves over UDP a handler that sends every request to
// held, unanswered, with settleWait as the bound on an ending connection's
// acks.
func startHoldingUDP(t *testing.T, settleWait time.Duration, ucfg udp.Config) (*Server, *udp.Transport, string, chan error, chan *Request) {
	t.Helper()
	held := make(chan *Request, 2)
	s, err := New(Config{Handler: HandlerFunc(func(r *Request) { held <- r })})
	if err != nil {
		t.Fatal(err)
	}
	s.settleWait = settleWait
	s, tr, addr, served := serveUDPWith(t, s, ucfg)
	return s, tr, addr, served, held
}

// echoCall is an echo request with query id qid.
func echoCall(qid int64) []byte {
	return rpc.AppendInvokeReq(nil, &rpc.InvokeReq{QueryID: qid, Body: fn(tagEcho, byte(qid), 0, 0, 0)})
}

// shutdownClosing starts s.Shutdown and returns its result's channel once
// Shutdown has marked s's one connection to close when idle.
func shutdownClosing(t *testing.T, s *Server) chan error {
	t.Helper()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctxWait(t)) }()
	pollUntil(t, "Shutdown to reach the connection", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for c := range s.conns {
			return c.closeIdle.Load()
		}
		return false
	})
	return shut
}

// peerSend writes one message from a raw peer.
func peerSend(t *testing.T, peer *udp.Conn, typ uint32, body []byte) {
	t.Helper()
	if err := peer.WritePacket(typ, nil, body); err != nil {
		t.Fatal(err)
	}
}

// peerAnswer reads a raw peer's next message, which must be the answer
// to qid and not an error, within wait.
func peerAnswer(t *testing.T, peer *udp.Conn, qid int64) {
	t.Helper()
	read := make(chan error, 1)
	go func() {
		typ, msg, err := peer.ReadPacket()
		var res rpc.ReqResult
		if err == nil {
			err = rpc.ParseResult(typ, msg, &res)
		}
		if err == nil && (res.QueryID != qid || res.IsError()) {
			err = fmt.Errorf("answer to %d (%v)", res.QueryID, res.Err())
		}
		read <- err
	}()
	if err := recv(t, read, fmt.Sprintf("the answer to %d", qid)); err != nil {
		t.Fatalf("answer to %d: %v", qid, err)
	}
}

// manualClock is a UDP transport's clock (Config.Now, Config.NewTimer)
// that moves only when the test advances it, which wakes the transport's
// timer loop.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
	c   chan time.Time
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Unix(1_800_000_000, 0), c: make(chan time.Time, 1)}
}

func (m *manualClock) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// NewTimer returns the clock's one timer: the transport's timer loop has
// one.
func (m *manualClock) NewTimer(time.Duration) udp.Timer { return manualTimer{m.c} }

func (m *manualClock) advance(d time.Duration) {
	m.mu.Lock()
	m.now = m.now.Add(d)
	now := m.now
	m.mu.Unlock()
	select {
	case m.c <- now:
	default: // a wake-up is pending already
	}
}

type manualTimer struct{ c chan time.Time }

func (t manualTimer) C() <-chan time.Time { return t.c }
func (manualTimer) Reset(time.Duration)   {}
func (manualTimer) Stop()                 {}

// TestInteropVKClientUDP: VK's Go client over its UDP transport against
// ServeUDP: echo and an error.
func TestInteropVKClientUDP(t *testing.T) {
	if raceEnabled {
		t.Skip("VK's UDP transport races internally; run without -race (make test does)")
	}
	leakCheck(t)
	h := SyncFunc(func(r *Request, dst []byte) ([]byte, error) {
		if r.ActorID == 7 {
			return nil, &rpc.Error{Code: -5005, Description: "udp says no"}
		}
		return append(dst, r.Body...), nil
	})
	_, addr, _ := startUDPServer(t, Config{Handler: h})
	cl := vk.NewClient(vk.ClientWithLogf(func(string, ...any) {}),
		vk.ClientWithCryptoKey(string(testKey)),
		vk.ClientWithExperimentalLocalUDPAddress("127.0.0.1:0"))
	t.Cleanup(func() { _ = cl.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, body := range [][]byte{fn(tagEcho, 1, 2, 3, 4), fn(tagEcho, bytes.Repeat([]byte("abcd"), 3000)...)} {
		req := cl.GetRequest()
		req.Body = append(req.Body, body...)
		resp, err := cl.Do(ctx, "udp4", addr, req)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(resp.Body, body) {
			t.Fatalf("echo: got %d bytes, want %d", len(resp.Body), len(body))
		}
		cl.PutResponse(resp)
	}
	req := cl.GetRequest()
	req.ActorID = 7
	req.Body = append(req.Body, fn(tagEcho)...)
	_, err := cl.Do(ctx, "udp4", addr, req)
	var ve *vk.Error
	if !errors.As(err, &ve) || ve.Code != -5005 {
		t.Fatalf("error answer: %v", err)
	}
}

// startRefusing serves echo over UDP with MaxConns 1 and IdleAfter 20ms,
// except that requests for actor 9 are held: they go to held, unanswered.
func startRefusing(t *testing.T) (*Server, *udp.Transport, string, chan *Request) {
	t.Helper()
	held := make(chan *Request, 1)
	h := HandlerFunc(func(r *Request) {
		if r.ActorID == 9 {
			held <- r
			return
		}
		r.Reply(r.Body)
	})
	s, err := New(Config{Handler: h, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	s.refuseWait = wait // a refusal ends by the peer's ack, not by this bound, however slow the machine
	s, tr, addr, _ := serveUDPWith(t, s, udp.Config{IdleAfter: 20 * time.Millisecond})
	return s, tr, addr, held
}

// TestUDPRefusedAdmitted: a refused UDP peer that keeps calling, so that
// its connection never settles and parks, is served from its first
// request after a slot frees, on the same connection. Its messages that
// are not requests are ignored meanwhile.
func TestUDPRefusedAdmitted(t *testing.T) {
	leakCheck(t)
	s, tr, addr, held := startRefusing(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	a := udpClient(t, addr)
	errc := make(chan error, 1)
	go func() {
		var resp rpcclient.Response
		errc <- a.Do(ctx, &rpcclient.Request{ActorID: 9, Body: fn(tagEcho)}, &resp)
	}()
	r := recv(t, held, "a's request")

	// b acks only with its next call (its timers never fire), as an app
	// calling without a pause does: its refused connection stays unsettled.
	b := rawUDPPeer(t, addr)
	call := func(qid int64, body []byte) rpc.ReqResult {
		t.Helper()
		if err := b.WritePacket(rpc.TypeInvokeReq, nil, rpc.AppendInvokeReq(nil, &rpc.InvokeReq{QueryID: qid, Body: body})); err != nil {
			t.Fatal(err)
		}
		typ, msg, err := b.ReadPacket()
		var res rpc.ReqResult
		if err == nil {
			err = rpc.ParseResult(typ, msg, &res)
		}
		if err != nil || res.QueryID != qid {
			t.Fatalf("call %d: %v, answer to %d", qid, err, res.QueryID)
		}
		return res
	}
	// What is not a request, or too short to hold a query id, is not
	// answered: the first answer b reads is its call's.
	for _, m := range []struct {
		typ  uint32
		body []byte
	}{
		{rpc.TypeCancelReq, rpc.AppendCancelReq(nil, 99)},
		{rpc.TypeInvokeReq, []byte{1, 2, 3, 4}},
		{0x12345678, []byte{1, 2, 3, 4, 5, 6, 7, 8}},
	} {
		if err := b.WritePacket(m.typ, nil, m.body); err != nil {
			t.Fatal(err)
		}
	}
	if res := call(1, fn(tagEcho, 1, 2, 3, 4)); res.ErrorCode != rpc.CodeTooManyRequests {
		t.Fatalf("b over MaxConns 1: %v, want TOO_MANY_REQUESTS", res.Err())
	}
	r.Reply(r.Body)
	if err := <-errc; err != nil {
		t.Fatalf("a's held call: %v", err)
	}
	waitStats(t, tr, "a parked", func(st udp.Stats) bool { return st.Parked == 1 })
	body := fn(tagEcho, 5, 6, 7, 8)
	if res := call(2, body); res.IsError() || !bytes.Equal(res.Body, body) {
		t.Fatalf("b's call once a's slot freed: %v, %d bytes; want the echo", res.Err(), len(res.Body))
	}
	if res := call(3, body); res.IsError() || !bytes.Equal(res.Body, body) {
		t.Fatalf("b's next call: %v, %d bytes; want the echo", res.Err(), len(res.Body))
	}
	c := s.Counters()
	if st := tr.Stats(); st.Parked != 1 || st.Revived != 0 || st.Resets != 0 || st.Conns != 1 {
		t.Fatalf("b's connection was not kept: %+v", st)
	}
	if c.ConnsActive != 1 || c.ConnsRejected != 1 {
		t.Fatalf("counters %+v: want b active, refused once", c)
	}
}

// rawUDPPeer dials addr on a transport of its own whose timers never fire:
// it acks and resends only as it sends (no loss on loopback).
func rawUDPPeer(t *testing.T, addr string) *udp.Conn {
	t.Helper()
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := udp.New(sock, udp.Config{Keys: [][]byte{testKey}, NewTimer: func(time.Duration) udp.Timer { return neverTimer{} }})
	if err != nil {
		_ = sock.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	c, err := tr.Dial(netip.MustParseAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// neverTimer is a udp.Timer that never fires.
type neverTimer struct{}

func (neverTimer) C() <-chan time.Time { return nil }
func (neverTimer) Reset(time.Duration) {}
func (neverTimer) Stop()               {}

// TestUDPRefused: a UDP peer over MaxConns has its request answered with
// TOO_MANY_REQUESTS at once, where it would otherwise wait for its
// timeout, and its connection is parked once it acked that. When the
// admitted peer's connection is parked in turn, the refused peer's next
// call revives its own and is admitted.
func TestUDPRefused(t *testing.T) {
	leakCheck(t)
	s, tr, addr, held := startRefusing(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	a, b := udpClient(t, addr), udpClient(t, addr)
	errc := make(chan error, 1)
	go func() {
		var resp rpcclient.Response
		errc <- a.Do(ctx, &rpcclient.Request{ActorID: 9, Body: fn(tagEcho)}, &resp)
	}()
	r := recv(t, held, "a's request")

	var resp rpcclient.Response
	err := b.Do(ctx, &rpcclient.Request{Body: fn(tagEcho, 1, 2, 3, 4)}, &resp)
	var re *rpc.Error
	if !errors.As(err, &re) || re.Code != rpc.CodeTooManyRequests || !strings.Contains(re.Description, "cap of 1 connections") {
		t.Fatalf("a second peer over MaxConns 1: %v, want TOO_MANY_REQUESTS naming the cap; %+v", err, tr.Stats())
	}
	if c := s.Counters(); c.ConnsRejected != 1 || c.ConnsActive != 1 {
		t.Fatalf("counters %+v: want 1 rejected, 1 active", c)
	}
	waitStats(t, tr, "b's refused connection parked", func(st udp.Stats) bool { return st.Parked == 1 })
	r.Reply(r.Body)
	if err := <-errc; err != nil {
		t.Fatalf("a's held call: %v", err)
	}
	waitStats(t, tr, "a parked", func(st udp.Stats) bool { return st.Parked == 2 })
	body := fn(tagEcho, 5, 6, 7, 8)
	if err := b.Do(ctx, &rpcclient.Request{Body: body}, &resp); err != nil || !bytes.Equal(resp.Body, body) {
		t.Fatalf("b's call after a parked: %v", err)
	}
	if st := tr.Stats(); st.Revived != 1 || st.Resets != 0 || st.Dropped[udp.DropUnknownHash] != 0 {
		t.Fatalf("b was not revived seamlessly: %+v", st)
	}
	if c := s.Counters(); c.ConnsTotal != 3 || c.ConnsRejected != 1 {
		t.Fatalf("counters %+v: want a, b refused, b admitted", c)
	}
	// engine.stat shows the transport: a parked, b's record revived (b,
	// idle again, may have parked since).
	st := s.Stats(nil)
	num := func(k string) int {
		n, err := strconv.Atoi(st[k])
		if err != nil {
			t.Fatalf("engine.stat %s = %q: %v", k, st[k], err)
		}
		return n
	}
	if num("udp_conns")+num("udp_dormant") != 2 || num("udp_parked") < 2 || num("udp_revived") != 1 || num("udp_resets") != 0 {
		t.Fatalf("engine.stat: conns %s, dormant %s, parked %s, revived %s, resets %s; want 2 peers, a parked, b revived",
			st["udp_conns"], st["udp_dormant"], st["udp_parked"], st["udp_revived"], st["udp_resets"])
	}
}

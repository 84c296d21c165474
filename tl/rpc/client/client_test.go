package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

func TestDoEcho(t *testing.T) {
	srv := newTestServer(t, echo)
	cl := clientOf(t, srv, Options{})

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	cases := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"small", []byte("abcd")},
		{"unaligned", []byte("abcde")},
		{"1MiB", big},
	}
	var resp Response
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := echoReq(tc.payload)
			if err := cl.Do(context.Background(), req, &resp); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(resp.Body, req.Body) {
				t.Fatalf("echo: got %d bytes, want %d", len(resp.Body), len(req.Body))
			}
		})
	}
	if st := cl.Stats(); st.Sent != 4 || st.Answered != 4 || st.InFlight != 0 || st.Connects != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestEnvelope checks what arrives at the server: actor, extras, and the
// custom_timeout_ms chosen from explicit, deadline and default timeouts.
func TestEnvelope(t *testing.T) {
	defer verifyNoLeaks(t)
	srv := newTestServer(t, hold)
	defer srv.close()

	explicit := func(ms int32) rpc.InvokeReqExtra {
		var e rpc.InvokeReqExtra
		e.Flags |= rpc.FlagCustomTimeoutMs
		e.CustomTimeoutMs = ms
		return e
	}
	cases := []struct {
		name         string
		def          time.Duration
		extra        rpc.InvokeReqExtra
		actor        int64
		ctxTimeout   time.Duration
		minMs, maxMs int32 // expected custom_timeout_ms range; 0, 0 = not sent
	}{
		{"none", 0, rpc.InvokeReqExtra{}, 0, 0, 0, 0},
		{"default", 300 * time.Millisecond, rpc.InvokeReqExtra{}, 0, 0, 300, 300},
		{"explicit", 300 * time.Millisecond, explicit(500), 0, 0, 500, 500},
		{"explicit zero is none", 300 * time.Millisecond, explicit(0), 0, 0, 0, 0},
		{"deadline", 0, rpc.InvokeReqExtra{}, 0, 5 * time.Second, 4000, 5000},
		{"explicit below deadline", 0, explicit(100), 0, 5 * time.Second, 100, 100},
		{"deadline below explicit", 0, explicit(9000), 7, 5 * time.Second, 4000, 5000},
		{"actor and flags", 0, rpc.InvokeReqExtra{Flags: rpc.FlagReturnPid | rpc.FlagIntForward, IntForward: 42}, 1234, 0, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := newClient(t, srv.addr(), Options{DefaultTimeout: tc.def})
			defer cl.Close()
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctxTimeout > 0 {
				ctx, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
			}
			defer cancel()
			req := echoReq([]byte("payload!"))
			req.ActorID, req.Extra = tc.actor, tc.extra
			done := make(chanHandler, 1)
			go func() {
				var resp Response
				err := cl.Do(ctx, req, &resp)
				done <- asyncResult{body: resp.Body, err: err}
			}()
			r := srv.nextHeld(t)
			ms, ok := r.req.Extra.Timeout()
			if !ok {
				ms = 0
			}
			if ms < tc.minMs || ms > tc.maxMs {
				t.Errorf("custom_timeout_ms %d (sent %v), want [%d, %d]", ms, ok, tc.minMs, tc.maxMs)
			}
			if r.req.ActorID != tc.actor {
				t.Errorf("actor %d, want %d", r.req.ActorID, tc.actor)
			}
			if want := tc.extra.Flags &^ rpc.FlagCustomTimeoutMs; r.req.Extra.Flags&^rpc.FlagCustomTimeoutMs != want {
				t.Errorf("flags %#x, want %#x", r.req.Extra.Flags, want)
			}
			if !bytes.Equal(r.req.Body, req.Body) {
				t.Errorf("body %x, want %x", r.req.Body, req.Body)
			}
			if r.req.QueryID <= 0 {
				t.Errorf("query id %d not positive", r.req.QueryID)
			}
			r.answer(nil)
			if res := recvResult(t, done); res.err != nil || !bytes.Equal(res.body, req.Body) {
				t.Errorf("answer %x, %v", res.body, res.err)
			}
		})
	}
}

func TestRawHeader(t *testing.T) {
	srv := newTestServer(t, hold)
	cl := clientOf(t, srv, Options{})

	inv := rpc.InvokeReq{ActorID: 77, Extra: rpc.InvokeReqExtra{Flags: rpc.FlagStringForward, StringForward: []byte("key")}}
	full := rpc.AppendInvokeReqHeader(nil, &inv)
	req := echoReq([]byte("raw!"))
	req.Header = full[8:] // everything after query_id
	h := make(chanHandler, 1)
	if _, err := cl.Go(req, time.Time{}, h, 9); err != nil {
		t.Fatal(err)
	}
	r := srv.nextHeld(t)
	if r.req.ActorID != 77 || r.req.Extra.Flags != rpc.FlagStringForward {
		t.Fatalf("server got actor %d flags %#x", r.req.ActorID, r.req.Extra.Flags)
	}
	r.answer(nil)
	if res := recvResult(t, h); res.err != nil || res.token != 9 || !bytes.Equal(res.body, req.Body) {
		t.Fatalf("got %+v", res)
	}
}

func TestErrorAnswer(t *testing.T) {
	srv := newTestServer(t, func(r *srvReq) bool { r.answerError(rpc.CodeUnknownFunctionID, "no such function"); return true })
	cl := clientOf(t, srv, Options{})

	var resp Response
	err := cl.Do(context.Background(), echoReq(nil), &resp)
	var re *rpc.Error
	if !errors.As(err, &re) || re.Code != rpc.CodeUnknownFunctionID || re.Description != "no such function" {
		t.Fatalf("err %v, want *rpc.Error -2000", err)
	}
	if resp.Result.ErrorCode != rpc.CodeUnknownFunctionID || resp.Body != nil {
		t.Fatalf("resp %+v", resp.Result)
	}
	if st := cl.Stats(); st.Errors != 1 || st.Answered != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestConcurrentPairing: many concurrent calls on few connections, each
// echo must come back to its own caller.
func TestConcurrentPairing(t *testing.T) {
	defer verifyNoLeaks(t)
	srv := newTestServer(t, echo)
	defer srv.close()
	for _, conns := range []int{1, 4} {
		t.Run(fmt.Sprintf("conns=%d", conns), func(t *testing.T) {
			cl := newClient(t, srv.addr(), Options{Conns: conns})
			defer cl.Close()
			const n = 1000
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					payload := fmt.Appendf(nil, "call-%06d", i)
					req := echoReq(payload)
					var resp Response
					ctx, cancel := context.WithTimeout(context.Background(), wait)
					defer cancel()
					if err := cl.Do(ctx, req, &resp); err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(resp.Body, req.Body) {
						errs <- fmt.Errorf("call %d got %q", i, resp.Body[4:])
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if st := cl.Stats(); st.Answered != n || st.InFlight != 0 || st.Connects != uint64(conns) {
				t.Errorf("stats %+v", st)
			}
			// Every connection carried a share of the calls.
			for range conns {
				select {
				case c := <-srv.conns:
					if c.reqs.Load() == 0 {
						t.Errorf("a connection carried no calls")
					}
				default:
					t.Fatalf("server saw fewer than %d connections", conns)
				}
			}
		})
	}
}

func TestGoAsync(t *testing.T) {
	srv := newTestServer(t, echo)
	cl := clientOf(t, srv, Options{Conns: 2})

	const n = 200
	h := make(chanHandler, n)
	for i := range n {
		if _, err := cl.Go(echoReq(fmt.Appendf(nil, "%08d", i)), time.Now().Add(wait), h, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	seen := make(map[uint64]bool)
	for range n {
		r := recvResult(t, h)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if want := fmt.Sprintf("%08d", r.token); string(r.body[4:]) != want || seen[r.token] {
			t.Fatalf("token %d: body %q (dup %v)", r.token, r.body[4:], seen[r.token])
		}
		seen[r.token] = true
	}
}

func TestNoResult(t *testing.T) {
	srv := newTestServer(t, hold)
	cl := clientOf(t, srv, Options{})

	req := echoReq([]byte("fire"))
	req.Extra.Flags = rpc.FlagNoResult
	if err := cl.Do(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	h := make(chanHandler, 1)
	if _, err := cl.Go(req, time.Time{}, h, 5); err != nil {
		t.Fatal(err)
	}
	if r := recvResult(t, h); r.err != nil || r.token != 5 || r.body != nil {
		t.Fatalf("no_result completion %+v", r)
	}
	for range 2 {
		if r := srv.nextHeld(t); !r.req.Extra.NoResult() {
			t.Fatalf("flags %#x", r.req.Extra.Flags)
		}
	}
	if st := cl.Stats(); st.InFlight != 0 || st.Sent != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDeadline(t *testing.T) {
	srv := newTestServer(t, hold)
	cl := clientOf(t, srv, Options{})

	t.Run("Do", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := cl.Do(ctx, echoReq(nil), nil)
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want ErrTimeout", err)
		}
		r := srv.nextHeld(t)
		if ms, ok := r.req.Extra.Timeout(); !ok || ms > 50 {
			t.Fatalf("custom_timeout_ms %d %v, want <= 50", ms, ok)
		}
	})
	t.Run("explicit shorter than ctx", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		req := echoReq(nil)
		req.Extra.SetCustomTimeoutMs(30)
		if err := cl.Do(ctx, req, nil); !errors.Is(err, ErrTimeout) {
			t.Fatalf("err %v, want ErrTimeout", err)
		}
		srv.nextHeld(t)
	})
	t.Run("Go", func(t *testing.T) {
		h := make(chanHandler, 1)
		if _, err := cl.Go(echoReq(nil), time.Now().Add(30*time.Millisecond), h, 1); err != nil {
			t.Fatal(err)
		}
		if r := recvResult(t, h); !errors.Is(r.err, ErrTimeout) {
			t.Fatalf("err %v, want ErrTimeout", r.err)
		}
		srv.nextHeld(t)
	})
	t.Run("already passed", func(t *testing.T) {
		if _, err := cl.Go(echoReq(nil), time.Now().Add(-time.Second), chanHandler(nil), 1); !errors.Is(err, ErrTimeout) {
			t.Fatalf("err %v, want ErrTimeout", err)
		}
	})
	select {
	case id := <-srv.cancel:
		t.Fatalf("rpcCancelReq %d sent after a timeout", id)
	default:
	}
	if st := cl.Stats(); st.Timeouts != 4 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCancel(t *testing.T) {
	srv := newTestServer(t, hold)
	cl := clientOf(t, srv, Options{})

	t.Run("Do", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- cl.Do(ctx, echoReq(nil), nil) }()
		r := srv.nextHeld(t)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, ErrCanceled) || !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v, want ErrCanceled", err)
			}
		case <-time.After(wait):
			t.Fatal("Do did not return")
		}
		waitCancel(t, srv, r.req.QueryID)
		r.answer(nil) // a late answer to a canceled call is ignored
	})
	t.Run("Go", func(t *testing.T) {
		h := make(chanHandler, 1)
		qid, err := cl.Go(echoReq(nil), time.Time{}, h, 3)
		if err != nil {
			t.Fatal(err)
		}
		r := srv.nextHeld(t)
		if r.req.QueryID != qid {
			t.Fatalf("qid %d, server saw %d", qid, r.req.QueryID)
		}
		if !cl.Cancel(qid) {
			t.Fatal("Cancel: not pending")
		}
		if res := recvResult(t, h); !errors.Is(res.err, ErrCanceled) {
			t.Fatalf("err %v", res.err)
		}
		if cl.Cancel(qid) {
			t.Fatal("second Cancel found the call")
		}
		waitCancel(t, srv, qid)
	})
}

func waitCancel(t *testing.T, srv *testServer, qid int64) {
	t.Helper()
	select {
	case id := <-srv.cancel:
		if id != qid {
			t.Fatalf("rpcCancelReq for %d, want %d", id, qid)
		}
	case <-time.After(wait):
		t.Fatal("no rpcCancelReq arrived")
	}
}

// TestConnLost kills the server with calls in flight: all fail at once
// with ErrConnLost naming the address; after a restart calls succeed.
func TestConnLost(t *testing.T) {
	defer verifyNoLeaks(t)
	srv := newTestServer(t, hold)
	rd := newRedirect(srv.addr())
	states := make(chan bool, 16)
	cl := newClient(t, "engine:1", Options{Dial: rd.dial, OnState: func(addr string, up bool, err error) {
		if addr != "engine:1" || up != (err == nil) {
			t.Errorf("OnState(%q, %v, %v)", addr, up, err)
		}
		states <- up
	}})
	defer cl.Close()

	const n = 20
	h := make(chanHandler, n)
	for i := range n {
		if _, err := cl.Go(echoReq(nil), time.Time{}, h, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		srv.nextHeld(t)
	}
	srv.kill()
	var first error
	for range n {
		r := recvResult(t, h)
		var ce *ConnError
		if !errors.Is(r.err, ErrConnLost) || !errors.As(r.err, &ce) || ce.Addr != "engine:1" {
			t.Fatalf("err %v, want *ConnError ErrConnLost for engine:1", r.err)
		}
		if first == nil {
			first = r.err
		} else if r.err != first {
			t.Fatalf("calls failed with different errors: %v and %v", first, r.err)
		}
	}
	expectState(t, states, true)
	expectState(t, states, false)

	srv2 := newTestServer(t, echo)
	defer srv2.close()
	rd.set(srv2.addr())
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := cl.Do(ctx, echoReq([]byte("back")), nil); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if st := cl.Stats(); st.Failed != n || st.Connects != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func expectState(t *testing.T, ch chan bool, want bool) {
	t.Helper()
	select {
	case up := <-ch:
		if up != want {
			t.Fatalf("OnState up=%v, want %v", up, want)
		}
	case <-time.After(wait):
		t.Fatalf("no OnState(%v)", want)
	}
}

// deadAddr returns a loopback address nobody listens on: its port is held
// by a socket bound but not listening until the test ends, so a connect
// gets RST at once and nothing else (another listener, a dial's own source
// port connecting to itself) can take the port meanwhile.
func deadAddr(t *testing.T) string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

func TestFailFast(t *testing.T) {
	defer verifyNoLeaks(t)
	rd := newRedirect(deadAddr(t))
	states := make(chan bool, 16)
	cl := newClient(t, "engine:2", Options{Dial: rd.dial, FailFast: true,
		MinReconnectDelay: time.Millisecond, MaxReconnectDelay: 2 * time.Millisecond,
		OnState: func(_ string, up bool, _ error) { states <- up }})
	defer cl.Close()

	// The first call waits for the first dial, which fails.
	err := cl.Do(context.Background(), echoReq(nil), nil)
	if !errors.Is(err, ErrNoConnection) {
		t.Fatalf("err %v, want ErrNoConnection", err)
	}
	expectState(t, states, false)
	for range 3 { // known down: fails at once, before any deadline
		if err := cl.Do(context.Background(), echoReq(nil), nil); !errors.Is(err, ErrNoConnection) {
			t.Fatalf("err %v, want ErrNoConnection", err)
		}
		if _, err := cl.Go(echoReq(nil), time.Time{}, chanHandler(nil), 0); !errors.Is(err, ErrNoConnection) {
			t.Fatalf("Go err %v, want ErrNoConnection", err)
		}
	}
	srv := newTestServer(t, echo)
	defer srv.close()
	rd.set(srv.addr())
	expectState(t, states, true)
	if err := cl.Do(context.Background(), echoReq(nil), nil); err != nil {
		t.Fatalf("after the server came up: %v", err)
	}
}

// TestWaitForConnection: without FailFast, a call made while the address
// is down waits and succeeds once the server appears, or times out.
func TestWaitForConnection(t *testing.T) {
	defer verifyNoLeaks(t)
	rd := newRedirect(deadAddr(t))
	states := make(chan bool, 16)
	cl := newClient(t, "engine:3", Options{Dial: rd.dial,
		MinReconnectDelay: time.Millisecond, MaxReconnectDelay: 2 * time.Millisecond,
		OnState: func(_ string, up bool, _ error) { states <- up }})
	defer cl.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := cl.Do(ctx, echoReq(nil), nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
	expectState(t, states, false)
	h := make(chanHandler, 1)
	req := echoReq([]byte("queued"))
	if _, err := cl.Go(req, time.Now().Add(wait), h, 1); err != nil {
		t.Fatal(err)
	}
	req.Body[4] = 'X' // the queued call copied the body
	srv := newTestServer(t, echo)
	defer srv.close()
	rd.set(srv.addr())
	if r := recvResult(t, h); r.err != nil || string(r.body[4:]) != "queued" {
		t.Fatalf("queued call: %q %v", r.body, r.err)
	}
}

// TestServerWantsFin: the server asks to finish with calls in flight; the
// client sends rpcClientWantsFin, new calls go to a new connection, the
// old calls still complete, then the old connection is closed.
func TestServerWantsFin(t *testing.T) {
	srv := newTestServer(t, hold)
	cl := clientOf(t, srv, Options{})

	const n = 3
	h := make(chanHandler, n+1)
	for i := range n {
		if _, err := cl.Go(echoReq(nil), time.Time{}, h, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	var old []*srvReq
	for range n {
		old = append(old, srv.nextHeld(t))
	}
	oldConn := old[0].conn
	if err := oldConn.pc.WritePacket(rpc.TypeServerWantsFin, nil, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-srv.fin:
		if c != oldConn {
			t.Fatal("rpcClientWantsFin on another connection")
		}
	case <-time.After(wait):
		t.Fatal("no rpcClientWantsFin")
	}
	if _, err := cl.Go(echoReq(nil), time.Time{}, h, n); err != nil {
		t.Fatal(err)
	}
	fresh := srv.nextHeld(t)
	if fresh.conn == oldConn {
		t.Fatal("new call sent on the finishing connection")
	}
	for _, r := range old {
		r.answer(nil)
	}
	fresh.answer(nil)
	for range n + 1 {
		if r := recvResult(t, h); r.err != nil {
			t.Fatalf("token %d: %v", r.token, r.err)
		}
	}
	select {
	case <-oldConn.pc.Done():
	case <-time.After(wait):
		t.Fatal("old connection not closed after draining")
	}
}

func TestClose(t *testing.T) {
	defer verifyNoLeaks(t)
	srv := newTestServer(t, hold)
	defer srv.close()
	cl := newClient(t, srv.addr(), Options{})

	h := make(chanHandler, 2)
	if _, err := cl.Go(echoReq(nil), time.Time{}, h, 1); err != nil {
		t.Fatal(err)
	}
	srv.nextHeld(t)
	cl.Close()
	if r := recvResult(t, h); !errors.Is(r.err, ErrClosed) {
		t.Fatalf("pending call: %v, want ErrClosed", r.err)
	}
	if err := cl.Do(context.Background(), echoReq(nil), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	cl.Close()
}

// TestCloseQueued: Close fails calls still waiting for a first connection.
func TestCloseQueued(t *testing.T) {
	defer verifyNoLeaks(t)
	cl := newClient(t, deadAddr(t), Options{MinReconnectDelay: time.Hour, MaxReconnectDelay: time.Hour})
	h := make(chanHandler, 1)
	if _, err := cl.Go(echoReq(nil), time.Time{}, h, 1); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if r := recvResult(t, h); !errors.Is(r.err, ErrClosed) {
		t.Fatalf("queued call: %v, want ErrClosed", r.err)
	}
}

func TestBadRequests(t *testing.T) {
	defer verifyNoLeaks(t)
	cl := newClient(t, "127.0.0.1:1", Options{})
	defer cl.Close()
	neg := echoReq(nil)
	neg.Extra.Flags |= rpc.FlagCustomTimeoutMs
	neg.Extra.CustomTimeoutMs = -1
	cases := []struct {
		name string
		req  *Request
	}{
		{"no function tag", &Request{Body: []byte{1, 2}}},
		{"negative timeout", neg},
		{"too large", &Request{Body: make([]byte, 16<<20)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := cl.Do(context.Background(), tc.req, nil); !errors.Is(err, ErrBadRequest) {
				t.Fatalf("err %v, want ErrBadRequest", err)
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	cases := []struct {
		name string
		o    Options
	}{
		{"conns", Options{Conns: 65}},
		{"negative timeout", Options{DefaultTimeout: -1}},
		{"max below min", Options{MinReconnectDelay: time.Second, MaxReconnectDelay: time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New("x:1", tc.o); !errors.Is(err, ErrBadOptions) {
				t.Fatalf("err %v, want ErrBadOptions", err)
			}
		})
	}
}

// TestQueueCompaction: calls that time out while queued do not pile up in
// the queue during a long outage.
func TestQueueCompaction(t *testing.T) {
	defer verifyNoLeaks(t)
	cl := newClient(t, deadAddr(t), Options{MinReconnectDelay: time.Hour, MaxReconnectDelay: time.Hour,
		Jitter: func(d time.Duration) time.Duration { return d }})
	defer cl.Close()
	h := make(chanHandler, 1)
	for i := range 500 {
		_, err := cl.Go(echoReq(nil), time.Now().Add(time.Millisecond), h, uint64(i))
		if errors.Is(err, ErrTimeout) {
			continue // a slow machine let the deadline pass before Go: never queued
		}
		if err != nil {
			t.Fatal(err)
		}
		if r := recvResult(t, h); !errors.Is(r.err, ErrTimeout) {
			t.Fatalf("call %d: %v", i, r.err)
		}
	}
	s := cl.slots[0]
	s.mu.Lock()
	n := len(s.waiting)
	s.mu.Unlock()
	if n > 64 {
		t.Fatalf("%d queue entries for 500 expired calls", n)
	}
}

// TestServerWantsFinIdle: a fin with nothing in flight closes the
// connection at once, and the next call dials a fresh one.
func TestServerWantsFinIdle(t *testing.T) {
	srv := newTestServer(t, echo)
	cl := clientOf(t, srv, Options{})
	if err := cl.Do(context.Background(), echoReq(nil), nil); err != nil {
		t.Fatal(err)
	}
	first := <-srv.conns
	if err := first.pc.WritePacket(rpc.TypeServerWantsFin, nil, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first.pc.Done():
	case <-time.After(wait):
		t.Fatal("idle connection not closed after rpcServerWantsFin")
	}
	select {
	case c := <-srv.fin:
		t.Fatalf("rpcClientWantsFin sent with nothing in flight (conn %p)", c)
	default:
	}
	if err := cl.Do(context.Background(), echoReq(nil), nil); err != nil {
		t.Fatalf("after fin: %v", err)
	}
	if st := cl.Stats(); st.Connects != 2 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestCloseDuringHandshake: Close aborts a handshake with a peer that
// accepted the socket but never answers.
func TestCloseDuringHandshake(t *testing.T) {
	defer verifyNoLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	cl := newClient(t, ln.Addr().String(), Options{})
	h := make(chanHandler, 1)
	if _, err := cl.Go(echoReq(nil), time.Time{}, h, 1); err != nil {
		t.Fatal(err)
	}
	var nc net.Conn
	select {
	case nc = <-accepted:
	case <-time.After(wait):
		t.Fatal("no dial")
	}
	defer nc.Close()
	closed := make(chan struct{})
	go func() { cl.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(wait):
		t.Fatal("Close blocked on the handshake")
	}
	if r := recvResult(t, h); !errors.Is(r.err, ErrClosed) {
		t.Fatalf("queued call: %v, want ErrClosed", r.err)
	}
}

package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// TestUDPEcho: echo over UDP against the in-test server on tl/rpc/udp,
// bodies from empty to chunked (100 KB, 900 KB), Do and Go.
func TestUDPEcho(t *testing.T) {
	srv := newUDPTestServer(t, echo)
	cl := clientOf(t, srv, udpOptions())

	cases := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"small", []byte("abcd")},
		{"unaligned", []byte("abcde")},
		{"one chunk", bytes.Repeat([]byte("x"), 980)},
		{"100KB", bytes.Repeat([]byte("0123456789"), 10_000)},
		{"900KB", bytes.Repeat([]byte("abcdefghi"), 100_000)},
	}
	var resp Response
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			req := echoReq(tc.payload)
			if err := cl.Do(ctx, req, &resp); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(resp.Body, req.Body) {
				t.Fatalf("echo: got %d bytes, want %d", len(resp.Body), len(req.Body))
			}
		})
	}
	h := make(chanHandler, 1)
	if _, err := cl.Go(echoReq([]byte("async")), time.Now().Add(wait), h, 9); err != nil {
		t.Fatal(err)
	}
	if r := recvResult(t, h); r.err != nil || r.token != 9 || string(r.body[4:]) != "async" {
		t.Fatalf("Go: %+v", r)
	}
	n := uint64(len(cases) + 1)
	if st := cl.Stats(); st.Sent != n || st.Answered != n || st.InFlight != 0 || st.Connects != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestUDPEnvelope: actor and extra arrive intact, errors come back as
// *rpc.Error, and a request too large for the window is a bad request.
func TestUDPEnvelope(t *testing.T) {
	type seen struct {
		actor       int64
		flags       uint32
		intForward  int64
		timeout     int32
		stringFwd   string
		payloadSize int
	}
	seenc := make(chan seen, 1)
	srv := newUDPTestServer(t, func(r *srvReq) bool {
		if r.req.ActorID == 666 {
			r.answerError(rpc.CodeUnknownFunctionID, "udp says no")
			return true
		}
		e := &r.req.Extra
		seenc <- seen{r.req.ActorID, e.Flags, e.IntForward, e.CustomTimeoutMs, string(e.StringForward), len(r.req.Body)}
		r.answer(nil)
		return true
	})
	cl := clientOf(t, srv, udpOptions())
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	req := echoReq([]byte("env"))
	req.ActorID = 4242
	req.Extra.Flags = rpc.FlagIntForward | rpc.FlagStringForward
	req.Extra.IntForward = 77
	req.Extra.StringForward = []byte("user:9")
	req.Extra.SetCustomTimeoutMs(1500)
	if err := cl.Do(ctx, req, nil); err != nil {
		t.Fatal(err)
	}
	want := seen{4242, rpc.FlagIntForward | rpc.FlagStringForward | rpc.FlagCustomTimeoutMs, 77, 1500, "user:9", len(req.Body)}
	if got := <-seenc; got != want {
		t.Fatalf("server saw %+v, want %+v", got, want)
	}

	var resp Response
	err := cl.Do(ctx, &Request{ActorID: 666, Body: echoReq(nil).Body}, &resp)
	var re *rpc.Error
	if !errors.As(err, &re) || re.Code != rpc.CodeUnknownFunctionID || re.Description != "udp says no" || !resp.Result.IsError() {
		t.Fatalf("err %v, want *rpc.Error -2000", err)
	}
	huge := echoReq(make([]byte, 2<<20))
	if err := cl.Do(ctx, huge, nil); !errors.Is(err, ErrBadRequest) || !errors.Is(err, udp.ErrTooLarge) {
		t.Fatalf("2 MiB over UDP: %v, want ErrBadRequest wrapping udp.ErrTooLarge", err)
	}
}

// TestUDPConcurrent: 200 concurrent calls share one UDP connection; every
// answer reaches its own caller.
func TestUDPConcurrent(t *testing.T) {
	srv := newUDPTestServer(t, echo)
	cl := clientOf(t, srv, udpOptions())
	const n = 200
	errs := make(chan error, n)
	for i := range n {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			want := fmt.Appendf(nil, "call %04d %s", i, strings.Repeat("p", i*10))
			var resp Response
			err := cl.Do(ctx, echoReq(want), &resp)
			if err == nil && !bytes.Equal(resp.Body[4:], want) {
				err = fmt.Errorf("call %d got %q", i, resp.Body[4:min(len(resp.Body), 20)])
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if st := cl.Stats(); st.Answered != n || st.Connects != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestUDPDeadlineAndCancel: a local deadline fails with ErrTimeout and
// sends nothing; cancellation sends rpcCancelReq as tag and query id (not
// VK's tag-less UDP form), which the server parses.
func TestUDPDeadlineAndCancel(t *testing.T) {
	srv := newUDPTestServer(t, echoPrefixed)
	cl := clientOf(t, srv, udpOptions())

	h := make(chanHandler, 2)
	tqid, err := cl.Go(echoReq([]byte("late")), time.Now().Add(50*time.Millisecond), h, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r := srv.nextHeld(t); r.req.QueryID != tqid {
		t.Fatalf("held %d, want %d", r.req.QueryID, tqid)
	}
	if r := recvResult(t, h); !errors.Is(r.err, ErrTimeout) {
		t.Fatalf("err %v, want ErrTimeout", r.err)
	}

	qid, err := cl.Go(echoReq([]byte("cancel me")), time.Time{}, h, 2)
	if err != nil {
		t.Fatal(err)
	}
	r := srv.nextHeld(t)
	if r.req.QueryID != qid {
		t.Fatalf("held %d, want %d", r.req.QueryID, qid)
	}
	if !cl.Cancel(qid) {
		t.Fatal("Cancel: not pending")
	}
	if res := recvResult(t, h); !errors.Is(res.err, ErrCanceled) {
		t.Fatalf("err %v, want ErrCanceled", res.err)
	}
	waitCancel(t, srv, qid) // the only cancel: none for the timed-out call
	r.answer(nil)           // a late answer is ignored
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := cl.Do(ctx, echoReq([]byte("echo")), nil); err != nil {
		t.Fatalf("after cancel: %v", err)
	}
}

// TestUDPReset: the server forgets the connection (as after a restart);
// the client's next datagram draws obsoleteHash, its connection ends with
// udp.ErrReset, the call in flight fails with ErrConnLost, and calls after
// it go to a new connection.
func TestUDPReset(t *testing.T) {
	defer verifyNoLeaks(t)
	srv := newUDPTestServer(t, echoPrefixed)
	defer srv.close()
	states := make(chan bool, 16)
	o := udpOptions()
	o.OnState = func(_ string, up bool, _ error) { states <- up }
	cl := newClient(t, srv.addr(), o)
	defer cl.Close()

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	// An answer establishes the connection: from now on the client sends
	// in hash mode, which a server that forgot it cannot take for a new
	// connection.
	if err := cl.Do(ctx, echoReq([]byte("echo: first")), nil); err != nil {
		t.Fatal(err)
	}
	expectState(t, states, true)
	h := make(chanHandler, 2)
	if _, err := cl.Go(echoReq([]byte("one")), time.Now().Add(wait), h, 1); err != nil {
		t.Fatal(err)
	}
	srv.nextHeld(t)
	srv.dropConns()
	// Either this call's datagram reaches a server that no longer knows
	// the hash, or a resend or ack of the client did so first and this
	// call goes to the new connection.
	if _, err := cl.Go(echoReq([]byte("two")), time.Now().Add(wait), h, 2); err != nil {
		t.Fatal(err)
	}
	lost, oneDone, twoDone := 0, false, false
	for !oneDone || !twoDone {
		select {
		case r := <-h:
			var ce *ConnError
			if !errors.Is(r.err, ErrConnLost) || !errors.Is(r.err, udp.ErrReset) || !errors.As(r.err, &ce) || ce.Addr != srv.addr() {
				t.Fatalf("call %d: err %v, want *ConnError ErrConnLost caused by udp.ErrReset", r.token, r.err)
			}
			lost++
			oneDone, twoDone = oneDone || r.token == 1, twoDone || r.token == 2
		case r := <-srv.held:
			if string(r.req.Body[4:]) != "two" {
				t.Fatalf("held %q", r.req.Body[4:])
			}
			r.answer(nil)
			if res := recvResult(t, h); res.err != nil || res.token != 2 {
				t.Fatalf("call two on the new connection: %+v", res)
			}
			twoDone = true
		case <-time.After(wait):
			t.Fatal("the reset did not fail the call in flight")
		}
	}
	expectState(t, states, false)
	if err := cl.Do(ctx, echoReq([]byte("echo: back")), nil); err != nil {
		t.Fatalf("after reset: %v", err)
	}
	if st := cl.Stats(); st.Failed != uint64(lost) || st.Connects != 2 {
		t.Fatalf("stats %+v, %d lost", st, lost)
	}
}

// echoPrefixed echoes requests whose payload starts with "echo" and holds
// the others.
func echoPrefixed(r *srvReq) bool {
	if !bytes.HasPrefix(r.req.Body[4:], []byte("echo")) {
		return false
	}
	r.answer(nil)
	return true
}

// TestUDPSharedTransport: Clients to two servers share one Transport (one
// socket); closing them leaves it open for the next Client.
func TestUDPSharedTransport(t *testing.T) {
	defer verifyNoLeaks(t)
	a := newUDPTestServer(t, echo)
	defer a.close()
	b := newUDPTestServer(t, echo)
	defer b.close()
	tr := newUDPTransport(t)
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	for round := range 2 {
		// Round 1 dials the same peers again: the Transport must not
		// reuse the closed connections' generation (the servers would
		// take the new seqs for duplicates).
		ca := newClient(t, a.addr(), Options{Network: "udp4", UDP: tr})
		cb := newClient(t, b.addr(), Options{Network: "udp4", UDP: tr})
		errA := ca.Do(ctx, echoReq([]byte("shared")), nil)
		errB := cb.Do(ctx, echoReq([]byte("shared")), nil)
		ca.Close()
		cb.Close()
		if errA != nil || errB != nil {
			t.Fatalf("round %d: %v, %v", round, errA, errB)
		}
	}
	if a.n.Load() != 2 || b.n.Load() != 2 {
		t.Fatalf("servers saw %d and %d requests, want 2 each", a.n.Load(), b.n.Load())
	}
	if st := tr.Stats(); st.Conns != 0 {
		t.Fatalf("closed Clients left %d connections on the Transport", st.Conns)
	}
}

// TestUDPServerWantsFinIgnored: a UDP peer that sends rpcServerWantsFin
// does not retire the connection (wire.md §4.7 item 5).
func TestUDPServerWantsFinIgnored(t *testing.T) {
	srv := newUDPTestServer(t, func(r *srvReq) bool {
		_ = r.conn.pc.WritePacket(rpc.TypeServerWantsFin, nil, nil)
		r.answer(nil)
		return true
	})
	cl := clientOf(t, srv, udpOptions())
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for i := range 3 {
		if err := cl.Do(ctx, echoReq(nil), nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if st := cl.Stats(); st.Connects != 1 || srv.n.Load() != 3 {
		t.Fatalf("stats %+v, server saw %d", st, srv.n.Load())
	}
}

// TestUDPFailFast: an address the UDP transport cannot dial (IPv6) fails
// FailFast calls with ErrNoConnection.
func TestUDPFailFast(t *testing.T) {
	defer verifyNoLeaks(t)
	o := udpOptions()
	o.FailFast = true
	cl := newClient(t, "[::1]:4000", o)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	// The first call queues until the dial fails, then fails with it.
	for i := range 2 {
		err := cl.Do(ctx, echoReq(nil), nil)
		if !errors.Is(err, ErrNoConnection) || !strings.Contains(err.Error(), "IPv4 only") {
			t.Fatalf("call %d: err %v, want ErrNoConnection saying why", i, err)
		}
	}
}

func TestUDPBadOptions(t *testing.T) {
	tr := newUDPTransport(t)
	defer tr.Close()
	key := udpKey
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"no key", Options{Network: "udp"}, "needs Packet.Key"},
		{"short key", Options{Network: "udp", Packet: packet.Config{Key: key[:31]}}, "UDP key of 31 bytes"},
		{"short extra key", Options{Network: "udp4", Packet: packet.Config{Key: key, Keys: [][]byte{[]byte("x")}}}, "UDP key of 1 bytes"},
		{"conns", Options{Network: "udp", Packet: packet.Config{Key: key}, Conns: 2}, "Conns 2 over UDP"},
		{"udp6", Options{Network: "udp6", Packet: packet.Config{Key: key}}, "IPv4 only"},
		{"transport with tcp", Options{UDP: tr}, `Network "tcp"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New("127.0.0.1:1", tc.o)
			if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrBadOptions with %q", err, tc.want)
			}
		})
	}
	for _, o := range []Options{{Network: "udp", UDP: tr}, udpOptions()} {
		cl, err := New("127.0.0.1:1", o)
		if err != nil {
			t.Fatal(err)
		}
		cl.Close()
	}
}

// TestUDPTransportClosed: closing a shared Transport under a Client fails
// its calls in flight with ErrConnLost; redials then fail, so FailFast
// calls get ErrNoConnection.
func TestUDPTransportClosed(t *testing.T) {
	defer verifyNoLeaks(t)
	srv := newUDPTestServer(t, hold)
	defer srv.close()
	tr := newUDPTransport(t)
	cl := newClient(t, srv.addr(), Options{Network: "udp", UDP: tr, FailFast: true})
	defer cl.Close()
	h := make(chanHandler, 1)
	if _, err := cl.Go(echoReq(nil), time.Now().Add(wait), h, 1); err != nil {
		t.Fatal(err)
	}
	srv.nextHeld(t)
	_ = tr.Close()
	if r := recvResult(t, h); !errors.Is(r.err, ErrConnLost) || !errors.Is(r.err, udp.ErrClosed) {
		t.Fatalf("err %v, want ErrConnLost caused by udp.ErrClosed", r.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	// The call fails at once if the redial already failed, else it queues
	// until it does: ErrNoConnection either way.
	if err := cl.Do(ctx, echoReq(nil), nil); !errors.Is(err, ErrNoConnection) || !errors.Is(err, udp.ErrClosed) {
		t.Fatalf("err %v, want ErrNoConnection caused by udp.ErrClosed", err)
	}
}

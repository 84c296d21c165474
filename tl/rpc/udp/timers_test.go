package udp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock drives Config.Now and Config.NewTimer by hand.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clk    *fakeClock
	c      chan time.Time
	at     time.Time
	active bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{clk: f, c: make(chan time.Time, 1), at: f.now.Add(d), active: true}
	f.timers = append(f.timers, t)
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Reset(d time.Duration) {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	t.at, t.active = t.clk.now.Add(d), true
}

func (t *fakeTimer) Stop() {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	t.active = false
}

// Advance moves time and fires due timers.
func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	for _, t := range f.timers {
		if t.active && !f.now.Before(t.at) {
			t.active = false
			select {
			case t.c <- f.now:
			default:
			}
		}
	}
}

// runTimers does on the caller's goroutine what tr's timer loop does once
// clk.Advance wakes it: run every timer due at clk's time. A check that
// follows then sees its effect, and a check that nothing happened cannot
// pass merely because the loop had not run yet. (The loop may run the same
// timers too; a timer that ran is no longer due.)
func runTimers(tr *Transport, clk *fakeClock) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.fireTimers(clk.Now())
}

// TestDelayedAckNotResent: an answer the peer does not follow with a
// request is acked by the peer's ack timer, 30 ms after it arrived. The
// resend timer must not fire before that ack can be back: with VK's 30 ms
// it always did, and every such answer went out twice. Each side has its
// own clock, so the server's time passes the ack delay while the client's
// ack has not been sent.
func TestDelayedAckNotResent(t *testing.T) {
	leakCheck(t)
	sclk, cclk := newFakeClock(), newFakeClock()
	srv := newTransport(t, Config{Now: sclk.Now, NewTimer: sclk.NewTimer})
	cli := newTransport(t, Config{Now: cclk.Now, NewTimer: cclk.NewTimer})
	var c, s *Conn
	for round := range 3 { // the timeout must not adapt down to a resend
		req, ans := fmt.Appendf(nil, "request %d", round), fmt.Appendf(nil, "answer %d", round)
		if round == 0 {
			c, s = openPair(t, cli, srv, req)
			defer c.Close()
			defer s.Close()
		} else {
			if err := c.WritePacket(1, nil, req); err != nil {
				t.Fatal(err)
			}
			readOne(t, s, 1, req)
		}
		if err := s.WritePacket(2, nil, ans); err != nil {
			t.Fatal(err)
		}
		readOne(t, c, 2, ans)
		sclk.Advance(ackDelay)
		runTimers(srv, sclk)
		if n := srv.Stats().ChunksResent; n != 0 {
			t.Fatalf("round %d: %d chunks resent at the peer's ack delay, before its ack could arrive", round, n)
		}
		cclk.Advance(ackDelay) // the client's ack timer: its ack-only datagram
		runTimers(cli, cclk)
		waitFor(t, "the ack", func() bool {
			srv.mu.Lock()
			defer srv.mu.Unlock()
			return s.out.ackPrefix == s.out.sentEnd && s.resend.at.IsZero()
		})
		sclk.Advance(maxResend)
		runTimers(srv, sclk)
		if n := srv.Stats().ChunksResent; n != 0 {
			t.Fatalf("round %d: %d chunks resent after they were acked", round, n)
		}
	}
}

// TestAckTimer: a receiver that has nothing to say acks after 30 ms of its
// clock, not before, and the sender's resend timer then stops.
func TestAckTimer(t *testing.T) {
	leakCheck(t)
	clk := newFakeClock()
	srv := newTransport(t, Config{Now: clk.Now, NewTimer: clk.NewTimer})
	cli := newTransport(t, Config{})
	c, err := cli.Dial(addrOf(srv))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WritePacket(1, nil, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	s := acceptWithin(t, srv, 5*time.Second)
	if r := recvWithin(t, reader(s), 5*time.Second); r.err != nil || string(r.body) != "ping" {
		t.Fatalf("got %v %q", r.err, r.body)
	}
	if n := srv.Stats().AcksOnly; n != 0 {
		t.Fatalf("%d acks before the ack delay", n)
	}
	clk.Advance(ackDelay - time.Millisecond)
	if n := srv.Stats().AcksOnly; n != 0 {
		t.Fatalf("%d acks before the ack delay", n)
	}
	clk.Advance(time.Millisecond)
	waitFor(t, "the ack", func() bool {
		cli.mu.Lock()
		defer cli.mu.Unlock()
		return c.out.ackPrefix == 1 && c.resend.at.IsZero()
	})
	if n := srv.Stats().AcksOnly; n != 1 {
		t.Fatalf("%d ack-only datagrams, want 1", n)
	}
	_ = s.Close()
	_ = c.Close()
}

// TestRegenerate: user data sent and nothing heard for 5 minutes resets
// the connection; the next Dial uses generation+1, and the peer accepts it
// as a new connection.
func TestRegenerate(t *testing.T) {
	leakCheck(t)
	clk := newFakeClock()
	srv := newTransport(t, Config{})
	cli := newTransport(t, Config{Now: clk.Now, NewTimer: clk.NewTimer})
	c, err := cli.Dial(addrOf(srv))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WritePacket(1, nil, []byte("one")); err != nil {
		t.Fatal(err)
	}
	s := acceptWithin(t, srv, 5*time.Second)
	if r := recvWithin(t, reader(s), 5*time.Second); r.err != nil {
		t.Fatal(r.err)
	}
	waitFor(t, "the server's answer", func() bool { // its ack makes the client established
		cli.mu.Lock()
		defer cli.mu.Unlock()
		return c.state == stEstablished && c.silentSince.IsZero()
	})
	// The server falls silent (a live one that forgot us would answer
	// obsoleteHash instead).
	_ = s.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.WritePacket(2, nil, []byte("two")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(regenerateAfter - time.Second)
	runTimers(cli, clk)
	select {
	case <-c.Done():
		t.Fatal("reset before 5 minutes")
	default:
	}
	clk.Advance(time.Second)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("no regeneration after 5 minutes")
	}
	if err := c.Err(); !errors.Is(err, ErrReset) {
		t.Fatalf("err %v, want ErrReset", err)
	}
	c2, err := cli.Dial(c.RemoteAddrPort())
	if err != nil {
		t.Fatal(err)
	}
	cli.mu.Lock()
	gen := c2.gen
	cli.mu.Unlock()
	if c2 == c || gen != 1 {
		t.Fatalf("redial: same conn %v, generation %d", c2 == c, gen)
	}
	if st := cli.Stats(); st.Resets != 1 {
		t.Fatalf("resets %d", st.Resets)
	}
}

// dropSocket drops the next datagrams it is told to, and writes the rest.
type dropSocket struct {
	*net.UDPConn
	drop atomic.Int32
}

func (s *dropSocket) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if s.drop.Add(-1) >= 0 {
		return len(b), nil
	}
	s.drop.Store(0)
	return s.UDPConn.WriteToUDPAddrPort(b, addr)
}

// TestResendTimeoutRecovers: a lost request is resent when the resend
// timer fires, which lengthens the timeout (the prefix lagged); once the
// answer acks it, the timeout shrinks back. Before, an ack that disarmed
// the timer kept the longer timeout, so each loss on a request-answer
// connection lengthened every later one's wait for good (×1.5 a loss, up
// to 60 s): a burst that overflowed a socket's buffer a few times left the
// connection resending after seconds.
func TestResendTimeoutRecovers(t *testing.T) {
	leakCheck(t)
	clk := newFakeClock()
	sock := &dropSocket{UDPConn: listen(t)}
	cli, err := New(sock, Config{Keys: [][]byte{testKey}, Now: clk.Now, NewTimer: clk.NewTimer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	srv := newTransport(t, Config{})
	c, s := openPair(t, cli, srv, []byte("hello"))
	defer c.Close()
	defer s.Close()
	cr, sr := reader(c), reader(s)
	timeout := func() time.Duration {
		cli.mu.Lock()
		defer cli.mu.Unlock()
		return c.resend.timeout
	}
	acked := func() bool {
		cli.mu.Lock()
		defer cli.mu.Unlock()
		return c.out.ackPrefix == c.out.sentEnd && c.resend.at.IsZero()
	}
	// The server acks "hello" after its ack delay, on its own clock; a
	// request sent before would be resent only in the timer's next round.
	waitFor(t, "the ack of hello", acked)
	recv := func(ch <-chan readResult, typ uint32, want []byte) {
		t.Helper()
		if r := recvWithin(t, ch, 5*time.Second); r.err != nil || r.typ != typ || !bytes.Equal(r.body, want) {
			t.Fatalf("read %d %q %v, want %d %q", r.typ, r.body, r.err, typ, want)
		}
	}
	for round := range 4 {
		req, ans := fmt.Appendf(nil, "request %d", round), fmt.Appendf(nil, "answer %d", round)
		sock.drop.Store(1)
		if err := c.WritePacket(1, nil, req); err != nil {
			t.Fatal(err)
		}
		d := timeout()
		clk.Advance(d)
		runTimers(cli, clk) // the request's resend
		if got := timeout(); got != d*3/2 {
			t.Fatalf("round %d: timeout %v after a lagging fire, want %v", round, got, d*3/2)
		}
		recv(sr, 1, req)
		if err := s.WritePacket(2, nil, ans); err != nil {
			t.Fatal(err)
		}
		recv(cr, 2, ans) // the answer acks the request
		waitFor(t, "the request's ack", acked)
		if got := timeout(); got != minResend {
			t.Fatalf("round %d: resend timeout %v once everything is acked, want it back at %v", round, got, minResend)
		}
	}
}

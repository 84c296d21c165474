package udp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

func TestLoopbackEcho(t *testing.T) {
	leakCheck(t)
	srv := newTransport(t, Config{})
	cli := newTransport(t, Config{})
	c, err := cli.Dial(addrOf(srv))
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{0, 1, 100, 995, 996, 997, 2000, 10_000, 100_000}
	for i, n := range sizes {
		body := bytes.Repeat([]byte{byte(i + 1)}, n)
		if err := c.WritePacket(uint32(0x1000+i), nil, body); err != nil {
			t.Fatal(err)
		}
	}
	s := acceptWithin(t, srv, 5*time.Second)
	sr := reader(s)
	got := map[uint32][]byte{}
	for range sizes {
		r := recvWithin(t, sr, 5*time.Second)
		if r.err != nil {
			t.Fatal(r.err)
		}
		got[r.typ] = r.body
		if err := s.WritePacket(r.typ+1, []byte("re:"), r.body); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range sizes {
		b, ok := got[uint32(0x1000+i)]
		if !ok || len(b) != n || (n > 0 && b[n-1] != byte(i+1)) {
			t.Fatalf("message %d: got %d bytes (present %v), want %d", i, len(b), ok, n)
		}
	}
	cr := reader(c)
	for range sizes {
		r := recvWithin(t, cr, 5*time.Second)
		if r.err != nil || !bytes.HasPrefix(r.body, []byte("re:")) {
			t.Fatalf("reply: %v %q", r.err, r.body[:min(len(r.body), 8)])
		}
	}
	if c.PeerPID() != srv.LocalPID() {
		t.Fatalf("peer pid %v, want %v", c.PeerPID(), srv.LocalPID())
	}
	_ = c.Close()
	_ = s.Close()
	for _, ch := range []<-chan readResult{sr, cr} {
		r := recvWithin(t, ch, 5*time.Second)
		if !errors.Is(r.err, ErrClosed) {
			t.Fatalf("after close: %v", r.err)
		}
	}
	if st := srv.Stats(); st.DroppedTotal() != 0 || st.Accepted != 1 || st.MessagesIn != uint64(len(sizes)) {
		t.Fatalf("server stats %+v", st)
	}
}

// TestTryWritePacketFull: toward a peer that never acks, the unacknowledged
// queue fills to the window; TryWritePacket then queues nothing and says
// so at once, TryWritePacketOver's extra room still takes a small message,
// and a closed connection reports its error.
func TestTryWritePacketFull(t *testing.T) {
	leakCheck(t)
	silent := listen(t) // a socket nobody reads: no acks ever come back
	defer silent.Close()
	cli := newTransport(t, Config{MaxWindow: 8})
	c, err := cli.Dial(silent.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte{7}, 900)
	accepted := 0
	for i := 0; i < 100; i++ {
		ok, err := c.TryWritePacket(0x1000, nil, body)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		accepted++
	}
	if accepted == 0 || accepted >= 100 {
		t.Fatalf("accepted %d messages of 900 bytes into a window of 8 chunks; want a few, then full", accepted)
	}
	if ok, err := c.TryWritePacket(0x1000, nil, body); ok || err != nil {
		t.Fatalf("full queue: got ok=%v err=%v, want false, nil", ok, err)
	}
	if ok, err := c.TryWritePacketOver(4096, 0x1001, nil, []byte("dropped: 3")); !ok || err != nil {
		t.Fatalf("with extra room: got ok=%v err=%v, want true, nil", ok, err)
	}
	_ = c.Close()
	if ok, err := c.TryWritePacket(0x1000, nil, nil); ok || err == nil {
		t.Fatalf("closed: got ok=%v err=%v, want an error", ok, err)
	}
}

// TestCloseGraceful: an accepted connection asked to close (or park)
// gracefully stays open while its answer is unacked, and while a message
// the peer sent after it is unread; the reader still gets that message,
// and the connection closes (or parks) once it is settled. The client's
// clock is held, so its ack can only ride on its own data.
func TestCloseGraceful(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(*Conn)
		want error
	}{
		{"close", (*Conn).CloseGraceful, ErrClosed},
		{"park", (*Conn).ParkGraceful, ErrParked},
	} {
		t.Run(tc.name, func(t *testing.T) { testCloseGraceful(t, tc.end, tc.want) })
	}
}

func testCloseGraceful(t *testing.T, end func(*Conn), want error) {
	leakCheck(t)
	p := newClockedPair(t)
	cclk, sclk, cli, srv, c, s := p.cclk, p.sclk, p.cli, p.srv, p.c, p.s
	if err := s.WritePacket(2, nil, []byte("answer")); err != nil {
		t.Fatal(err)
	}
	end(s)
	readOne(t, c, 2, []byte("answer"))
	if err := s.Err(); err != nil {
		t.Fatalf("closed with its answer unacked: %v", err)
	}
	if err := c.WritePacket(1, nil, []byte("late")); err != nil { // acks the answer
		t.Fatal(err)
	}
	waitFor(t, "the answer acked", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return s.out.ackPrefix == s.out.next
	})
	if err := s.Err(); err != nil {
		t.Fatalf("closed with a message unread: %v", err)
	}
	readOne(t, s, 1, []byte("late"))
	// Our ack of "late" goes out on the ack timer: c is settled, but its
	// reader holds "late" and may answer it.
	sclk.Advance(ackDelay)
	runTimers(srv, sclk)
	srv.mu.Lock()
	acked := s.settled()
	srv.mu.Unlock()
	if !acked {
		t.Fatal("not settled after the ack timer")
	}
	if err := s.Err(); err != nil {
		t.Fatalf("ended while its reader held a message: %v", err)
	}
	if err := s.WritePacket(2, nil, []byte("late answer")); err != nil {
		t.Fatalf("answer to the held message: %v", err)
	}
	readOne(t, c, 2, []byte("late answer"))
	ended := make(chan error, 1)
	go func() { // the reader comes back: c ends once the peer acks
		_, _, err := s.ReadPacket()
		ended <- err
	}()
	cclk.Advance(ackDelay)
	runTimers(cli, cclk)
	select {
	case err := <-ended:
		if !errors.Is(err, want) {
			t.Fatalf("read at the end: %v, want %v", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not ended once settled and the reader was back")
	}
	if err := s.Err(); !errors.Is(err, want) {
		t.Fatalf("err %v, want %v", err, want)
	}
	if st := srv.Stats(); st.Conns != 0 || st.Dormant != int(st.Parked) {
		t.Fatalf("conns %d, dormant %d, parked %d", st.Conns, st.Dormant, st.Parked)
	}
}

// TestCancelGraceful: a reader that took a message after ParkGraceful and
// then keeps the connection (a refused peer admitted after all) finds it
// open however long the peer took to ack, and it stays open once settled;
// on an ended connection CancelGraceful reports false.
func TestCancelGraceful(t *testing.T) {
	leakCheck(t)
	p := newClockedPair(t)
	cclk, sclk, cli, srv, c, s := p.cclk, p.sclk, p.cli, p.srv, p.c, p.s
	s.ParkGraceful()
	if err := c.WritePacket(1, nil, []byte("second")); err != nil {
		t.Fatal(err)
	}
	readOne(t, s, 1, []byte("second"))
	sclk.Advance(ackDelay) // our ack of both goes out: settled but for the reader
	runTimers(srv, sclk)
	if !s.CancelGraceful() {
		t.Fatalf("CancelGraceful on an open connection: false (%v)", s.Err())
	}
	got := make(chan []byte, 1)
	go func() { // the reader comes back: nothing ends c now
		_, body, err := s.ReadPacket()
		if err != nil {
			t.Errorf("read after CancelGraceful: %v", err)
		}
		got <- append([]byte(nil), body...)
	}()
	if err := s.WritePacket(2, nil, []byte("answer")); err != nil {
		t.Fatal(err)
	}
	readOne(t, c, 2, []byte("answer"))
	cclk.Advance(ackDelay) // the peer acks: settled again
	runTimers(cli, cclk)
	waitFor(t, "the answer acked", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return s.settled()
	})
	if err := s.Err(); err != nil {
		t.Fatalf("ended after CancelGraceful: %v", err)
	}
	if err := c.WritePacket(1, nil, []byte("third")); err != nil {
		t.Fatal(err)
	}
	if body := <-got; string(body) != "third" {
		t.Fatalf("read %q, want third", body)
	}
	_ = s.Close()
	if s.CancelGraceful() {
		t.Fatal("CancelGraceful on a closed connection: true")
	}
}

// clockedPair is a connection between two transports, each on a fake
// clock of its own: c dialled by cli, s accepted by srv after "request".
type clockedPair struct {
	cclk, sclk *fakeClock
	cli, srv   *Transport
	c, s       *Conn
}

func newClockedPair(t *testing.T) *clockedPair {
	t.Helper()
	p := &clockedPair{cclk: newFakeClock(), sclk: newFakeClock()}
	p.srv = newTransport(t, Config{Now: p.sclk.Now, NewTimer: p.sclk.NewTimer})
	p.cli = newTransport(t, Config{Now: p.cclk.Now, NewTimer: p.cclk.NewTimer})
	p.c, p.s = openPair(t, p.cli, p.srv, []byte("request"))
	t.Cleanup(func() { _ = p.c.Close() })
	return p
}

// TestBatchedWrites: messages written in a packet.Batch wait for its
// Flush, then leave packed (10 small ones in one datagram) and arrive in
// order; the receiver's Buffered says whether a whole message waits, so
// its reader could work through them as one burst.
func TestBatchedWrites(t *testing.T) {
	leakCheck(t)
	cli, srv := newTransport(t, Config{}), newTransport(t, Config{})
	c, s := openPair(t, cli, srv, []byte("hello"))
	defer c.Close()
	defer s.Close()
	if s.Buffered() {
		t.Fatal("Buffered with nothing queued")
	}
	// Once "hello" is acked, the client sends nothing of its own accord.
	waitFor(t, "the ack of hello", func() bool {
		cli.mu.Lock()
		defer cli.mu.Unlock()
		return c.out.ackPrefix == c.out.sentEnd && c.resend.at.IsZero()
	})
	before := cli.Stats()
	var b packet.Batch
	for i := range 10 {
		if ok, err := c.TryWritePacketIn(&b, 0, 1, nil, fmt.Appendf(nil, "message %d", i)); !ok || err != nil {
			t.Fatalf("write %d: %v %v", i, ok, err)
		}
	}
	if n := cli.Stats().DatagramsOut - before.DatagramsOut; n != 0 {
		t.Fatalf("%d datagrams before the batch's Flush", n)
	}
	b.Flush()
	if n := cli.Stats().DatagramsOut - before.DatagramsOut; n != 1 {
		t.Fatalf("10 small messages left in %d datagrams, want 1", n)
	}
	waitFor(t, "the messages queued", s.Buffered)
	for i := range 10 {
		readOne(t, s, 1, fmt.Appendf(nil, "message %d", i))
	}
	if s.Buffered() {
		t.Fatal("Buffered after every message was read")
	}
}

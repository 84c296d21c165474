package udp

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"
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

package packet

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// TestPingWhenIdle: a silent peer gets pings; answering keeps the
// connection alive, not answering closes it with ErrTimeout.
func TestPingWhenIdle(t *testing.T) {
	defer verifyNoLeaks(t)
	p, c := newRawPeer(t, Config{PacketTimeout: 50 * time.Millisecond})
	defer p.nc.Close()
	defer c.Close()
	ch := readAsync(c)
	for id := uint64(1); id <= 3; id++ {
		got := p.readN(pingLen)
		want := appendFrame(nil, castagnoli(), uint32(id-1), TypePing, nil, le64(id), false)
		if !bytes.Equal(got, want) {
			t.Fatalf("ping %d\n got %x\nwant %x", id, got, want)
		}
		if id < 3 {
			p.raw(p.frame(TypePong, le64(id)))
		}
	}
	r := waitRecv(t, ch, 5*time.Second)
	wantErr(t, r.err, ErrTimeout)
	_ = p.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if rest, err := io.ReadAll(p.nc); err != nil || len(rest) != 0 {
		t.Fatalf("after timeout: %x %v", rest, err)
	}
}

func TestPingAnswered(t *testing.T) {
	defer verifyNoLeaks(t)
	p, c := newRawPeer(t, Config{})
	defer p.nc.Close()
	defer c.Close()
	ch := readAsync(c)
	p.raw(p.frame(TypePing, le64(42)))
	p.raw(p.frame(TypePing, le64(43))) // a second ping is fine: the first pong is already queued
	p.raw(p.frame(77, []byte("after pings")))
	if r := waitRecv(t, ch, 5*time.Second); r.err != nil || r.typ != 77 || string(r.body) != "after pings" {
		t.Fatalf("%#x %q %v", r.typ, r.body, r.err)
	}
	got := p.readN(2 * pingLen)
	want := appendFrame(appendFrame(nil, castagnoli(), 0, TypePong, nil, le64(42), false), castagnoli(), 1, TypePong, nil, le64(43), false)
	if !bytes.Equal(got, want) {
		t.Fatalf("pongs\n got %x\nwant %x", got, want)
	}
}

func TestPongWrongID(t *testing.T) {
	defer verifyNoLeaks(t)
	p, c := newRawPeer(t, Config{PacketTimeout: 50 * time.Millisecond})
	defer p.nc.Close()
	defer c.Close()
	ch := readAsync(c)
	p.readN(pingLen)
	p.raw(p.frame(TypePong, le64(7)))
	wantErr(t, waitRecv(t, ch, 5*time.Second).err, ErrPingPong)
}

// TestKeepAliveBetweenOurs: two of our connections, the client with a short
// timeout: it pings repeatedly, every ping is answered, nothing closes.
func TestKeepAliveBetweenOurs(t *testing.T) {
	defer verifyNoLeaks(t)
	for _, aes := range []bool{false, true} {
		nc, ns := tcpPair(t)
		cw := &countingConn{Conn: nc, ch: make(chan struct{}, 1)}
		c, s := handshakePair(t, cw, ns, Config{PacketTimeout: 20 * time.Millisecond, Key: testKey, ForceEncryption: aes}, Config{Key: testKey})
		cr, sr := readAsync(c), readAsync(s)
		for range 5 { // each write after the handshake is a ping answered in time
			select {
			case <-cw.ch:
			case r := <-cr:
				t.Fatalf("client reader ended: %v", r.err)
			case <-time.After(5 * time.Second):
				t.Fatal("no ping")
			}
		}
		if err := c.Err(); err != nil {
			t.Fatalf("keep-alive failed: %v", err)
		}
		c.Close()
		s.Close()
		wantErr(t, waitRecv(t, cr, 5*time.Second).err, ErrClosed)
		if r := waitRecv(t, sr, 5*time.Second); r.err == nil { // EOF, reset or ErrClosed: whichever came first
			t.Fatal("server reader did not end")
		}
	}
}

package packet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type transport struct {
	name string
	pair func(testing.TB) (net.Conn, net.Conn)
}

var transports = []transport{
	{"pipe", func(testing.TB) (net.Conn, net.Conn) { return pipePair() }},
	{"tcp", tcpPair},
}

func TestRoundTrip(t *testing.T) {
	defer verifyNoLeaks(t)
	sizes := []int{0, 1, 3, 4, 5, 100, 70000, 1 << 20}
	for _, tr := range transports {
		for _, v := range []Version{Version0, Version1, Version2} {
			for _, aes := range []bool{false, true} {
				name := fmt.Sprintf("%s/v%d/aes=%v", tr.name, v.Wire(), aes)
				t.Run(name, func(t *testing.T) {
					nc, ns := tr.pair(t)
					cc := Config{ProtocolVersion: v, Key: testKey, ForceEncryption: aes}
					sc := Config{Keys: [][]byte{otherKey, testKey}, ForceEncryption: aes}
					c, s := handshakePair(t, nc, ns, cc, sc)
					defer c.Close()
					defer s.Close()
					if c.Encrypted() != aes || s.Encrypted() != aes || c.ProtocolVersion() != v.Wire() || s.ProtocolVersion() != v.Wire() {
						t.Fatalf("client enc %v v%d, server enc %v v%d", c.Encrypted(), c.ProtocolVersion(), s.Encrypted(), s.ProtocolVersion())
					}
					if aes && (c.KeyID() != keyID(testKey) || s.KeyID() != keyID(testKey)) {
						t.Fatalf("key ids %x %x", c.KeyID(), s.KeyID())
					}
					if s.PeerPID() != c.LocalPID() || c.PeerPID() != s.LocalPID() || c.PeerPID().Port() != 2442 && tr.name == "pipe" {
						t.Fatalf("pids: client %v/%v server %v/%v", c.LocalPID(), c.PeerPID(), s.LocalPID(), s.PeerPID())
					}
					for _, n := range sizes {
						if v == Version0 && n%4 != 0 {
							if err := c.WritePacket(1, nil, make([]byte, n)); !errors.Is(err, ErrBadLength) {
								t.Fatalf("v0 body %d: %v", n, err)
							}
							continue
						}
						body := bytes.Repeat([]byte{byte(n)}, n)
						for i := range body {
							body[i] = byte(i * 7)
						}
						split := n / 3 &^ 3
						for _, dir := range []struct{ w, r *Conn }{{c, s}, {s, c}} {
							ch := readAsync(dir.r)
							if err := dir.w.WritePacket(uint32(0x1000+n), body[:split], body[split:]); err != nil {
								t.Fatal(err)
							}
							got := waitRecv(t, ch, 10*time.Second)
							if got.err != nil || got.typ != uint32(0x1000+n) || !bytes.Equal(got.body, body) {
								t.Fatalf("size %d: type %#x, %d bytes, %v", n, got.typ, len(got.body), got.err)
							}
						}
					}
				})
			}
		}
	}
}

// TestConcurrentWriters: 64 goroutines write at once; every packet arrives
// once, per-writer order is kept, and writes are coalesced.
func TestConcurrentWriters(t *testing.T) {
	defer verifyNoLeaks(t)
	for _, aes := range []bool{false, true} {
		t.Run(fmt.Sprintf("aes=%v", aes), func(t *testing.T) {
			nc, ns := tcpPair(t)
			cw := &countingConn{Conn: nc}
			c, s := handshakePair(t, cw, ns, Config{Key: testKey, ForceEncryption: aes}, Config{Key: testKey, ForceEncryption: aes})
			defer c.Close()
			defer s.Close()
			const writers, each = 64, 200
			start := cw.writes()
			done := make(chan error, 1)
			go func() {
				next := make([]uint32, writers)
				for i := 0; i < writers*each; i++ {
					typ, body, err := s.ReadPacket()
					if err != nil {
						done <- err
						return
					}
					w, k := binary.LittleEndian.Uint32(body), binary.LittleEndian.Uint32(body[4:])
					if typ != 7 || w >= writers || k != next[w] {
						done <- fmt.Errorf("packet %d: type %d writer %d index %d, want %d", i, typ, w, k, next[w])
						return
					}
					next[w]++
				}
				done <- nil
			}()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					var b [24]byte
					for k := range each {
						binary.LittleEndian.PutUint32(b[:], uint32(w))
						binary.LittleEndian.PutUint32(b[4:], uint32(k))
						if err := c.WritePacket(7, b[:8], b[8:]); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			waitOK(t, done, 20*time.Second, "reader")
			if err := c.Flush(); err != nil {
				t.Fatal(err)
			}
			w := cw.writes() - start
			t.Logf("%d packets in %d writes (%.3f writes/packet)", writers*each, w, float64(w)/float64(writers*each))
			if w >= writers*each {
				t.Fatalf("no coalescing: %d writes for %d packets", w, writers*each)
			}
		})
	}
}

// countingConn counts Write calls (syscalls, for a TCP conn).
type countingConn struct {
	net.Conn
	mu sync.Mutex
	n  int
	ch chan struct{} // optional: one send per write, dropped if full
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	if c.ch != nil {
		select {
		case c.ch <- struct{}{}:
		default:
		}
	}
	return c.Conn.Write(b)
}

func (c *countingConn) writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func TestCloseSemantics(t *testing.T) {
	defer verifyNoLeaks(t)
	c, s := plainPair(t)
	ch := readAsync(s)
	if err := c.WritePacket(5, nil, []byte("last words")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseGraceful(); err != nil {
		t.Fatal(err)
	}
	if r := waitRecv(t, ch, 5*time.Second); r.err != nil || string(r.body) != "last words" {
		t.Fatalf("%q %v", r.body, r.err)
	}
	r := waitRecv(t, readAsync(s), 5*time.Second)
	if !errors.Is(r.err, io.EOF) {
		t.Fatalf("after peer close: %v", r.err)
	}
	if err := c.WritePacket(5, nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if _, _, err := c.ReadPacket(); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed")
	}
	s.Close()
	if _, _, err := s.ReadPacket(); !errors.Is(err, io.EOF) {
		t.Fatalf("sticky error changed: %v", err)
	}
	if err := c.WritePacket(1, nil, make([]byte, MaxBodyLen+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too large: %v", err)
	}
}

// TestCloseUnblocksWriters: writers blocked on back-pressure return
// ErrClosed when the connection is closed.
func TestCloseUnblocksWriters(t *testing.T) {
	defer verifyNoLeaks(t)
	nc, ns := pipePair() // nobody reads the server side: writes block
	ch := make(chan hsResult, 1)
	go func() {
		c, err := ServerHandshake(ns, Config{})
		ch <- hsResult{c, err}
	}()
	c, err := ClientHandshake(nc, Config{WriteBufferLimit: 1024})
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.c.Close()
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			var err error
			for err == nil {
				err = c.WritePacket(1, nil, make([]byte, 4000))
			}
			errs <- err
		}()
	}
	// Writers fill the pipe and the pending buffer, then block; Close
	// must release every one of them.
	c.Close()
	for range 4 {
		select {
		case err := <-errs:
			wantErr(t, err, ErrClosed)
		case <-time.After(5 * time.Second):
			t.Fatal("writer still blocked after Close")
		}
	}
}

// TestRawReads: over TCP a started connection reads with raw system calls,
// and a peer's reset comes back as the usual "read tcp" error, ECONNRESET
// inside; over a net.Conn without a socket (net.Pipe) reads stay plain.
func TestRawReads(t *testing.T) {
	defer verifyNoLeaks(t)
	nc, ns := tcpPair(t)
	c, s := handshakePair(t, nc, ns, Config{}, Config{})
	defer c.Close()
	defer s.Close()
	if rawIO && s.rd.raw == nil {
		t.Fatal("a started TCP connection reads through net.Conn, want raw reads")
	}
	ch := readAsync(s)
	if err := c.WritePacket(5, nil, []byte("before the reset")); err != nil {
		t.Fatal(err)
	}
	if r := waitRecv(t, ch, 5*time.Second); r.err != nil || string(r.body) != "before the reset" {
		t.Fatalf("%q %v", r.body, r.err)
	}
	if err := nc.(*net.TCPConn).SetLinger(0); err != nil { // close sends RST
		t.Fatal(err)
	}
	c.Close()
	r := waitRecv(t, readAsync(s), 5*time.Second)
	if !errors.Is(r.err, syscall.ECONNRESET) || !strings.Contains(r.err.Error(), "read tcp 127.0.0.1:") {
		t.Fatalf("after the peer's reset: %v, want read tcp ...: connection reset by peer", r.err)
	}

	pc, ps := pipePair()
	c2, s2 := handshakePair(t, pc, ps, Config{}, Config{})
	defer c2.Close()
	defer s2.Close()
	if s2.rd.raw != nil {
		t.Fatal("a net.Pipe connection got raw reads")
	}
}

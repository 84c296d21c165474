package packet

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestTryWritePacketFull: against a peer that does not read, TryWritePacket
// reports full instead of waiting; once the peer reads, everything accepted
// arrives in order and writing works again.
func TestTryWritePacketFull(t *testing.T) {
	defer verifyNoLeaks(t)
	for _, aes := range []bool{false, true} {
		t.Run(fmt.Sprintf("aes=%v", aes), func(t *testing.T) {
			nc, ns := tcpPair(t)
			cfg := Config{Key: testKey, ForceEncryption: aes, WriteBufferLimit: 64 << 10}
			c, s := handshakePair(t, nc, ns, cfg, Config{Key: testKey, ForceEncryption: aes})
			defer c.Close()
			defer s.Close()
			body := make([]byte, 4096)
			accepted := 0
			for ; ; accepted++ {
				if accepted > 100000 {
					t.Fatal("TryWritePacket never reported full against a peer that does not read")
				}
				binary.LittleEndian.PutUint32(body, uint32(accepted))
				ok, err := c.TryWritePacket(9, nil, body)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
			}
			done := make(chan error, 1)
			go func() {
				for i := 0; i <= accepted; i++ {
					typ, b, err := s.ReadPacket()
					if err != nil {
						done <- err
						return
					}
					if got := binary.LittleEndian.Uint32(b); typ != 9 || int(got) != i {
						done <- fmt.Errorf("packet %d: type %d index %d", i, typ, got)
						return
					}
				}
				done <- nil
			}()
			// The last index is written blocking: it waits for the reader.
			binary.LittleEndian.PutUint32(body, uint32(accepted))
			if err := c.WritePacket(9, nil, body); err != nil {
				t.Fatal(err)
			}
			waitOK(t, done, 20*time.Second, "reader")
			if ok, err := c.TryWritePacket(9, nil, body[:4]); !ok || err != nil {
				t.Fatalf("after drain: %v %v", ok, err)
			}
		})
	}
}

// TestTryWritePacketClosed: after Close the connection's error comes back.
func TestTryWritePacketClosed(t *testing.T) {
	defer verifyNoLeaks(t)
	c, s := plainPair(t)
	defer s.Close()
	c.Close()
	if ok, err := c.TryWritePacket(9, nil, []byte("body")); !ok {
		t.Fatal("closed reported as full")
	} else {
		wantErr(t, err, ErrClosed)
	}
	if ok, err := c.TryWritePacket(9, nil, make([]byte, MaxBodyLen+1)); !ok {
		t.Fatal("too large reported as full")
	} else {
		wantErr(t, err, ErrTooLarge)
	}
}

// TestInlineWritersInOrder: writers on a plain TCP socket (where writes may
// go inline, with partial writes left to the flusher) lose nothing and keep
// each writer's order, with small and large packets mixed.
func TestInlineWritersInOrder(t *testing.T) {
	defer verifyNoLeaks(t)
	nc, ns := tcpPair(t)
	c, s := handshakePair(t, nc, ns, Config{WriteBufferLimit: 256 << 10}, Config{})
	defer c.Close()
	defer s.Close()
	if c.raw == nil {
		t.Fatal("inline writes not enabled on a plain TCP connection")
	}
	const writers, each = 16, 300
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
			if typ != 7 || w >= writers || k != next[w] || len(body) != size(k) {
				done <- fmt.Errorf("packet %d: type %d writer %d index %d (want %d) len %d", i, typ, w, k, next[w], len(body))
				return
			}
			next[w]++
		}
		done <- nil
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			b := make([]byte, 200<<10)
			for k := range each {
				binary.LittleEndian.PutUint32(b, uint32(w))
				binary.LittleEndian.PutUint32(b[4:], uint32(k))
				var err error
				if k%2 == 0 {
					err = c.WritePacket(7, b[:8], b[8:size(uint32(k))])
				} else {
					for {
						var ok bool
						if ok, err = c.TryWritePacket(7, b[:8], b[8:size(uint32(k))]); ok {
							break
						}
						// Full: wait for the flusher to make room, as WritePacket would.
						if err = c.Flush(); err != nil {
							break
						}
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	waitOK(t, done, 20*time.Second, "reader")
}

// size varies packet sizes so that some inline writes are partial.
func size(k uint32) int {
	if k%50 == 7 {
		return 200 << 10
	}
	return 8 + int(k%13)*4
}

// TestTryWritePacketAlloc: queueing (and writing inline) allocates nothing.
func TestTryWritePacketAlloc(t *testing.T) {
	defer verifyNoLeaks(t)
	c, s := plainPair(t)
	defer c.Close()
	defer s.Close()
	body := make([]byte, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, _, err := s.ReadPacket(); err != nil {
				return
			}
		}
	}()
	for range 100 {
		_, _ = c.TryWritePacket(9, nil, body)
	}
	n := testing.AllocsPerRun(1000, func() {
		if ok, err := c.TryWritePacket(9, nil, body); err != nil || !ok {
			if err = c.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	})
	c.Close()
	<-done
	if n != 0 {
		t.Fatalf("%v allocations per TryWritePacket", n)
	}
}

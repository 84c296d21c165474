package packet

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// TestBudget: connections sharing a Budget. One writes to a peer that
// does not read: it is charged what the kernel did not take and, once the
// Budget is full, refused plain writes (short errors still fit) while it
// holds bytes. Another, whose peer reads, keeps writing meanwhile and is
// never charged for long. The charge returns to zero when the slow peer
// reads everything, and when a connection holding bytes is closed.
func TestBudget(t *testing.T) {
	defer verifyNoLeaks(t)
	for _, aes := range []bool{false, true} {
		t.Run(fmt.Sprintf("aes=%v", aes), func(t *testing.T) {
			const limit = 256 << 10
			budget := NewBudget(limit)
			cfg := Config{Key: testKey, ForceEncryption: aes, WriteBufferLimit: 8 << 20, Budget: budget}
			peer := Config{Key: testKey, ForceEncryption: aes}
			nc, ns := tcpPair(t)
			// Small socket buffers: the kernel soon takes no more.
			if err := nc.(*net.TCPConn).SetWriteBuffer(16 << 10); err != nil {
				t.Fatal(err)
			}
			if err := ns.(*net.TCPConn).SetReadBuffer(16 << 10); err != nil {
				t.Fatal(err)
			}
			slow, slowPeer := handshakePair(t, nc, ns, cfg, peer)
			defer slowPeer.Close()
			nc, ns = tcpPair(t)
			fast, fastPeer := handshakePair(t, nc, ns, cfg, peer)
			defer fast.Close()
			defer fastPeer.Close()

			body := make([]byte, 4096)
			accepted := 0
			for ; ; accepted++ {
				if accepted > 100000 {
					t.Fatal("never refused against a peer that does not read")
				}
				ok, err := slow.TryWritePacket(9, nil, body)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
			}
			// Over by at most what one connection may have pending: the
			// bytes of a write in progress are charged when the next
			// packet finds it still going.
			if h := budget.Held(); h < limit || h > limit+int64(cfg.WriteBufferLimit) {
				t.Fatalf("refused with %d bytes held; want the limit %d, plus at most one write buffer", h, limit)
			}
			// Writes with slack (a server's short error answers) still go
			// in, and are charged: 64 KiB more keeps the budget over
			// whatever the kernel may still take.
			for range 16 {
				if ok, err := slow.TryWritePacketIn(nil, 1<<20, 9, nil, body); !ok || err != nil {
					t.Fatalf("a write within the slack was refused: %v %v", ok, err)
				}
				accepted++
			}
			if h := budget.Held(); h < limit+64<<10 {
				t.Fatalf("%d bytes held after 64 KiB more; want at least %d", h, limit+64<<10)
			}

			// The fast connection writes 4 MiB (16 times the limit) while
			// the budget is over, its peer reading.
			const n = 1024
			done := readPackets(fastPeer, n)
			for i := range n {
				for tries := 0; ; tries++ {
					ok, err := fast.TryWritePacket(9, nil, body)
					if err != nil {
						t.Fatal(err)
					}
					if ok {
						break
					}
					// Refused only while a write of its own is behind:
					// the peer is reading, so that ends.
					if tries > 1000 {
						t.Fatalf("write %d of the reading connection refused %d times", i, tries)
					}
					if err := fast.Flush(); err != nil {
						t.Fatal(err)
					}
				}
			}
			waitOK(t, done, 20*time.Second, "fast peer")
			if !budget.Over() {
				t.Fatalf("budget no longer over (%d held) with the slow peer still not reading", budget.Held())
			}

			// The slow peer reads everything: nothing is held any more.
			done = readPackets(slowPeer, accepted)
			if err := slow.Flush(); err != nil {
				t.Fatal(err)
			}
			waitOK(t, done, 20*time.Second, "slow peer")
			if err := fast.Flush(); err != nil {
				t.Fatal(err)
			}
			if h := budget.Held(); h != 0 {
				t.Fatalf("%d bytes still charged after both peers read everything", h)
			}

			// Bytes held by a connection that is closed are given back.
			for i := 0; budget.Held() == 0; i++ {
				if i > 100000 {
					t.Fatal("nothing charged for 400 MiB queued to a peer that does not read")
				}
				if _, err := slow.TryWritePacket(9, nil, body); err != nil {
					t.Fatal(err)
				}
			}
			slow.Close()
			if h := budget.Held(); h != 0 {
				t.Fatalf("%d bytes still charged after Close", h)
			}
		})
	}
}

// readPackets reads n packets from c on a goroutine and reports how that
// ended.
func readPackets(c *Conn, n int) <-chan error {
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if _, _, err := c.ReadPacket(); err != nil {
				done <- fmt.Errorf("packet %d: %w", i, err)
				return
			}
		}
		done <- nil
	}()
	return done
}

package udp

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// lossySocket wraps a UDP socket and, on write, drops, duplicates or
// delays (reorders) datagrams with a seeded random source.
type lossySocket struct {
	*net.UDPConn
	mu                  sync.Mutex
	rnd                 *rand.Rand
	loss, dup, reorder  float64
	readLoss            float64 // drop received datagrams too (for peers we do not wrap)
	held                []byte
	heldTo              netip.AddrPort
	dropped, duplicated int
}

func (s *lossySocket) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rnd.Float64()
	switch {
	case r < s.loss:
		s.dropped++
		return len(b), nil
	case r < s.loss+s.dup:
		s.duplicated++
		_, _ = s.UDPConn.WriteToUDPAddrPort(b, addr)
	case r < s.loss+s.dup+s.reorder && s.held == nil:
		s.held, s.heldTo = bytes.Clone(b), addr
		return len(b), nil
	}
	n, err := s.UDPConn.WriteToUDPAddrPort(b, addr)
	if s.held != nil {
		_, _ = s.UDPConn.WriteToUDPAddrPort(s.held, s.heldTo)
		s.held = nil
	}
	return n, err
}

func (s *lossySocket) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		n, addr, err := s.UDPConn.ReadFromUDPAddrPort(b)
		if err != nil {
			return n, addr, err
		}
		s.mu.Lock()
		drop := s.rnd.Float64() < s.readLoss
		if drop {
			s.dropped++
		}
		s.mu.Unlock()
		if !drop {
			return n, addr, err
		}
	}
}

func newLossy(t testing.TB, cfg Config, seed uint64, loss, dup, reorder float64) (*Transport, *lossySocket) {
	t.Helper()
	ls := &lossySocket{UDPConn: listen(t), rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), loss: loss, dup: dup, reorder: reorder}
	if cfg.Keys == nil {
		cfg.Keys = [][]byte{testKey}
	}
	tr, err := New(ls, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr, ls
}

// TestFaults: 200 messages of 1-5 KB each way over sockets that lose 10%,
// duplicate 5% and reorder 5% of datagrams: every request is answered
// exactly once, and buffered chunks stay within the window.
func TestFaults(t *testing.T) {
	cases := []struct {
		name               string
		window             int
		loss, dup, reorder float64
	}{
		{"loss10", 0, 0.10, 0, 0},
		{"loss10-dup5-reorder5", 0, 0.10, 0.05, 0.05},
		{"small-window", 16, 0.10, 0.05, 0.05},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			cfg := Config{MaxWindow: tc.window}
			srv, sl := newLossy(t, cfg, uint64(100+i), tc.loss, tc.dup, tc.reorder)
			cli, cl := newLossy(t, cfg, uint64(200+i), tc.loss, tc.dup, tc.reorder)
			c, err := cli.Dial(addrOf(srv))
			if err != nil {
				t.Fatal(err)
			}
			const n = 200
			rnd := rand.New(rand.NewPCG(uint64(i), 1))
			bodies := make([][]byte, n)
			for k := range bodies {
				bodies[k] = make([]byte, 1000+rnd.IntN(4000))
				binary.LittleEndian.PutUint32(bodies[k], uint32(k))
				for j := 4; j < len(bodies[k]); j++ {
					bodies[k][j] = byte(k + j)
				}
			}
			// The echo server: the first message arrives with the accept.
			echoDone := make(chan error, 1)
			go func() {
				s, err := srv.Accept()
				if err != nil {
					echoDone <- err
					return
				}
				for range n {
					typ, body, err := s.ReadPacket()
					if err != nil {
						echoDone <- err
						return
					}
					if err := s.WritePacket(typ, nil, body); err != nil {
						echoDone <- err
						return
					}
				}
				echoDone <- nil
			}()
			sendDone := make(chan error, 1)
			go func() {
				for k := range n {
					if err := c.WritePacket(uint32(k), nil, bodies[k]); err != nil {
						sendDone <- err
						return
					}
				}
				sendDone <- nil
			}()
			rd := reader(c)
			seen := make([]bool, n)
			deadline := time.After(60 * time.Second)
			for got := 0; got < n; got++ {
				select {
				case r := <-rd:
					if r.err != nil {
						t.Fatal(r.err)
					}
					if r.typ >= n || seen[r.typ] || !bytes.Equal(r.body, bodies[r.typ]) {
						t.Fatalf("message %d: duplicate %v or corrupt (%d bytes)", r.typ, r.typ < n && seen[r.typ], len(r.body))
					}
					seen[r.typ] = true
				case <-deadline:
					t.Fatalf("only %d of %d answers within the deadline; client %+v server %+v", got, n, cli.Stats(), srv.Stats())
				}
			}
			if err := <-sendDone; err != nil {
				t.Fatal(err)
			}
			if err := <-echoDone; err != nil {
				t.Fatal(err)
			}
			window := uint64(max(tc.window, 0))
			if window == 0 {
				window = DefaultMaxWindow
			}
			for _, tr := range []*Transport{cli, srv} {
				st := tr.Stats()
				if st.MaxBufferedChunks > window {
					t.Errorf("buffered %d chunks > window %d", st.MaxBufferedChunks, window)
				}
				if st.MessagesIn != n {
					t.Errorf("delivered %d messages, want %d", st.MessagesIn, n)
				}
			}
			cl.mu.Lock()
			sl.mu.Lock()
			if cl.dropped+sl.dropped == 0 || (tc.dup > 0 && cl.duplicated+sl.duplicated == 0) {
				t.Errorf("faults not injected: dropped %d, duplicated %d", cl.dropped+sl.dropped, cl.duplicated+sl.duplicated)
			}
			sl.mu.Unlock()
			cl.mu.Unlock()
			cs, ss := cli.Stats(), srv.Stats()
			t.Logf("client: out %d resent %d rr %d dup %d; server: out %d resent %d rr %d dup %d",
				cs.DatagramsOut, cs.ChunksResent, cs.ResendReqOut, cs.Duplicates, ss.DatagramsOut, ss.ChunksResent, ss.ResendReqOut, ss.Duplicates)
			_ = c.Close()
		})
	}
}

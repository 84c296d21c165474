package packet

import (
	"fmt"
	"runtime"
	"testing"
)

func benchPair(b *testing.B, tr transport, aes bool) (*countingConn, *Conn, *Conn) {
	b.Helper()
	nc, ns := tr.pair(b)
	cw := &countingConn{Conn: nc}
	c, s := handshakePair(b, cw, ns, Config{Key: testKey, ForceEncryption: aes}, Config{Key: testKey})
	b.Cleanup(func() { c.Close(); s.Close() })
	return cw, c, s
}

// BenchmarkRoundTrip: WritePacket on one side, ReadPacket on the other.
func BenchmarkRoundTrip(b *testing.B) {
	for _, tr := range transports {
		for _, aes := range []bool{false, true} {
			for _, size := range []int{64, 4 << 10, 1 << 20} {
				b.Run(fmt.Sprintf("%s/aes=%v/%d", tr.name, aes, size), func(b *testing.B) {
					_, c, s := benchPair(b, tr, aes)
					head, body := make([]byte, 12), make([]byte, size-12)
					b.SetBytes(int64(size))
					b.ReportAllocs()
					for b.Loop() {
						if err := c.WritePacket(0x2374df3d, head, body); err != nil {
							b.Fatal(err)
						}
						if _, _, err := s.ReadPacket(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkConcurrentWriters: 64 goroutines share one connection; reports
// Write calls (syscalls on TCP) per packet.
func BenchmarkConcurrentWriters(b *testing.B) {
	for _, aes := range []bool{false, true} {
		b.Run(fmt.Sprintf("tcp/aes=%v/64writers/128B", aes), func(b *testing.B) {
			cw, c, s := benchPair(b, transports[1], aes)
			body := make([]byte, 128)
			done := make(chan error, 1)
			n := b.N
			go func() {
				for range n {
					if _, _, err := s.ReadPacket(); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			start := cw.writes()
			b.SetParallelism(64 / max(1, min(64, testingProcs())))
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := c.WritePacket(0x2374df3d, nil, body); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(cw.writes()-start)/float64(n), "writes/packet")
		})
	}
}

func testingProcs() int { return runtime.GOMAXPROCS(0) }

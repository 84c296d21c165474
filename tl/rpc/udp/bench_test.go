package udp

import (
	"bytes"
	"net/netip"
	"strconv"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// BenchmarkRoundTrip: one small request and its answer over loopback
// between two of our Transports (kernel cost included). allocs/op counts
// everything on both sides: sends, receives, timers.
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{32, 900, 4000} { // one chunk, a near-full chunk, five chunks
		b.Run(sizeName(size), func(b *testing.B) {
			srv := newTransport(b, Config{})
			cli := newTransport(b, Config{})
			c, err := cli.Dial(addrOf(srv))
			if err != nil {
				b.Fatal(err)
			}
			body := bytes.Repeat([]byte{'x'}, size)
			if err := c.WritePacket(1, nil, body); err != nil {
				b.Fatal(err)
			}
			s, err := srv.Accept()
			if err != nil {
				b.Fatal(err)
			}
			echoDone := make(chan struct{})
			go func() {
				defer close(echoDone)
				for {
					typ, body, err := s.ReadPacket()
					if err != nil {
						return
					}
					if s.WritePacket(typ, nil, body) != nil {
						return
					}
				}
			}()
			if _, _, err := c.ReadPacket(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := c.WritePacket(2, nil, body); err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.ReadPacket(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			_ = s.Close()
			<-echoDone
		})
	}
}

func sizeName(n int) string { return strconv.Itoa(n) + "B" }

// benchConn is an established pair of connection states without sockets:
// the sender's Transport writes into a discardSocket, and the datagram is
// captured from its scratch buffer.
func benchPair(b testing.TB) (snd, rcv *Transport, sc *Conn, from netip.AddrPort) {
	b.Helper()
	var err error
	snd, err = build(discardSocket{}, Config{Keys: [][]byte{testKey}})
	if err != nil {
		b.Fatal(err)
	}
	rcv, err = build(discardSocket{}, Config{Keys: [][]byte{testKey}, AcceptBacklog: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	from = netip.MustParseAddrPort("127.0.0.1:40001")
	sc = snd.newConn(netip.MustParseAddrPort("127.0.0.1:40001"), addrKey{0x7f000001, 40001}, true)
	sc.state = stWaitingForRemotePid
	sc.remote = packet.PID{IP: 0x7f000001, PortPID: 40001}
	sc.keyID = KeyID(testKey)
	sc.write = snd.blocks.get(testKey, snd.local, sc.remote, 0)
	return snd, rcv, sc, from
}

// BenchmarkSeal: building one data datagram (acks, header, payload, IGE,
// CRC) for a 200-byte message.
func BenchmarkSeal(b *testing.B) {
	snd, _, sc, _ := benchPair(b)
	msg := bytes.Repeat([]byte{1}, 200)
	u := unencHeader{}
	b.ReportAllocs()
	for b.Loop() {
		snd.header(sc, &u)
		e := encHeader{flags: ePacketNum | eSingle | ePrevParts | eNextParts | ePrevLength | eNextLength | ePacketOffset}
		snd.out, snd.plain = seal(snd.out, snd.plain, snd.tab.crc32c, sc.write, &u, &e, func(p []byte) []byte { return append(p, msg...) })
	}
}

// BenchmarkOpen: the receive path of one unreliable 200-byte message on an
// existing connection (CRC, header, decryption, checks, delivery queue).
func BenchmarkOpen(b *testing.B) {
	snd, rcv, sc, from := benchPair(b)
	msg := bytes.Repeat([]byte{1}, 200)
	if err := sc.WriteUnreliable(1, nil, msg); err != nil { // creates the receiving conn
		b.Fatal(err)
	}
	d := bytes.Clone(snd.out)
	rcv.handle(from, d)
	rc := rcv.byAddr[addrKey{0x7f000001, 40001}]
	if rc == nil {
		b.Fatal("no connection")
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		rcv.handle(from, d)
		// Drain what ReadPacket would, keeping the buffer pool in balance.
		for _, m := range rc.recvq[rc.recvHead:] {
			rcv.putBuf(m)
		}
		rc.recvq, rc.recvHead, rc.recvLen = rc.recvq[:0], 0, 0
	}
}

// TestZeroAllocs: sealing a data datagram and receiving a message on an
// existing connection allocate nothing in steady state.
func TestZeroAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	snd, rcv, sc, from := benchPair(t)
	msg := bytes.Repeat([]byte{1}, 200)
	if err := sc.WriteUnreliable(1, nil, msg); err != nil {
		t.Fatal(err)
	}
	d := bytes.Clone(snd.out)
	rcv.handle(from, d)
	rc := rcv.byAddr[addrKey{0x7f000001, 40001}]
	cases := []struct {
		name string
		f    func()
	}{
		{"send unreliable", func() { _ = sc.WriteUnreliable(1, nil, msg) }},
		{"receive", func() {
			rcv.handle(from, d)
			for _, m := range rc.recvq[rc.recvHead:] {
				rcv.putBuf(m)
			}
			rc.recvq, rc.recvHead, rc.recvLen = rc.recvq[:0], 0, 0
		}},
	}
	for _, tc := range cases {
		if n := testing.AllocsPerRun(200, tc.f); n != 0 {
			t.Errorf("%s: %v allocs per run", tc.name, n)
		}
	}
}

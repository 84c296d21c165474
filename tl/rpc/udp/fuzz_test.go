package udp

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"maps"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// discardSocket is a Transport socket that is never read and drops writes,
// so fuzzing runs without goroutines or kernel buffers.
type discardSocket struct{}

func (discardSocket) ReadFromUDPAddrPort([]byte) (int, netip.AddrPort, error) {
	return 0, netip.AddrPort{}, net.ErrClosed
}
func (discardSocket) WriteToUDPAddrPort(b []byte, _ netip.AddrPort) (int, error) { return len(b), nil }
func (discardSocket) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40001}
}
func (discardSocket) Close() error { return nil }

// fuzzSeeds are valid datagrams from peer to srv: a first pid-mode data
// datagram, two chunks, acks, a resend request, hash mode.
func fuzzSeeds(peer packet.PID, srv packet.PID) [][]byte {
	partial := packet.PID{IP: srv.IP, PortPID: uint32(srv.Port())}
	u := unencHeader{flags: 0xb9, local: peer, remote: partial, cryptoFlags: cryptoFlags(KeyID(testKey)), random: [32]byte{9}}
	data := encHeader{flags: ePacketNum | eSingle | eVersion | 0x39 | ePrevParts | eNextParts | ePrevLength | eNextLength | ePacketOffset, version: transportVersion}
	msg := binary.LittleEndian.AppendUint32(nil, 0x2374df3d)
	msg = append(msg, bytes.Repeat([]byte{1}, 20)...)
	first := craft(nil, &u, testKey, plainOf(&u, data, msg, false))
	multi := data
	multi.flags = multi.flags&^(ePacketNum|eSingle) | ePackets | eMultiple
	multi.packetsFrom, multi.packetsCount, multi.nextParts, multi.nextLength = 1, 2, 1, 996
	two := binary.LittleEndian.AppendUint32(nil, 8)
	two = append(two, msg[:8]...)
	two = binary.LittleEndian.AppendUint32(two, 4)
	two = append(two, 1, 2, 3, 4)
	chunks := craft(nil, &u, testKey, plainOf(&u, multi, two, false))
	acks := encHeader{flags: eVersion | 0x39 | eAckPrefix | eAckRange | eAckSet, version: transportVersion, ackPrefix: 3, ackFrom: 5, ackTo: 9, ackSet: []uint32{11, 13}}
	ack := craft(nil, &u, testKey, plainOf(&u, acks, nil, false))
	rr := data
	rr.packetNum = unreliableNum
	req := binary.LittleEndian.AppendUint32(nil, tagResendRequest)
	req = binary.LittleEndian.AppendUint32(req, 1)
	req = binary.LittleEndian.AppendUint32(req, 0)
	req = binary.LittleEndian.AppendUint32(req, 5)
	resend := craft(nil, &u, testKey, plainOf(&u, rr, req, false))
	// Hash mode under the connection's full keys (the pids derive the key;
	// hash mode does not send them), carrying seq 3.
	hu := unencHeader{flags: 0xbc, hash: pidHash(newTables().crc64, srv, peer, 0), cryptoFlags: cryptoFlags(KeyID(testKey)), random: [32]byte{7},
		local: peer, remote: srv}
	hdata := data
	hdata.flags, hdata.packetNum = hdata.flags&^0x7f|0xbc&0x7f, 3
	hash := craft(nil, &hu, testKey, plainOf(&hu, hdata, msg, false))
	return [][]byte{first, chunks, ack, resend, hash, first[:40], {}}
}

// FuzzDatagram feeds arbitrary bytes into the receive path of one
// Transport (state carries over between inputs, as on a real socket). It
// must never panic, keep one connection per address and stay within the
// window. mode 0 sends d as is; mode 1 fixes its CRC; mode 2 treats d as
// the plaintext (encHeader, payload, ...) and encrypts it under a valid
// pid-mode header, so the fuzzer reaches the decrypted paths. Mode bit 2
// first parks what it can, so inputs meet dormant records: a peer is never
// both live and dormant. Mode bit 3 asks every connection to park once
// settled (ParkGraceful), so the input meets a connection about to end.
func FuzzDatagram(f *testing.F) {
	tr, err := build(discardSocket{}, Config{Keys: [][]byte{testKey}, MaxWindow: 64, AcceptBacklog: 1})
	if err != nil {
		f.Fatal(err)
	}
	ap := netip.MustParseAddrPort("127.0.0.1:40000")
	peer := packet.NewPID(0x7f000001, ap.Port(), 3, 100)
	seeds := fuzzSeeds(peer, tr.LocalPID())
	// First with parking (the state carries over): first accepts, the
	// rest meet a parked peer and revive it, in hash mode and pid mode.
	for _, i := range []int{0, 4, 2, 3, 1} {
		f.Add(seeds[i], uint8(4))
	}
	for _, s := range seeds {
		f.Add(s, uint8(0))
	}
	for _, i := range []int{0, 2, 1, 4} { // graceful: accept, ack, chunk, hash
		f.Add(seeds[i], uint8(8))
	}
	u := unencHeader{flags: 0xb9, local: peer, remote: packet.PID{IP: 0x7f000001, PortPID: 40001}, cryptoFlags: cryptoFlags(KeyID(testKey)), random: [32]byte{5}}
	data := encHeader{flags: ePacketNum | eSingle | eVersion | 0x39 | ePrevParts | eNextParts | ePrevLength | eNextLength | ePacketOffset, version: transportVersion}
	f.Add(plainOf(&u, data, []byte("abcdefgh"), false), uint8(2))
	big := data
	big.nextParts, big.nextLength = 2, 1500
	f.Add(plainOf(&u, big, bytes.Repeat([]byte{1}, 996), false), uint8(2))
	tab := newTables()
	f.Fuzz(func(t *testing.T, d []byte, mode uint8) {
		switch mode % 3 {
		case 1:
			if len(d) >= 4 {
				binary.LittleEndian.PutUint32(d[len(d)-4:], crc32.Checksum(d[:len(d)-4], tab.crc32c))
			}
		case 2:
			for len(d)%16 != 0 || len(d) == 0 {
				d = append(d, 0)
			}
			d = craft(nil, &u, testKey, d)
		}
		if mode&4 != 0 {
			parkAll(tr)
		}
		if mode&8 != 0 {
			tr.mu.Lock()
			conns := slices.Collect(maps.Values(tr.byAddr))
			tr.mu.Unlock()
			for _, c := range conns {
				c.ParkGraceful()
			}
		}
		tr.mu.Lock()
		defer tr.mu.Unlock()
		tr.handle(ap, d)
		for k := range tr.dormant {
			if tr.byAddr[k] != nil {
				t.Fatalf("%v is both live and dormant", k)
			}
		}
		if len(tr.byAddr) > 1 {
			t.Fatalf("%d connections from one address", len(tr.byAddr))
		}
		for _, c := range tr.byAddr {
			if c.in.buffered > 64 || int(c.out.next-c.out.ackPrefix) > 64 {
				t.Fatalf("window exceeded: buffered %d, in flight %d", c.in.buffered, c.out.next-c.out.ackPrefix)
			}
		}
	})
}

// parkAll takes what waits for Accept and parks every connection that
// Park allows, so that FuzzDatagram's next input meets dormant records.
func parkAll(tr *Transport) {
	for {
		select {
		case <-tr.acceptq:
			continue
		default:
		}
		break
	}
	tr.mu.Lock()
	conns := make([]*Conn, 0, len(tr.byAddr))
	for _, c := range tr.byAddr {
		c.recvq, c.recvHead, c.recvLen = c.recvq[:0], 0, 0 // as if read
		c.in.ackAt = time.Time{}                           // as if acked
		conns = append(conns, c)
	}
	tr.mu.Unlock()
	for _, c := range conns {
		c.Park()
	}
}

// FuzzHeaders: whatever parses re-encodes to the bytes it consumed.
func FuzzHeaders(f *testing.F) {
	f.Add(appendUnenc(nil, &unencHeader{flags: 0xb9, local: clientPID, remote: serverPID, cryptoFlags: 0x26181}))
	f.Add(appendUnenc(nil, &unencHeader{flags: 0xbc, hash: 42, cryptoFlags: 0x26181}))
	f.Add(appendEnc(nil, &encHeader{flags: 0x47d00439, version: transportVersion}))
	f.Add(appendEnc(nil, &encHeader{flags: eAckSet | eAckRange | eAckPrefix | eWindowControl | eTime, ackSet: []uint32{1, 2, 3}}))
	f.Fuzz(func(t *testing.T, d []byte) {
		var u unencHeader
		if rest, err := parseUnenc(d, &u); err == nil {
			if got := appendUnenc(nil, &u); !bytes.Equal(got, d[:len(d)-len(rest)]) {
				t.Fatalf("unenc round trip:\n got %x\nwant %x", got, d[:len(d)-len(rest)])
			}
		}
		var e encHeader
		if rest, err := parseEnc(d, &e); err == nil {
			if got := appendEnc(nil, &e); !bytes.Equal(got, d[:len(d)-len(rest)]) {
				t.Fatalf("enc round trip:\n got %x\nwant %x", got, d[:len(d)-len(rest)])
			}
		}
	})
}

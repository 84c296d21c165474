package udp

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// craft builds a datagram from a plaintext header and the exact plaintext
// to encrypt (a multiple of 16 bytes), with a correct CRC.
func craft(b []byte, u *unencHeader, key []byte, plain []byte) []byte {
	d := appendUnenc(b, u)
	at := len(d)
	d = append(d, make([]byte, len(plain))...)
	igeEncrypt(newBlock(deriveKey(key, u.local, u.remote, u.gen)), &u.random, d[at:], plain)
	return binary.LittleEndian.AppendUint32(d, crc32.Checksum(d, crc32.MakeTable(crc32.Castagnoli)))
}

// plainOf is encHeader e, payload, zero padding to 16 (or pad as given),
// and the repeated fields of u.
func plainOf(u *unencHeader, e encHeader, payload []byte, badPad bool) []byte {
	p := appendEnc(nil, &e)
	p = append(p, payload...)
	f, n := padFlags(len(p) + repeatedLen(u.flags))
	binary.LittleEndian.PutUint32(p, e.flags|f)
	for i := range n {
		p = append(p, byte(i))
		if !badPad {
			p[len(p)-1] = 0
		}
	}
	return appendRepeated(p, u)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// recordingSocket keeps a copy of the last datagram written.
type recordingSocket struct {
	*net.UDPConn
	mu   sync.Mutex
	last []byte
}

func (s *recordingSocket) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	s.mu.Lock()
	s.last = bytes.Clone(b)
	s.mu.Unlock()
	return s.UDPConn.WriteToUDPAddrPort(b, addr)
}

// dropNoise marks a case that a check of the decrypted datagram drops,
// whichever one (decryptedChecks).
const dropNoise = numDropReasons

// decryptedChecks are the drop reasons of a datagram that decrypted to
// noise, in the order datagram.go checks them.
var decryptedChecks = map[DropReason]bool{DropEncHeader: true, DropMirror: true, DropVersion: true, DropPadding: true, DropRepeated: true}

// TestBadInput: a garbage sender and a good peer at the same time. Every
// bad datagram is dropped and counted under its reason; the good peer's
// 100 calls all complete and its connection is never reset.
func TestBadInput(t *testing.T) {
	leakCheck(t)
	srv := newTransport(t, Config{})
	rec := &recordingSocket{UDPConn: listen(t)}
	cli, err := New(rec, Config{Keys: [][]byte{testKey}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	c, err := cli.Dial(addrOf(srv))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WritePacket(1, nil, []byte("first")); err != nil {
		t.Fatal(err)
	}
	s := acceptWithin(t, srv, 5*time.Second)
	echoDone := make(chan struct{})
	go func() {
		defer close(echoDone)
		for {
			typ, body, err := s.ReadPacket()
			if err != nil {
				return
			}
			_ = s.WritePacket(typ, nil, body)
		}
	}()
	rd := reader(c)
	if r := recvWithin(t, rd, 5*time.Second); r.err != nil || string(r.body) != "first" {
		t.Fatalf("first echo: %v %q", r.err, r.body)
	}
	// A second exchange: from now on the client speaks hash mode.
	if err := c.WritePacket(1, nil, []byte("second")); err != nil {
		t.Fatal(err)
	}
	if r := recvWithin(t, rd, 5*time.Second); r.err != nil || string(r.body) != "second" {
		t.Fatalf("second echo: %v %q", r.err, r.body)
	}
	rec.mu.Lock()
	replay := rec.last // a hash-mode datagram of the good client
	rec.mu.Unlock()

	bad := listen(t)
	defer bad.Close()
	badAP := bad.LocalAddr().(*net.UDPAddr).AddrPort()
	badPID := packet.NewPID(0x7f000001, badAP.Port(), 7, 1)
	srvPartial := packet.PID{IP: 0x7f000001, PortPID: uint32(addrOf(srv).Port())}
	pidHdr := func() unencHeader {
		return unencHeader{flags: 0xb9, local: badPID, remote: srvPartial, cryptoFlags: cryptoFlags(KeyID(testKey)), random: [32]byte{1, 2, 3}}
	}
	data := encHeader{flags: ePacketNum | eSingle | eVersion | 0x39, version: transportVersion}
	payload := binary.LittleEndian.AppendUint32(nil, 0x12345678)

	cases := []struct {
		name   string
		reason DropReason
		make   func() []byte
	}{
		{"short", DropShort, func() []byte { return []byte{1, 2, 3} }},
		{"crc", DropCRC, func() []byte {
			u := pidHdr()
			d := craft(nil, &u, testKey, plainOf(&u, data, payload, false))
			d[len(d)-1] ^= 1
			return d
		}},
		{"tag", DropHeader, func() []byte {
			u := pidHdr()
			d := craft(nil, &u, testKey, plainOf(&u, data, payload, false))
			d[0] ^= 1
			binary.LittleEndian.PutUint32(d[len(d)-4:], crc32.Checksum(d[:len(d)-4], crc32.MakeTable(crc32.Castagnoli)))
			return d
		}},
		{"no encryption bits", DropHeader, func() []byte {
			u := pidHdr()
			u.flags &^= uEncrypted
			return craft(nil, &u, testKey, plainOf(&u, data, payload, false))
		}},
		{"unknown key id", DropKeyID, func() []byte {
			u := pidHdr()
			u.cryptoFlags = cryptoFlags(KeyID(testKey) ^ 0x5)
			return craft(nil, &u, testKey, plainOf(&u, data, payload, false))
		}},
		{"address mismatch", DropAddr, func() []byte {
			u := pidHdr()
			u.local.PortPID ^= 1
			return craft(nil, &u, testKey, plainOf(&u, data, payload, false))
		}},
		// Decrypting with the wrong key gives noise, which fails one of
		// the checks of the decrypted datagram (datagram.go), which one
		// depending on the noise: the key depends on the sender's port.
		// The three copies are the same bytes, so they fail the same one.
		{"wrong key", dropNoise, func() []byte {
			u := pidHdr()
			d := craft(nil, &u, bytes.Repeat([]byte{'x'}, 32), plainOf(&u, data, payload, false))
			return d
		}},
		{"mirror bits", DropMirror, func() []byte {
			u := pidHdr()
			e := data
			e.flags &^= 0x39
			return craft(nil, &u, testKey, plainOf(&u, e, payload, false))
		}},
		{"bad padding", DropPadding, func() []byte {
			u := pidHdr()
			return craft(nil, &u, testKey, plainOf(&u, data, []byte{1, 2, 3, 4, 5, 6, 7, 8}, true))
		}},
		{"repeated fields", DropRepeated, func() []byte {
			u := pidHdr()
			u2 := u
			u2.gen = 9
			p := plainOf(&u2, data, payload, false)
			return craft(nil, &u, testKey, p)
		}},
		{"version", DropVersion, func() []byte {
			u := pidHdr()
			e := data
			e.version = 1 | 1<<16
			return craft(nil, &u, testKey, plainOf(&u, e, payload, false))
		}},
		{"obsolete pid", DropObsoletePid, func() []byte {
			u := pidHdr()
			u.remote = packet.NewPID(0x7f000001, addrOf(srv).Port(), 1, 12345)
			return craft(nil, &u, testKey, plainOf(&u, data, payload, false))
		}},
		{"unknown hash", DropUnknownHash, func() []byte {
			u := unencHeader{flags: 0xbc, hash: 0xdeadbeef, cryptoFlags: cryptoFlags(KeyID(testKey))}
			return craft(nil, &u, testKey, plainOf(&u, data, payload, false))
		}},
		{"replayed from another address", DropUnknownHash, func() []byte { return replay }},
		{"forged chunk", DropChunk, func() []byte {
			u := pidHdr()
			e := data
			e.flags |= ePrevParts | ePrevLength
			e.prevParts, e.prevLength = 5, 0 // seq 0 cannot have 5 earlier parts
			return craft(nil, &u, testKey, plainOf(&u, e, payload, false))
		}},
	}

	garbageDone := make(chan struct{})
	go func() {
		defer close(garbageDone)
		for range 3 {
			for _, tc := range cases {
				_, _ = bad.WriteToUDPAddrPort(tc.make(), addrOf(srv))
			}
		}
	}()
	for i := range 100 {
		body := bytes.Repeat([]byte{byte(i)}, 10+i*30)
		if err := c.WritePacket(uint32(i+2), nil, body); err != nil {
			t.Fatal(err)
		}
		r := recvWithin(t, rd, 10*time.Second)
		if r.err != nil || r.typ != uint32(i+2) || !bytes.Equal(r.body, body) {
			t.Fatalf("call %d: %v type %d", i, r.err, r.typ)
		}
	}
	<-garbageDone
	want := map[DropReason]uint64{}
	for _, tc := range cases {
		want[tc.reason] += 3
	}
	noise := want[dropNoise]
	delete(want, dropNoise)
	waitFor(t, "all garbage counted", func() bool {
		st := srv.Stats()
		return st.DroppedTotal() >= 3*uint64(len(cases))
	})
	st := srv.Stats()
	// Every reason has exactly its cases' drops, but for the wrong key's,
	// which land on one check of a decrypted datagram.
	var extra uint64
	for i, n := range st.Dropped {
		r := DropReason(i)
		w := want[r]
		switch {
		case n == w:
		case n > w && decryptedChecks[r]:
			extra += n - w
		default:
			t.Errorf("dropped[%v] = %d, want %d (all: %v)", r, n, w, st.Dropped)
		}
	}
	if extra != noise {
		t.Errorf("the wrong key's datagrams: %d dropped by a check of the decrypted datagram, want %d (all: %v)", extra, noise, st.Dropped)
	}
	// The forged chunk is well encrypted, so its sender became a peer (the
	// second accept); its bad chunk was dropped all the same.
	if st.Resets != 0 || st.Accepted != 2 || c.Err() != nil {
		t.Fatalf("good peer disturbed: resets %d accepted %d err %v", st.Resets, st.Accepted, c.Err())
	}
	_ = c.Close()
	_ = s.Close()
	<-echoDone
}

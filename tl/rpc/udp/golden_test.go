package udp

import (
	"bytes"
	"crypto/aes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// TestIGEVectors: OpenSSL's AES-IGE test vectors (igetest.c, AES-128; the
// mode does not depend on the key size), both directions.
func TestIGEVectors(t *testing.T) {
	seq := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}
	cases := []struct {
		name           string
		key, iv        []byte
		plain, cipher_ string
	}{
		{"zeros", seq(16), seq(32), strings.Repeat("00", 32),
			"1a8519a6557be652e9da8e43da4ef4453cf456b4ca488aa383c79c98b34797cb"},
		{"text", []byte("This is an imple"), []byte("mentation of IGE mode for OpenSS"),
			"99706487a1cde613bc6de0b6f24b1c7aa448c8b9c3403e3467a8cad89340f53b",
			hex.EncodeToString([]byte("L. Let's hope Ben got it right!\n"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := aes.NewCipher(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			var iv [32]byte
			copy(iv[:], tc.iv)
			p, c := tltest.Unhex(t, tc.plain), tltest.Unhex(t, tc.cipher_)
			out := make([]byte, len(p))
			igeEncrypt(b, &iv, out, p)
			if !bytes.Equal(out, c) {
				t.Fatalf("encrypt: %x, want %x", out, c)
			}
			igeDecrypt(b, &iv, out, c)
			if !bytes.Equal(out, p) {
				t.Fatalf("decrypt: %x, want %x", out, p)
			}
		})
	}
}

// TestDeriveKeysVector: the vector of VK's handshake_test.go (wire.md §5.3).
func TestDeriveKeysVector(t *testing.T) {
	local := packet.PID{IP: 0x01020304, PortPID: 0x05060708, UTime: 0x090a0b0c}
	remote := packet.PID{IP: 0x11121314, PortPID: 0x15161718, UTime: 0x191a1b1c}
	read, write := DeriveKeys([]byte("hren"), local, remote, 0x20212223)
	if got := hex.EncodeToString(read[:]); got != "be5a0ca85071077fb48f030ab7627f88bf6c4ac3dc4c2c72b96d12692f4c33cf" {
		t.Errorf("read key %s", got)
	}
	if got := hex.EncodeToString(write[:]); got != "ff861195b0cffc0562e10667acd5ee3b7d884fb2bdcd63a68e03a7294c18be60" {
		t.Errorf("write key %s", got)
	}
	// The peer's read key is our write key.
	pr, pw := DeriveKeys([]byte("hren"), remote, local, 0x20212223)
	if pr != write || pw != read {
		t.Error("keys are not symmetric")
	}
}

func TestCryptoFlags(t *testing.T) {
	cases := []struct {
		key       string
		id, flags uint32
	}{
		{"abcdefghijklmnopqrstuvwxyz012345", 0x261, 0x00026181},
		{"\xff\xff\xff\xff" + strings.Repeat("k", 28), 0xfff, 0x000fff81},
		{"\x00\x10\x00\x00" + strings.Repeat("k", 28), 0x000, 0x00000081},
	}
	for _, tc := range cases {
		if id := KeyID([]byte(tc.key)); id != tc.id {
			t.Errorf("KeyID(%q) = %#x, want %#x", tc.key[:4], id, tc.id)
		}
		if f := cryptoFlags(KeyID([]byte(tc.key))); f != tc.flags || keyIDOf(f) != tc.id {
			t.Errorf("cryptoFlags(%q) = %#08x, want %#08x", tc.key[:4], f, tc.flags)
		}
	}
}

func TestPidHash(t *testing.T) {
	tab := newTables().crc64
	a := packet.PID{IP: 0x01020304, PortPID: 0x05060708, UTime: 0x090a0b0c}
	b := packet.PID{IP: 0x11121314, PortPID: 0x15161718, UTime: 0x191a1b1c}
	h := pidHash(tab, a, b, 0x20212223)
	if h != pidHash(tab, b, a, 0x20212223) {
		t.Fatal("hash depends on the order of the pids")
	}
	if h == pidHash(tab, a, b, 0x20212224) {
		t.Fatal("hash ignores the generation")
	}
	// crc64/ECMA (Go's table: reflected, init and xorout all ones) of
	// 04030201 08070605 0c0b0a09 14131211 18171615 1c1b1a19 23222120.
	if h != 0x0cac9625b24793a7 { // CRC-64/XZ, computed independently
		t.Fatalf("hash %#x", h)
	}
}

var (
	clientPID = packet.PID{IP: 0x7f000001, PortPID: 0x1234_c3a2, UTime: 0x6560_0000}
	serverPID = packet.PID{IP: 0x7f000001, PortPID: 0x9ec1}
)

func TestHeaderGolden(t *testing.T) {
	var iv [32]byte
	for i := range iv {
		iv[i] = byte(0xa0 + i)
	}
	cases := []struct {
		name string
		u    unencHeader
		hex  string
	}{
		{"pid mode (first client datagram)", unencHeader{flags: 0xb9, local: clientPID, remote: serverPID, gen: 0, cryptoFlags: 0x00026181, random: iv},
			"45e9a800 b9000000 0100007f a2c33412 00006065 0100007f c19e0000 00000000 00000000 81610200" + hex.EncodeToString(iv[:])},
		{"hash mode", unencHeader{flags: 0xbc, hash: 0x0102030405060708, cryptoFlags: 0x00026181, random: iv},
			"45e9a800 bc000000 0807060504030201 81610200" + hex.EncodeToString(iv[:])},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tltest.Unhex(t, tc.hex)
			got := appendUnenc(nil, &tc.u)
			if !bytes.Equal(got, want) {
				t.Fatalf("append:\n got %x\nwant %x", got, want)
			}
			var u unencHeader
			rest, err := parseUnenc(append(got, 0xee), &u)
			if err != nil || u != tc.u || !bytes.Equal(rest, []byte{0xee}) {
				t.Fatalf("parse: %v %+v rest %x", err, u, rest)
			}
		})
	}
}

func TestEncHeaderGolden(t *testing.T) {
	cases := []struct {
		name string
		e    encHeader
		hex  string
	}{
		{"first data datagram", encHeader{flags: 0x47d00439, version: 0x00020002},
			"3904d047 02000200 00000000 00000000 00000000 00000000 00000000 0000000000000000"},
		{"acks only", encHeader{flags: eVersion | eAckPrefix | eAckRange | eAckSet | 0x3c, version: 0x00020002, ackPrefix: 9, ackFrom: 11, ackTo: 12, ackSet: []uint32{14, 20}},
			"3ce40000 02000200 09000000 0b000000 0c000000 02000000 0e000000 14000000"},
		{"chunks", encHeader{flags: ePackets | eMultiple | ePrevParts | eNextParts | ePrevLength | eNextLength | ePacketOffset | ePad8,
			packetsFrom: 5, packetsCount: 3, prevParts: 2, nextParts: 1, prevLength: 1992, nextLength: 100, packetOffset: 1 << 33},
			"0000e06b 05000000 03000000 02000000 01000000 c8070000 64000000 0000000002000000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tltest.Unhex(t, tc.hex)
			got := appendEnc(nil, &tc.e)
			if !bytes.Equal(got, want) {
				t.Fatalf("append:\n got %x\nwant %x", got, want)
			}
			var e encHeader
			rest, err := parseEnc(got, &e)
			if err != nil || len(rest) != 0 || !bytes.Equal(appendEnc(nil, &e), want) {
				t.Fatalf("parse: %v %+v", err, e)
			}
		})
	}
}

func TestPadFlags(t *testing.T) {
	cases := []struct {
		n     int
		flags uint32
		pad   int
	}{
		{0, 0, 0}, {16, 0, 0}, {96, 0, 0}, {12, ePad4, 4}, {8, ePad8, 8}, {4, ePad4 | ePad8, 12},
		{1, ePad1 | ePad2 | ePad4 | ePad8, 15}, {15, ePad1, 1}, {14, ePad2, 2},
	}
	for _, tc := range cases {
		f, p := padFlags(tc.n)
		if f != tc.flags || p != tc.pad || (tc.n+p)%16 != 0 || padLen(f) != p {
			t.Errorf("padFlags(%d) = %#x, %d; want %#x, %d", tc.n, f, p, tc.flags, tc.pad)
		}
	}
}

// TestSealCapturedShape rebuilds the shape of the captured first client
// datagram (wire.md §5.6): 172 bytes, enc flags 0x47d00439, no padding,
// and checks that open() reverses seal().
func TestSealCapturedShape(t *testing.T) {
	key := []byte("abcdefghijklmnopqrstuvwxyz012345")
	u := unencHeader{flags: uPid | uCrypto | uSHA | uRandom | uEncrypted, local: clientPID, remote: serverPID, cryptoFlags: cryptoFlags(KeyID(key))}
	w := newBlock(deriveKey(key, clientPID, serverPID, 0))
	payload := tltest.Unhex(t, "3ddf7423 0100000000000000 5e0352e3 04008000 f4010000 78563412")
	e := encHeader{flags: ePacketNum | eSingle | ePrevParts | eNextParts | ePrevLength | eNextLength | ePacketOffset}
	tab := newTables()
	d, _ := seal(nil, nil, tab.crc32c, w, &u, &e, func(b []byte) []byte { return append(b, payload...) })
	if len(d) != 172 || e.flags != 0x47d00439 {
		t.Fatalf("datagram %d bytes, enc flags %#x; want 172, 0x47d00439", len(d), e.flags)
	}
	if !bytes.HasPrefix(d, tltest.Unhex(t, "45e9a800 b9000000")) {
		t.Fatalf("prefix %x", d[:8])
	}
	var u2 unencHeader
	ct, err := parseUnenc(d[:len(d)-4], &u2)
	if err != nil {
		t.Fatal(err)
	}
	r := newBlock(deriveKey(key, clientPID, serverPID, 0)) // the server's read key for old-cipher datagrams
	var e2 encHeader
	got, _, reason, ok := open(nil, r, &u2, &e2, ct)
	if !ok || !bytes.Equal(got, payload) {
		t.Fatalf("open: %v %v %x", ok, reason, got)
	}
}

package packet

import (
	"bytes"
	"crypto/ecdh"
	"encoding/binary"
	"encoding/hex"
	"io"
	"testing"
	"time"
)

// Expected CRCs below were computed independently (Python zlib.crc32 and a
// bitwise CRC32C), not by this package.
func TestFrameGolden(t *testing.T) {
	qid := binary.LittleEndian.AppendUint64(nil, 0x0102030405060708)
	tests := []struct {
		name      string
		crc32c    bool
		seq, typ  uint32
		head      []byte
		body      string
		align4    bool
		wantFrame string
	}{
		{"server nonce v1 plain (§3.7)", false, seqNonce, TypeNonce, nil,
			"00000000 00010000" + "0000000000000000000000000000000000000000", false,
			"2c000000 feffffff aa87cb7a 00000000 00010000 0000000000000000000000000000000000000000 9e0c1bcc"},
		{"client handshake flags 0x1800 (§3.7)", false, seqHandshake, TypeHandshake, nil,
			"00180000 0100007f 0000002b 0100005f 000000000000000000000000", false,
			"2c000000 ffffffff f5ee8276 00180000 0100007f 0000002b 0100005f 000000000000000000000000 bc5f3c07"},
		{"request with rpcDestFlags (§3.7), CRC32C", true, 0, 0x2374df3d, qid,
			"5e0352e3 04008000 f4010000 78563412 0a000000", false,
			"2c000000 00000000 3ddf7423 0807060504030201 5e0352e3 04008000 f4010000 78563412 0a000000 3c02e0c1"},
		{"response (§3.7), CRC32C", true, 0, 0x63aeda4e, qid,
			"78563412 0a000000", false,
			"20000000 00000000 4edaae63 0807060504030201 78563412 0a000000 e03f5571"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab := ieee()
			if tc.crc32c {
				tab = castagnoli()
			}
			got := appendFrame([]byte("prefix"), tab, tc.seq, tc.typ, tc.head, unhex(t, tc.body), tc.align4)
			want := append([]byte("prefix"), unhex(t, tc.wantFrame)...)
			if !bytes.Equal(got, want) {
				t.Fatalf("frame\n got %x\nwant %x", got, want)
			}
		})
	}
}

func TestFrameAlignment(t *testing.T) {
	for n := 0; n < 8; n++ {
		f := appendFrame(nil, ieee(), 0, 1, nil, make([]byte, n), true)
		if len(f)%4 != 0 || len(f) < 16+n {
			t.Fatalf("body %d: frame %d bytes", n, len(f))
		}
		for _, c := range f[16+n:] {
			if c != 0 {
				t.Fatalf("body %d: non-zero alignment %x", n, f)
			}
		}
		p := padTo16(f)
		if len(p)%16 != 0 || len(p)-len(f) > 12 {
			t.Fatalf("body %d: padded to %d", n, len(p))
		}
		for i := len(f); i < len(p); i += 4 {
			if binary.LittleEndian.Uint32(p[i:]) != padWord {
				t.Fatalf("pad word %x", p[i:i+4])
			}
		}
	}
	if f := appendFrame(nil, ieee(), 0, 1, nil, make([]byte, 5), false); len(f) != 21 {
		t.Fatalf("plain v1 5-byte body: %d bytes, want 21 (no alignment)", len(f))
	}
}

// Key vectors from VK's handshake tests (SH-old internal/vkgo/rpc): key
// "hren", nonces "abcd..."/"ABCD...", times 0x01020304/0x0d0e0f10.
func TestDeriveKeysGolden(t *testing.T) {
	cn := [16]byte([]byte("abcdefghijklmnop"))
	sn := [16]byte([]byte("ABCDEFGHIJKLMNOP"))
	clientScalar := []byte("012344abcdefghijklmnopqrstuvwxyz")
	serverScalar := []byte("567899ABCDEFGHIJKLMNOPQRSTUVWXYZ")
	cp, err := ecdh.X25519().NewPrivateKey(clientScalar)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ecdh.X25519().NewPrivateKey(serverScalar)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := cp.ECDH(sp.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	secret2, _ := sp.ECDH(cp.PublicKey())
	if got := hex.EncodeToString(secret); got != "4541d9fd5263298736d6ecdfa8c5834e12b54e2ad3bb95a50d2085dd4075f458" || !bytes.Equal(secret, secret2) {
		t.Fatalf("X25519 shared secret %s", got)
	}
	tests := []struct {
		name                         string
		in                           keyInput
		c2sKey, c2sIV, s2cKey, s2cIV string
	}{
		{"v0 with IPs and ports", keyInput{ClientIP: 0x05060708, ClientPort: 0x090a, ServerIP: 0x0d0e0f10, ServerPort: 0x1112},
			"28b5a5313b3ea9e2f6f0293e0748b2f743b0e112779faa77a3ee9d71ae70dda6", "80387128489168b336d998762bce6fef",
			"e3cf8557ea4ad963c3b637d466388403841d2e989a1fc684ac691c44b05ac9bb", "1efd4c8aa43a87d1ea5488a1bc669269"},
		{"v1 server time", keyInput{ServerIP: 0x0d0e0f10},
			"373374076f52d8f6bb5b063f17b9eb9fb4194e429cf02e207300add4c28a8e57", "cea8f827019de36741f73e5948aea5be",
			"3ce0c95487d99754688e0508a036c8c02727f297d0311db6273d69c07ac7a0d2", "34411262ac3e172bc1a2d086b4f1ecb5"},
		{"v2 with DH secret", keyInput{ServerIP: 0x0d0e0f10, DHSecret: secret},
			"c513a88366728c719ffe885d943b0faa701ff7f0b061311b9af5fa5a0ec830ef", "bbaf9484282c1d021c21d9da05e822c0",
			"987d9938b0ea97bae1604e78d47131a5b0dc426054d5f9423d14f867480dce1d", "cf55ffd9615629f9cc7fc6b14d9a48f8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Secret, in.ClientNonce, in.ServerNonce, in.ClientTime = []byte("hren"), cn, sn, 0x01020304
			c2s, s2c := in.derive(true), in.derive(false)
			for _, kv := range []struct{ got, want string }{
				{hex.EncodeToString(c2s.Key[:]), tc.c2sKey}, {hex.EncodeToString(c2s.IV[:]), tc.c2sIV},
				{hex.EncodeToString(s2c.Key[:]), tc.s2cKey}, {hex.EncodeToString(s2c.IV[:]), tc.s2cIV},
			} {
				if kv.got != kv.want {
					t.Errorf("got %s, want %s", kv.got, kv.want)
				}
			}
		})
	}
}

// TestServerPlainGolden drives our server with hand-built client packets
// and checks its answers byte for byte (plain v1, like §3.7).
func TestServerPlainGolden(t *testing.T) {
	nc, ns := pipePair()
	res := make(chan hsResult, 1)
	go func() {
		c, err := ServerHandshake(ns, Config{LocalPID: NewPID(0x7f000001, 2442, 0x1234, 0x01020304)})
		res <- hsResult{c, err}
	}()
	cnBody := unhex(t, "00000000 00010000")
	cnBody = binary.LittleEndian.AppendUint32(cnBody, uint32(time.Now().Unix()))
	cnBody = append(cnBody, "0123456789abcdef"...)
	if _, err := nc.Write(appendFrame(nil, ieee(), seqNonce, TypeNonce, nil, cnBody, false)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 44)
	if _, err := io.ReadFull(nc, got); err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "2c000000 feffffff aa87cb7a 00000000 00010000 0000000000000000000000000000000000000000 9e0c1bcc"); !bytes.Equal(got, want) {
		t.Fatalf("server nonce\n got %x\nwant %x", got, want)
	}
	hs := unhex(t, "2c000000 ffffffff f5ee8276 00180000 0100007f 0000002b 0100005f 000000000000000000000000 bc5f3c07")
	if _, err := nc.Write(hs); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(nc, got); err != nil {
		t.Fatal(err)
	}
	// flags echoed, sender = configured PID, peer = the client's sender.
	want := unhex(t, "2c000000 ffffffff f5ee8276 00180000 0100007f 8a093412 04030201 0100007f 0000002b 0100005f 7a0372fd")
	if !bytes.Equal(got, want) {
		t.Fatalf("server handshake\n got %x\nwant %x", got, want)
	}
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.c.Close()
	defer nc.Close()
	if r.c.PeerPID() != NewPID(0x7f000001, 0, 0x2b00, 0x5f000001) || r.c.PeerFlags() != 0x1800 {
		t.Fatalf("peer pid %v flags %#x", r.c.PeerPID(), r.c.PeerFlags())
	}
	// The §3.7 request, CRC32C now, arrives intact.
	qid := binary.LittleEndian.AppendUint64(nil, 0x0102030405060708)
	req := appendFrame(nil, castagnoli(), 0, 0x2374df3d, qid, unhex(t, "5e0352e3 04008000 f4010000 78563412 0a000000"), false)
	ch := readAsync(r.c)
	if _, err := nc.Write(req); err != nil {
		t.Fatal(err)
	}
	p := waitRecv(t, ch, 5*time.Second)
	if p.err != nil || p.typ != 0x2374df3d || !bytes.Equal(p.body, req[12:len(req)-4]) {
		t.Fatalf("request: %#x %x %v", p.typ, p.body, p.err)
	}
}

func TestNonceHandshakeRoundTrip(t *testing.T) {
	for _, m := range []nonceMsg{
		{KeyID: [4]byte{1, 2, 3, 4}, Schema: schemaAES, Version: 1, Time: 77, Nonce: [16]byte{9}},
		{KeyID: [4]byte{1, 2, 3, 4}, Schema: schemaNoneOrAES, Version: 2, Time: 78, Nonce: [16]byte{8}, DHPoint: [32]byte{7, 31: 6}},
		{Version: 0},
	} {
		b := m.appendTo(nil)
		got, err := parseNonce(append(b, "future"...))
		if err != nil || got != m {
			t.Fatalf("nonce %+v -> %x -> %+v %v", m, b, got, err)
		}
	}
	h := handshakeMsg{Flags: 0x1800, Sender: NewPID(0x7f000001, 1, 2, 3), Peer: NewPID(4, 5, 6, 7)}
	b := h.appendTo(nil)
	if got, err := parseHandshake(b); err != nil || got != h || len(b) != hsLen {
		t.Fatalf("handshake %x -> %+v %v", b, got, err)
	}
	if _, err := parseHandshake(b[:27]); err == nil {
		t.Fatal("short handshake accepted")
	}
	if _, err := parseNonce(make([]byte, 27)); err == nil {
		t.Fatal("short nonce accepted")
	}
	v2 := make([]byte, 59)
	v2[5] = 2
	if _, err := parseNonce(v2); err == nil {
		t.Fatal("short v2 nonce accepted")
	}
}

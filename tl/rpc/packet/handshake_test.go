package packet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestHandshakeFailures(t *testing.T) {
	defer verifyNoLeaks(t)
	sameIDKey := append([]byte(nil), testKey...)
	sameIDKey[len(sameIDKey)-1] ^= 1 // same KeyID, different tail
	tests := []struct {
		name                 string
		cc, sc               Config
		clientErr, serverErr error // nil: do not check that side's class
	}{
		{"client needs AES, has no key", Config{ForceEncryption: true}, Config{Key: testKey}, ErrEncryptionRequired, nil},
		{"server needs AES, client has no key", Config{}, Config{Key: testKey, ForceEncryption: true}, ErrHandshake, ErrEncryptionRequired},
		{"unknown key", Config{Key: otherKey, ForceEncryption: true}, Config{Key: testKey}, ErrHandshake, ErrUnknownKey},
		{"server has no keys", Config{Key: testKey, ForceEncryption: true}, Config{}, ErrHandshake, ErrUnknownKey},
		{"same KeyID, different key (garbage after decryption)", Config{Key: sameIDKey, ForceEncryption: true}, Config{Key: testKey}, ErrHandshake, ErrHandshake},
		{"client clock 60s behind", Config{Key: testKey, ForceEncryption: true, Now: func() time.Time { return time.Now().Add(-time.Minute) }},
			Config{Key: testKey}, ErrHandshake, ErrTimeSkew},
		{"server clock 60s ahead", Config{Key: testKey, ForceEncryption: true},
			Config{Key: testKey, Now: func() time.Time { return time.Now().Add(time.Minute) }}, ErrHandshake, ErrTimeSkew},
		{"short key", Config{Key: []byte("short")}, Config{}, ErrBadConfig, nil},
		{"zero KeyID", Config{Key: make([]byte, 32)}, Config{}, ErrBadConfig, nil},
		{"colliding server keys", Config{}, Config{Keys: [][]byte{testKey, sameIDKey}}, nil, ErrBadConfig},
		{"CRC32C refused but server turns it on", Config{DisableCRC32C: true, HandshakeFlags: FlagCRC32C}, Config{}, ErrHandshake, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nc, ns := tcpPair(t)
			ch := make(chan hsResult, 1)
			go func() {
				c, err := ServerHandshake(ns, Config{PacketTimeout: 2 * time.Second, Keys: tc.sc.Keys, Key: tc.sc.Key, ForceEncryption: tc.sc.ForceEncryption, Now: tc.sc.Now})
				ch <- hsResult{c, err}
			}()
			tc.cc.PacketTimeout = 2 * time.Second
			c, cerr := ClientHandshake(nc, tc.cc)
			if tc.clientErr == nil {
				nc.Close() // the server is waiting for us
			}
			r := <-ch
			if c != nil {
				c.Close()
			}
			if r.c != nil {
				r.c.Close()
			}
			if tc.clientErr != nil {
				wantErr(t, cerr, tc.clientErr)
			}
			if tc.serverErr != nil {
				wantErr(t, r.err, tc.serverErr)
			}
			if cerr == nil && r.err == nil {
				t.Fatal("handshake succeeded")
			}
		})
	}
}

// TestHandshakeRaw: malformed first packets and stalls during the handshake.
func TestHandshakeRaw(t *testing.T) {
	defer verifyNoLeaks(t)
	nonceBody := func(version byte, schema byte) []byte {
		b := []byte{0, 0, 0, 0, schema, version, 0, 0}
		b = binary.LittleEndian.AppendUint32(b, uint32(time.Now().Unix()))
		return append(b, "0123456789abcdef"...)
	}
	tests := []struct {
		name string
		send []byte
		want error
	}{
		{"nothing at all", nil, ErrTimeout},
		{"half a nonce", appendFrame(nil, ieee(), seqNonce, TypeNonce, nil, nonceBody(1, 0), false)[:20], ErrTimeout},
		{"wrong first type", appendFrame(nil, ieee(), seqNonce, TypePing, nil, le64(1), false), ErrBadType},
		{"wrong first seq", appendFrame(nil, ieee(), 0, TypeNonce, nil, nonceBody(1, 0), false), ErrBadSeq},
		{"nonce CRC32C", appendFrame(nil, castagnoli(), seqNonce, TypeNonce, nil, nonceBody(1, 0), false), ErrBadCRC},
		{"nonce over 1023 bytes", appendFrame(nil, ieee(), seqNonce, TypeNonce, nil, make([]byte, 1100), false), ErrBadLength},
		{"short nonce body", appendFrame(nil, ieee(), seqNonce, TypeNonce, nil, make([]byte, 20), false), ErrHandshake},
		{"v2 nonce without point", appendFrame(nil, ieee(), seqNonce, TypeNonce, nil, nonceBody(2, 0), false), ErrHandshake},
		{"nonce then silence", appendFrame(nil, ieee(), seqNonce, TypeNonce, nil, nonceBody(1, 0), false), ErrTimeout},
		{"nonce then EOF-free garbage handshake", append(appendFrame(nil, ieee(), seqNonce, TypeNonce, nil, nonceBody(1, 0), false),
			appendFrame(nil, ieee(), seqHandshake, TypePing, nil, le64(1), false)...), ErrBadType},
		{"odd length in v0", appendFrame(nil, ieee(), seqNonce, TypeNonce, nil, append(nonceBody(0, 0), 1), false), ErrBadLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nc, ns := tcpPair(t)
			defer nc.Close()
			ch := make(chan hsResult, 1)
			go func() {
				c, err := ServerHandshake(ns, Config{PacketTimeout: 100 * time.Millisecond})
				ch <- hsResult{c, err}
			}()
			if _, err := nc.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			select {
			case r := <-ch:
				wantErr(t, r.err, tc.want)
				wantErr(t, r.err, ErrHandshake)
			case <-time.After(5 * time.Second):
				t.Fatal("server handshake did not give up")
			}
			_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadAll(nc); err != nil { // closed by the server (maybe after its nonce)
				t.Fatalf("not closed: %v", err)
			}
		})
	}
}

// TestClientGetsCHandshakeError: a C server refusing us with
// RPC_HANDSHAKE_ERROR surfaces its code.
func TestClientGetsCHandshakeError(t *testing.T) {
	defer verifyNoLeaks(t)
	nc, ns := tcpPair(t)
	defer ns.Close()
	go func() {
		var buf [44]byte
		_, _ = io.ReadFull(ns, buf[:])
		_, _ = ns.Write(appendFrame(nil, ieee(), seqNonce, TypeHandshakeError, nil, unhex(t, "fcffffff 00000000 00000000 00000000"), false))
	}()
	_, err := ClientHandshake(nc, Config{PacketTimeout: 5 * time.Second})
	wantErr(t, err, ErrHandshake)
	if err == nil || !strings.Contains(err.Error(), "handshake error -4") {
		t.Fatalf("error %v does not carry the code", err)
	}
}

func TestClientStalledServer(t *testing.T) {
	defer verifyNoLeaks(t)
	nc, ns := tcpPair(t)
	defer ns.Close()
	_, err := ClientHandshake(nc, Config{PacketTimeout: 100 * time.Millisecond})
	wantErr(t, err, ErrTimeout)
}

func TestTextProtocol(t *testing.T) {
	defer verifyNoLeaks(t)
	for _, send := range []string{"stats\r\n", "stats\n", "get stats\r\n", "version\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"} {
		t.Run(send, func(t *testing.T) {
			nc, ns := tcpPair(t)
			defer nc.Close()
			ch := make(chan hsResult, 1)
			go func() {
				c, err := ServerHandshake(ns, Config{PacketTimeout: 5 * time.Second})
				ch <- hsResult{c, err}
			}()
			if _, err := nc.Write([]byte(send)); err != nil {
				t.Fatal(err)
			}
			r := <-ch
			wantErr(t, r.err, ErrTextProtocol)
			var te *TextProtocolError
			if !errors.As(r.err, &te) || !bytes.HasPrefix([]byte(send), te.Head) || len(te.Head) < 6 {
				t.Fatalf("head %q", te.Head)
			}
			// The socket is left open for an answer.
			if _, err := ns.Write([]byte("END\r\n")); err != nil {
				t.Fatal(err)
			}
			ns.Close()
			got, _ := io.ReadAll(nc)
			if string(got) != "END\r\n" {
				t.Fatalf("answer %q", got)
			}
		})
	}
}

func TestTrusted(t *testing.T) {
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 1} }
	groups := [][]netip.Prefix{{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.0/24")}, {netip.MustParsePrefix("172.16.0.0/12")}}
	tests := []struct {
		l, r net.Addr
		want bool
	}{
		{tcp("127.0.0.1"), tcp("127.0.0.1"), true},
		{tcp("127.0.0.1"), tcp("10.1.1.1"), false},
		{tcp("::1"), tcp("127.0.0.2"), true},
		{tcp("10.1.1.1"), tcp("192.168.1.7"), true},
		{tcp("10.1.1.1"), tcp("172.16.0.1"), false},
		{tcp("::ffff:172.16.0.1"), tcp("172.17.0.1"), true},
		{&net.UnixAddr{Name: "a"}, &net.UnixAddr{Name: "b"}, true},
		{&net.UnixAddr{Name: "a"}, tcp("127.0.0.1"), false},
	}
	for _, tc := range tests {
		if got := trusted(tc.l, tc.r, groups); got != tc.want {
			t.Errorf("trusted(%v, %v) = %v", tc.l, tc.r, got)
		}
	}
}

func TestUTimeSourceAndPID(t *testing.T) {
	src := NewUTimeSource(time.Unix(1000, 0))
	if a, b := src.Next(), src.Next(); a != 1001 || b != 1002 {
		t.Fatalf("%d %d", a, b)
	}
	p := NewPID(0x7f000001, 2442, 0x2b, 77)
	if p.Port() != 2442 || p.ProcessID() != 0x2b || p.String() != "[127.0.0.1:2442:43:77]" {
		t.Fatalf("%v", p)
	}
	nc, ns := pipePair()
	c, s := handshakePair(t, nc, ns, Config{UTime: src.Next}, Config{LocalPID: PID{UTime: 5}})
	defer c.Close()
	defer s.Close()
	if c.LocalPID().UTime != 1003 || c.LocalPID().Port() != 0 || c.LocalPID().IP != 0x7f000001 {
		t.Fatalf("client pid %v", c.LocalPID())
	}
	if s.LocalPID().Port() != 2442 || s.LocalPID().UTime != 5 || c.PeerFlags() != FlagCRC32C|FlagCancelReq {
		t.Fatalf("server pid %v flags %#x", s.LocalPID(), c.PeerFlags())
	}
}

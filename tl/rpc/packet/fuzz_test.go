package packet

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// memConn is a net.Conn that reads a fixed byte string, then EOF, and
// discards writes. Deadlines are ignored: fuzzing must not wait.
type memConn struct {
	r *bytes.Reader
}

func (m *memConn) Read(b []byte) (int, error)  { return m.r.Read(b) }
func (m *memConn) Write(b []byte) (int, error) { return len(b), nil }
func (m *memConn) Close() error                { return nil }
func (m *memConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2442}
}
func (m *memConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

// knownClass reports whether err is one of the documented error classes.
func knownClass(err error) bool {
	for _, c := range []error{ErrClosed, ErrTimeout, ErrStalled, ErrBadLength, ErrBadSeq, ErrBadCRC, ErrBadPadding,
		ErrExcessivePadding, ErrBadType, ErrPingPong, ErrHandshake, io.EOF, io.ErrUnexpectedEOF} {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

// established returns a server-side Conn as if a CRC32C handshake had
// completed, reading data. mode bit 0 selects version 1 framing (else 0),
// bit 1 turns AES on with a fixed key, so data is ciphertext.
func established(t testing.TB, data []byte, mode uint8, readBuf int) *Conn {
	cfg := Config{ReadBufferSize: readBuf, MaxPacketLen: 1 << 16}
	s, err := cfg.settings(true)
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(&memConn{r: bytes.NewReader(data)}, &s, true)
	c.rd.seq, c.wseq = 0, 0
	c.setVersion(mode & 1)
	c.startCRC32C()
	if mode&2 != 0 {
		k := keyInput{Secret: testKey}
		if err := c.startCrypto(k.derive(false), k.derive(true)); err != nil {
			t.Fatal(err)
		}
	}
	c.start()
	return c
}

func FuzzReadPacket(f *testing.F) {
	f.Add([]byte{}, uint8(1))
	f.Add(appendFrame(nil, castagnoli(), 0, 1, nil, []byte("hello"), false), uint8(1))
	f.Add(appendFrame(appendFrame(nil, castagnoli(), 0, TypePing, nil, le64(1), false), castagnoli(), 1, 2, nil, []byte("abcd"), false), uint8(0))
	k := keyInput{Secret: testKey}
	c2s := k.derive(true)
	enc, _ := c2s.encrypter()
	sealed := padTo16(appendFrame(appendFrame(nil, castagnoli(), 0, 1, nil, []byte("odd"), true), castagnoli(), 1, TypePing, nil, le64(9), true))
	enc.CryptBlocks(sealed, sealed)
	f.Add(sealed, uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, version uint8) {
		c := established(t, data, version&3, 64)
		defer c.Close()
		for i := 0; ; i++ {
			if i > len(data)/4+1 { // each packet or padding word consumes >= 4 bytes
				t.Fatalf("%d packets from %d bytes", i, len(data))
			}
			typ, body, err := c.ReadPacket()
			if err != nil {
				if !knownClass(err) {
					t.Fatalf("unclassified error %v", err)
				}
				break
			}
			if len(body) > len(data) || typ == TypePing || typ == TypePong {
				t.Fatalf("packet %#x of %d bytes", typ, len(body))
			}
		}
		// Memory grows only with bytes actually received.
		if limit := max(64, 2*len(data)+2*aesBlock); len(c.rd.buf) > limit {
			t.Fatalf("read buffer %d bytes for %d input bytes", len(c.rd.buf), len(data))
		}
	})
}

func FuzzNonce(f *testing.F) {
	f.Add(make([]byte, nonceLen))
	f.Add(append([]byte{1, 2, 3, 4, 1, 2, 0, 0}, make([]byte, 52)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseNonce(data)
		if err != nil {
			if len(data) >= nonceLenV2 || (len(data) >= nonceLen && data[5] < 2) {
				t.Fatalf("rejected a long enough nonce: %v", err)
			}
			return
		}
		enc := m.appendTo(nil)
		if !bytes.HasPrefix(data, enc) {
			t.Fatalf("re-encoding %x is not a prefix of %x", enc, data)
		}
		if m2, err := parseNonce(enc); err != nil || m2 != m {
			t.Fatalf("round trip %+v -> %+v %v", m, m2, err)
		}
	})
}

func FuzzHandshake(f *testing.F) {
	f.Add(make([]byte, hsLen))
	f.Add([]byte("\x00\x18\x00\x00\x01\x00\x00\x7f\x00\x00\x00\x2b\x01\x00\x00\x5f\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseHandshake(data)
		if (err != nil) != (len(data) < hsLen) {
			t.Fatalf("len %d: %v", len(data), err)
		}
		if err == nil && !bytes.Equal(m.appendTo(nil), data[:hsLen]) {
			t.Fatalf("round trip %x", data)
		}
	})
}

// FuzzServerHandshake feeds arbitrary client bytes to ServerHandshake.
func FuzzServerHandshake(f *testing.F) {
	nonce := []byte{0, 0, 0, 0, schemaNone, 1, 0, 0, 0, 0, 0, 0}
	nonce = append(nonce, "0123456789abcdef"...)
	f.Add(appendFrame(nil, ieee(), seqNonce, TypeNonce, nil, nonce, false))
	f.Add(append(appendFrame(nil, ieee(), seqNonce, TypeNonce, nil, nonce, false),
		appendFrame(nil, ieee(), seqHandshake, TypeHandshake, nil, make([]byte, hsLen), false)...))
	f.Add([]byte("stats\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ServerHandshake(&memConn{r: bytes.NewReader(data)}, Config{Key: testKey})
		if err != nil {
			if !knownClass(err) && !errors.Is(err, ErrTextProtocol) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		c.Close()
	})
}

// zeroConn returns (0, nil) forever: a broken net.Conn must not spin us.
type zeroConn struct{ memConn }

func (zeroConn) Read([]byte) (int, error) { return 0, nil }

func TestNoProgressConn(t *testing.T) {
	defer verifyNoLeaks(t)
	_, err := ServerHandshake(&zeroConn{}, Config{})
	wantErr(t, err, io.ErrNoProgress)
	wantErr(t, err, ErrHandshake)
}

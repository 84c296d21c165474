package packet

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawPeer is a hand-driven client: it completes a plain v1 handshake with
// our server (asking for CRC32C), then writes whatever bytes a test wants.
type rawPeer struct {
	t   testing.TB
	nc  net.Conn
	seq uint32
}

func newRawPeer(t testing.TB, scfg Config) (*rawPeer, *Conn) {
	t.Helper()
	nc, ns := tcpPair(t)
	ch := make(chan hsResult, 1)
	go func() {
		c, err := ServerHandshake(ns, scfg)
		ch <- hsResult{c, err}
	}()
	p := &rawPeer{t: t, nc: nc, seq: seqNonce}
	body := []byte{0, 0, 0, 0, schemaNone, 1, 0, 0}
	body = binary.LittleEndian.AppendUint32(body, uint32(time.Now().Unix()))
	body = append(body, "0123456789abcdef"...)
	p.writeIEEE(TypeNonce, body)
	p.readN(44)
	p.writeIEEE(TypeHandshake, (&handshakeMsg{Flags: FlagCRC32C}).appendTo(nil))
	p.readN(44)
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return p, r.c
}

func (p *rawPeer) writeIEEE(typ uint32, body []byte) {
	p.t.Helper()
	p.raw(appendFrame(nil, ieee(), p.seq, typ, nil, body, false))
	p.seq++
}

// frame builds the next CRC32C packet.
func (p *rawPeer) frame(typ uint32, body []byte) []byte {
	f := appendFrame(nil, castagnoli(), p.seq, typ, nil, body, false)
	p.seq++
	return f
}

func (p *rawPeer) raw(b []byte) {
	p.t.Helper()
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

func (p *rawPeer) readN(n int) []byte {
	p.t.Helper()
	b := make([]byte, n)
	_ = p.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(p.nc, b); err != nil {
		p.t.Fatal(err)
	}
	return b
}

func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func TestBadInput(t *testing.T) {
	defer verifyNoLeaks(t)
	type peer = rawPeer
	tests := []struct {
		name  string
		cfg   Config
		send  func(p *peer) []byte
		close bool // half-close after sending
		want  error
	}{
		{"garbage", Config{}, func(p *peer) []byte { return []byte("hello, this is not a packet") }, false, ErrBadLength},
		{"wrong CRC", Config{}, func(p *peer) []byte {
			f := p.frame(1, []byte("body"))
			f[len(f)-1] ^= 1
			return f
		}, false, ErrBadCRC},
		{"flipped body bit", Config{}, func(p *peer) []byte {
			f := p.frame(1, []byte("body"))
			f[13] ^= 0x10
			return f
		}, false, ErrBadCRC},
		{"wrong seq", Config{}, func(p *peer) []byte {
			p.seq = 5
			return p.frame(1, nil)
		}, false, ErrBadSeq},
		{"IEEE CRC after CRC32C negotiated", Config{}, func(p *peer) []byte {
			return appendFrame(nil, ieee(), 0, 1, nil, []byte("x"), false)
		}, false, ErrBadCRC},
		{"length < 16", Config{}, func(p *peer) []byte {
			f := p.frame(1, nil)
			binary.LittleEndian.PutUint32(f, 12)
			return f
		}, false, ErrBadLength},
		{"length > 16 MiB - 1", Config{}, func(p *peer) []byte {
			f := p.frame(1, nil)
			binary.LittleEndian.PutUint32(f, 16<<20)
			return f
		}, false, ErrBadLength},
		{"length > MaxPacketLen", Config{MaxPacketLen: 4096}, func(p *peer) []byte {
			return p.frame(1, make([]byte, 4096))
		}, false, ErrBadLength},
		{"truncated then EOF", Config{}, func(p *peer) []byte {
			return p.frame(1, make([]byte, 100))[:60]
		}, true, io.ErrUnexpectedEOF},
		{"truncated header then EOF", Config{}, func(p *peer) []byte {
			return p.frame(1, nil)[:7]
		}, true, io.ErrUnexpectedEOF},
		{"4 padding words", Config{}, func(p *peer) []byte {
			return append(le64(0x0000000400000004), append(le64(0x0000000400000004), p.frame(1, nil)...)...)
		}, false, ErrExcessivePadding},
		{"unexpected pong", Config{}, func(p *peer) []byte { return p.frame(TypePong, le64(1)) }, false, ErrPingPong},
		{"ping with wrong length", Config{}, func(p *peer) []byte { return p.frame(TypePing, make([]byte, 12)) }, false, ErrPingPong},
		{"stall mid-packet", Config{PacketTimeout: 100 * time.Millisecond}, func(p *peer) []byte {
			return p.frame(1, make([]byte, 100))[:50]
		}, false, ErrStalled},
		{"stall mid-header", Config{PacketTimeout: 100 * time.Millisecond}, func(p *peer) []byte {
			return p.frame(1, nil)[:6]
		}, false, ErrStalled},
		{"stall after padding and half a header", Config{PacketTimeout: 100 * time.Millisecond}, func(p *peer) []byte {
			return append(le64(0x0000000400000004), p.frame(1, nil)[:6]...)
		}, false, ErrStalled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad, badConn := newRawPeer(t, tc.cfg)
			defer bad.nc.Close()
			// A healthy pair running at the same time must not notice.
			gnc, gns := pipePair()
			gc, gs := handshakePair(t, gnc, gns, Config{}, Config{})
			defer gc.Close()
			defer gs.Close()

			ch := readAsync(badConn)
			bad.raw(tc.send(bad))
			if tc.close {
				_ = bad.nc.(*net.TCPConn).CloseWrite()
			}
			r := waitRecv(t, ch, 5*time.Second)
			wantErr(t, r.err, tc.want)
			// The bad connection is closed: its peer sees EOF.
			_ = bad.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadAll(bad.nc); err != nil {
				t.Fatalf("bad peer not disconnected: %v", err)
			}
			if err := badConn.WritePacket(1, nil, nil); !errors.Is(err, tc.want) {
				t.Fatalf("write after failure: %v", err)
			}

			gch := readAsync(gs)
			if err := gc.WritePacket(9, nil, []byte("still fine")); err != nil {
				t.Fatal(err)
			}
			if g := waitRecv(t, gch, 5*time.Second); g.err != nil || string(g.body) != "still fine" {
				t.Fatalf("healthy connection affected: %q %v", g.body, g.err)
			}
			badConn.Close()
		})
	}
}

// TestPaddingAccepted: up to 3 padding words before a packet are skipped,
// on plain connections too.
func TestPaddingAccepted(t *testing.T) {
	defer verifyNoLeaks(t)
	p, c := newRawPeer(t, Config{})
	defer p.nc.Close()
	defer c.Close()
	pad := []byte{4, 0, 0, 0}
	var b []byte
	for n := 0; n <= 3; n++ {
		for range n {
			b = append(b, pad...)
		}
		b = append(b, p.frame(uint32(100+n), []byte("x"))...)
	}
	ch := make(chan recvResult, 4)
	go func() {
		for range 4 {
			typ, body, err := c.ReadPacket()
			ch <- recvResult{typ, append([]byte(nil), body...), err}
		}
	}()
	p.raw(b)
	for n := 0; n <= 3; n++ {
		if r := waitRecv(t, ch, 5*time.Second); r.err != nil || r.typ != uint32(100+n) || string(r.body) != "x" {
			t.Fatalf("packet %d: %#x %q %v", n, r.typ, r.body, r.err)
		}
	}
}

// TestEncryptedBadPadding: an AES peer whose 4-byte alignment after the
// CRC is not zero is cut off; zero alignment and pad words are accepted.
func TestEncryptedBadPadding(t *testing.T) {
	defer verifyNoLeaks(t)
	for _, tc := range []struct {
		name string
		fill byte
		want error
	}{
		{"zero alignment", 0, nil},
		{"non-zero alignment", 7, ErrBadPadding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, ns := tcpPair(t)
			defer nc.Close()
			ch := make(chan hsResult, 1)
			go func() {
				c, err := ServerHandshake(ns, Config{Key: testKey, ForceEncryption: true})
				ch <- hsResult{c, err}
			}()
			p := &rawPeer{t: t, nc: nc, seq: seqNonce}
			cn := nonceMsg{KeyID: keyID(testKey), Schema: schemaAES, Version: 1, Time: uint32(time.Now().Unix()), Nonce: [16]byte{1, 2, 3}}
			p.writeIEEE(TypeNonce, cn.appendTo(nil))
			reply := p.readN(44)
			sn, err := parseNonce(reply[12:40])
			if err != nil || sn.Schema != schemaAES {
				t.Fatalf("server nonce %+v %v", sn, err)
			}
			in := keyInput{Secret: testKey, ClientNonce: cn.Nonce, ServerNonce: sn.Nonce, ClientTime: cn.Time, ServerIP: sn.Time}
			k := in.derive(true)
			enc, _ := k.encrypter()
			send := func(plain []byte) {
				plain = padTo16(plain)
				enc.CryptBlocks(plain, plain)
				p.raw(plain)
			}
			hs := appendFrame(nil, ieee(), seqHandshake, TypeHandshake, nil, (&handshakeMsg{Flags: FlagCRC32C}).appendTo(nil), true)
			p.seq++
			send(hs)
			p.readN(48) // encrypted server handshake, padded to 16
			r := <-ch
			if r.err != nil {
				t.Fatal(r.err)
			}
			defer r.c.Close()
			rc := readAsync(r.c)
			f := appendFrame(nil, castagnoli(), 0, 1, nil, []byte("odd"), true) // 19 bytes + 1 alignment
			f[len(f)-1] = tc.fill
			send(f)
			got := waitRecv(t, rc, 5*time.Second)
			if tc.want == nil {
				if got.err != nil || string(got.body) != "odd" {
					t.Fatalf("%q %v", got.body, got.err)
				}
				return
			}
			wantErr(t, got.err, tc.want)
		})
	}
}

// TestCloseLogLevel: a connection the peer closes cleanly, or this side
// closes, is logged at debug (an app that connects per request closes
// thousands a second); one that fails is a warning naming the reason.
func TestCloseLogLevel(t *testing.T) {
	defer verifyNoLeaks(t)
	for _, tc := range []struct {
		name  string
		end   func(p *rawPeer, c *Conn)
		level string
		why   string
	}{
		{"peer closes", func(p *rawPeer, c *Conn) { _ = p.nc.Close() }, "DEBUG", "EOF"},
		{"this side closes", func(p *rawPeer, c *Conn) { _ = c.Close() }, "DEBUG", "connection closed"},
		{"wrong CRC", func(p *rawPeer, c *Conn) {
			f := p.frame(1, []byte("body"))
			f[len(f)-1] ^= 1
			p.raw(f)
		}, "WARN", "CRC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log lockedLog
			p, c := newRawPeer(t, Config{Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			defer p.nc.Close()
			defer c.Close()
			tc.end(p, c)
			if _, _, err := c.ReadPacket(); err == nil {
				t.Fatal("ReadPacket after the end: no error")
			}
			got := log.String()
			if !strings.Contains(got, "level="+tc.level+` msg="rpc/packet: connection closed"`) || !strings.Contains(got, tc.why) {
				t.Fatalf("log %q, want the close at %s naming %q", got, tc.level, tc.why)
			}
		})
	}
}

// TestLogLimit: one line a second, each carrying the count of those not
// logged since the last; a nil LogLimit allows everything.
func TestLogLimit(t *testing.T) {
	clock := time.Unix(1000, 0)
	l := &LogLimit{Now: func() time.Time { return clock }}
	for i, st := range []struct {
		step     time.Duration
		unlogged int64
		ok       bool
	}{
		{0, 0, true},
		{0, 0, false},
		{999 * time.Millisecond, 0, false},
		{time.Millisecond, 2, true}, // a second after the last line
		{500 * time.Millisecond, 0, false},
		{time.Hour, 1, true},
		{0, 0, false},
	} {
		clock = clock.Add(st.step)
		if n, ok := l.Allow(); n != st.unlogged || ok != st.ok {
			t.Fatalf("step %d: Allow = %d, %v; want %d, %v", i, n, ok, st.unlogged, st.ok)
		}
	}
	var none *LogLimit
	for range 3 {
		if n, ok := none.Allow(); n != 0 || !ok {
			t.Fatalf("nil LogLimit: Allow = %d, %v", n, ok)
		}
	}
}

// TestWarnLimitShared: the connections of one server share its
// WarnLimit: three that fail within a second log one warning, the next
// one after a second says how many were not logged; a peer that closes
// before the handshake (a TCP health check) logs a debug line only.
func TestWarnLimitShared(t *testing.T) {
	defer verifyNoLeaks(t)
	var log lockedLog
	var ns atomic.Int64
	clock := func() time.Time { return time.Unix(1000, ns.Load()) }
	cfg := Config{
		Logger:    slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		WarnLimit: &LogLimit{Now: clock},
	}
	fail := func() {
		t.Helper()
		p, c := newRawPeer(t, cfg)
		defer p.nc.Close()
		defer c.Close()
		f := p.frame(1, []byte("body"))
		f[len(f)-1] ^= 1 // wrong CRC
		p.raw(f)
		if _, _, err := c.ReadPacket(); !errors.Is(err, ErrBadCRC) {
			t.Fatalf("ReadPacket: %v, want ErrBadCRC", err)
		}
	}
	for range 3 {
		fail()
	}
	if n := strings.Count(log.String(), "level=WARN"); n != 1 {
		t.Fatalf("3 failures in a second: %d warnings, want 1:\n%s", n, log.String())
	}
	ns.Add(int64(time.Second))
	fail()
	if got := log.String(); strings.Count(got, "level=WARN") != 2 || !strings.Contains(got, "unlogged=2") {
		t.Fatalf("the failure a second later: want a second warning with unlogged=2:\n%s", got)
	}

	// A health check: connect, close, no byte sent.
	ns.Add(int64(time.Second)) // a warning now would be allowed: none comes
	nc, srv := tcpPair(t)
	_ = nc.Close()
	if _, err := ServerHandshake(srv, cfg); err == nil {
		t.Fatal("handshake with a closed peer: no error")
	}
	if got := log.String(); strings.Count(got, "level=WARN") != 2 || !strings.Contains(got, `level=DEBUG msg="rpc/packet: peer closed before the handshake"`) {
		t.Fatalf("a health check's close: want one debug line and no warning:\n%s", got)
	}
}

// lockedLog is a log sink for several goroutines.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

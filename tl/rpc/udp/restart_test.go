package udp

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want error
	}{
		{"no keys", Config{}, ErrConfig},
		{"short key", Config{Keys: [][]byte{[]byte("short")}}, ErrConfig},
		{"same key id", Config{Keys: [][]byte{testKey, append(bytes.Clone(testKey[:4]), bytes.Repeat([]byte{'z'}, 40)...)}}, ErrConfig},
		{"huge window", Config{Keys: [][]byte{testKey}, MaxWindow: 1 << 21}, ErrConfig},
		{"message beyond window", Config{Keys: [][]byte{testKey}, MaxWindow: 2, MaxMessage: 5000}, ErrConfig},
		{"ok", Config{Keys: [][]byte{testKey, testKey}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.settings()
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDialErrors(t *testing.T) {
	leakCheck(t)
	tr := newTransport(t, Config{})
	for _, a := range []string{"[::1]:5000", "127.0.0.1:0", "0.0.0.0:5000"} {
		if _, err := tr.Dial(netip.MustParseAddrPort(a)); !errors.Is(err, ErrAddress) {
			t.Errorf("Dial(%s): %v", a, err)
		}
	}
	wild, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	wt, err := New(wild, Config{Keys: [][]byte{testKey}})
	if err != nil {
		t.Fatal(err)
	}
	defer wt.Close()
	if _, err := wt.Dial(addrOf(tr)); !errors.Is(err, ErrAddress) {
		t.Errorf("wildcard transport dialled: %v", err)
	}
	c, err := tr.Dial(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), addrOf(wt).Port()))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WritePacket(1, nil, make([]byte, tr.s.maxMessage)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge message: %v", err)
	}
	if err := c.WriteUnreliable(1, nil, make([]byte, chunkMax)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge unreliable message: %v", err)
	}
	one := newTransport(t, Config{MaxConns: 1})
	if _, err := one.Dial(addrOf(tr)); err != nil {
		t.Fatal(err)
	}
	if _, err := one.Dial(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 9)); !errors.Is(err, ErrTooMany) {
		t.Errorf("second dial with MaxConns 1: %v", err)
	}
	_ = tr.Close()
	if _, err := tr.Accept(); !errors.Is(err, ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
	if err := c.WritePacket(1, nil, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("write after Close: %v", err)
	}
}

// TestUnreliableAndConcurrentWriters: unreliable messages arrive on
// loopback; four writers' 50 messages each all arrive once.
func TestUnreliableAndConcurrentWriters(t *testing.T) {
	leakCheck(t)
	srv := newTransport(t, Config{})
	cli := newTransport(t, Config{})
	c, err := cli.Dial(addrOf(srv))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteUnreliable(7, []byte("engine"), []byte(".pid")); err != nil {
		t.Fatal(err)
	}
	s := acceptWithin(t, srv, 5*time.Second)
	rd := reader(s)
	if r := recvWithin(t, rd, 5*time.Second); r.err != nil || r.typ != 7 || string(r.body) != "engine.pid" {
		t.Fatalf("unreliable: %v %d %q", r.err, r.typ, r.body)
	}
	const writers, each = 4, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				body := bytes.Repeat([]byte{byte(w)}, 100+i*40)
				if err := c.WritePacket(uint32(w*each+i), nil, body); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	seen := map[uint32]bool{}
	for range writers * each {
		r := recvWithin(t, rd, 10*time.Second)
		if r.err != nil || seen[r.typ] || len(r.body) != 100+int(r.typ%each)*40 {
			t.Fatalf("message %d: %v, seen %v, %d bytes", r.typ, r.err, seen[r.typ], len(r.body))
		}
		seen[r.typ] = true
	}
	wg.Wait()
	_ = c.Close()
	_ = s.Close()
}

// TestPeerRestart: the server restarts on the same port with a new start
// time. The client's connection ends with ErrReset (the new server answers
// its hash-mode datagrams with obsoleteHash from a new pid), and a redial
// reaches the new server.
func TestPeerRestart(t *testing.T) {
	leakCheck(t)
	sock := listen(t)
	port := sock.LocalAddr().(*net.UDPAddr).AddrPort()
	srv, err := New(sock, Config{Keys: [][]byte{testKey}, UTime: 1000})
	if err != nil {
		t.Fatal(err)
	}
	cli := newTransport(t, Config{})
	c, err := cli.Dial(port)
	if err != nil {
		t.Fatal(err)
	}
	rd := reader(c)
	echo := func(tr *Transport) {
		go func() {
			s, err := tr.Accept()
			if err != nil {
				return
			}
			for {
				typ, body, err := s.ReadPacket()
				if err != nil {
					return
				}
				_ = s.WritePacket(typ, nil, body)
			}
		}()
	}
	echo(srv)
	if err := c.WritePacket(1, nil, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if r := recvWithin(t, rd, 5*time.Second); r.err != nil || string(r.body) != "old" {
		t.Fatalf("%v %q", r.err, r.body)
	}
	_ = srv.Close()
	sock2, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(port))
	if err != nil {
		t.Skipf("cannot rebind %v: %v", port, err)
	}
	srv2, err := New(sock2, Config{Keys: [][]byte{testKey}, UTime: 2000})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	echo(srv2)
	if err := c.WritePacket(2, nil, []byte("lost")); err != nil {
		t.Fatal(err)
	}
	r := recvWithin(t, rd, 10*time.Second)
	if !errors.Is(r.err, ErrReset) {
		t.Fatalf("old connection: %v, want ErrReset", r.err)
	}
	c2, err := cli.Dial(port)
	if err != nil || c2 == c {
		t.Fatalf("redial: %v (same conn %v)", err, c2 == c)
	}
	if err := c2.WritePacket(3, nil, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if r := recvWithin(t, reader(c2), 5*time.Second); r.err != nil || string(r.body) != "new" {
		t.Fatalf("%v %q", r.err, r.body)
	}
	if p := c2.PeerPID(); p.UTime != 2000 {
		t.Fatalf("peer %v", p)
	}
	_ = c2.Close()
}

// TestClientRestart: a client restarts on the same port; the server's old
// connection to it resets and the new one is accepted.
func TestClientRestart(t *testing.T) {
	leakCheck(t)
	srv := newTransport(t, Config{})
	sock := listen(t)
	cport := sock.LocalAddr().(*net.UDPAddr).AddrPort()
	cli, err := New(sock, Config{Keys: [][]byte{testKey}, UTime: 1000})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := cli.Dial(addrOf(srv))
	if err := c.WritePacket(1, nil, []byte("a")); err != nil {
		t.Fatal(err)
	}
	s1 := acceptWithin(t, srv, 5*time.Second)
	if r := recvWithin(t, reader(s1), 5*time.Second); r.err != nil {
		t.Fatal(r.err)
	}
	_ = cli.Close()
	sock2, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(cport))
	if err != nil {
		t.Skipf("cannot rebind %v: %v", cport, err)
	}
	cli2, err := New(sock2, Config{Keys: [][]byte{testKey}, UTime: 2000})
	if err != nil {
		t.Fatal(err)
	}
	defer cli2.Close()
	c2, _ := cli2.Dial(addrOf(srv))
	if err := c2.WritePacket(2, nil, []byte("b")); err != nil {
		t.Fatal(err)
	}
	s2 := acceptWithin(t, srv, 5*time.Second)
	if r := recvWithin(t, reader(s2), 5*time.Second); r.err != nil || string(r.body) != "b" {
		t.Fatalf("%v %q", r.err, r.body)
	}
	select {
	case <-s1.Done():
		if !errors.Is(s1.Err(), ErrReset) {
			t.Fatalf("old server conn: %v", s1.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("old server conn not reset")
	}
	_ = s2.Close()
}

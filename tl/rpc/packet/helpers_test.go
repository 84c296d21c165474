package packet

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// testKey is a valid 32+ byte key; otherKey shares nothing with it.
var (
	testKey  = []byte("0123456789abcdef0123456789abcdef-test")
	otherKey = []byte("zyxwvutsrqponmlk0123456789abcdef-other")
)

// loopAddr makes net.Pipe ends look like loopback TCP, so the loopback
// exemption applies exactly as over real sockets.
type loopConn struct {
	net.Conn
	local, remote net.Addr
}

func (c loopConn) LocalAddr() net.Addr  { return c.local }
func (c loopConn) RemoteAddr() net.Addr { return c.remote }

func pipePair() (client, server net.Conn) {
	a, b := net.Pipe()
	ca := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	sa := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2442}
	return loopConn{a, ca, sa}, loopConn{b, sa, ca}
}

// tcpPair returns two ends of a real loopback TCP connection.
func tcpPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return client, r.c
}

type hsResult struct {
	c   *Conn
	err error
}

// handshakePair runs both handshakes concurrently and returns the conns.
// plainPair is a started client and server Conn over loopback TCP with
// default configs (no AES). The caller closes both.
func plainPair(t testing.TB) (client, server *Conn) {
	t.Helper()
	nc, ns := tcpPair(t)
	return handshakePair(t, nc, ns, Config{}, Config{})
}

func handshakePair(t testing.TB, nc, ns net.Conn, cc, sc Config) (*Conn, *Conn) {
	t.Helper()
	ch := make(chan hsResult, 1)
	go func() {
		c, err := ServerHandshake(ns, sc)
		ch <- hsResult{c, err}
	}()
	c, err := ClientHandshake(nc, cc)
	r := <-ch
	if err != nil || r.err != nil {
		if c != nil {
			c.Close()
		}
		if r.c != nil {
			r.c.Close()
		}
		t.Fatalf("handshake: client %v, server %v", err, r.err)
	}
	return c, r.c
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recvResult is one ReadPacket outcome delivered over a channel.
type recvResult struct {
	typ  uint32
	body []byte
	err  error
}

// readAsync reads one packet in a goroutine, copying the body.
func readAsync(c *Conn) <-chan recvResult {
	ch := make(chan recvResult, 1)
	go func() {
		typ, body, err := c.ReadPacket()
		ch <- recvResult{typ, bytes.Clone(body), err}
	}()
	return ch
}

func waitRecv(t testing.TB, ch <-chan recvResult, d time.Duration) recvResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(d):
		t.Fatalf("no packet within %v", d)
		return recvResult{}
	}
}

// waitOK waits for one result on ch and fails the test on an error, or
// when none comes within d (what then names what is stuck).
func waitOK(t testing.TB, ch <-chan error, d time.Duration, what string) {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(d):
		t.Fatal(what + " stuck")
	}
}

func wantErr(t testing.TB, err, class error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("error %v, want class %v", err, class)
	}
}

// verifyNoLeaks checks that a test left no goroutines behind. VK's
// server (interop tests, same binary) starts one process-wide CPU sampler
// that never exits; it is not ours.
func verifyNoLeaks(t testing.TB) {
	t.Helper()
	goleak.VerifyNone(t, goleak.IgnoreTopFunction("github.com/VKCOM/tl/internal/vkgo/pkg/srvfunc.(*CPUInfo).thisProcessCpuUsageLoop"))
}

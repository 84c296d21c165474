//go:build linux

package udp

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// TestRawSocket: an IPv4 UDP socket gets raw calls; datagrams go both ways
// with the sender's address (port byte order included); a write to an
// IPv6 address fails as net's does; after Close a read fails with
// net.ErrClosed; a socket that is not AF_INET keeps the ordinary calls.
func TestRawSocket(t *testing.T) {
	listen := func(addr string) *net.UDPConn {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := listen("127.0.0.1:0"), listen("127.0.0.1:0")
	defer b.Close()
	ra, ok := rawUDP(a).(*rawSocket)
	if !ok {
		t.Fatalf("rawUDP(127.0.0.1 socket) = %T, want *rawSocket", rawUDP(a))
	}
	aAddr, bAddr := a.LocalAddr().(*net.UDPAddr).AddrPort(), b.LocalAddr().(*net.UDPAddr).AddrPort()

	msg := []byte("datagram \x00\xff")
	if n, err := ra.WriteToUDPAddrPort(msg, bAddr); err != nil || n != len(msg) {
		t.Fatalf("raw write: %d, %v", n, err)
	}
	buf := make([]byte, 64)
	n, from, err := b.ReadFromUDPAddrPort(buf)
	if err != nil || !bytes.Equal(buf[:n], msg) || from != aAddr {
		t.Fatalf("net read of the raw write: %q from %v, %v; want %q from %v", buf[:n], from, err, msg, aAddr)
	}
	if _, err := b.WriteToUDPAddrPort([]byte("reply"), aAddr); err != nil {
		t.Fatal(err)
	}
	n, from, err = ra.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "reply" || from != bAddr {
		t.Fatalf("raw read: %q from %v, %v; want \"reply\" from %v", buf[:n], from, err, bAddr)
	}

	if _, err := ra.WriteToUDPAddrPort(msg, netip.MustParseAddrPort("[::1]:9")); err == nil {
		t.Fatal("write to an IPv6 address from an IPv4 socket: no error")
	}
	// A datagram over 64 KiB: sendto fails, worded as net's own write.
	huge := make([]byte, 70000)
	_, rawErr := ra.WriteToUDPAddrPort(huge, bAddr)
	_, netErr := a.WriteToUDPAddrPort(huge, bAddr)
	if rawErr == nil || netErr == nil || rawErr.Error() != netErr.Error() || !errors.Is(rawErr, syscall.EMSGSIZE) {
		t.Fatalf("oversized raw write: %v; want net's %v (EMSGSIZE)", rawErr, netErr)
	}

	if allocs := testing.AllocsPerRun(100, func() {
		if _, err := ra.WriteToUDPAddrPort(msg, aAddr); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ra.ReadFromUDPAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("%v allocations per raw write and read, want 0", allocs)
	}

	done := make(chan error)
	go func() {
		_, _, err := ra.ReadFromUDPAddrPort(buf)
		done <- err
	}()
	ra.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read across Close: %v, want net.ErrClosed", err)
	}

	if c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err == nil {
		defer c.Close()
		if s := rawUDP(c); s != Socket(c) {
			t.Errorf("rawUDP([::1] socket) = %T, want the socket itself", s)
		}
	}
}

// TestReadBuffer: New raises the socket's receive buffer to
// Config.ReadBuffer (the kernel caps it at net.core.rmem_max and reports
// twice what it keeps), and a negative ReadBuffer leaves it alone.
func TestReadBuffer(t *testing.T) {
	rcvbuf := func(c *net.UDPConn) int {
		t.Helper()
		rc, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var serr error
		if err := rc.Control(func(fd uintptr) { n, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF) }); err != nil || serr != nil {
			t.Fatal(err, serr)
		}
		return n
	}
	raw, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Fatal(err)
	}
	rmemMax, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	const asked = 1 << 20
	// warnedFor is the log line a request for size bytes gets: a warning
	// when rmem_max caps it, nothing otherwise.
	warnedFor := func(size int) string {
		if size > rmemMax {
			return "capped"
		}
		return ""
	}
	for _, tc := range []struct {
		name string
		size int
		want func(before int) int
		log  string // contained in the log; "" means nothing logged
	}{
		{"raised", asked, func(int) int { return 2 * min(asked, rmemMax) }, warnedFor(asked)},
		{"capped by rmem_max", 2 * rmemMax, func(int) int { return 2 * rmemMax },
			"capped the socket's receive buffer at net.core.rmem_max; bursts may overflow it, each dropped datagram waiting for a resend: raise the cap (sysctl -w net.core.rmem_max=BYTES)\" asked_bytes=" +
				strconv.Itoa(2*rmemMax) + " got_bytes=" + strconv.Itoa(rmemMax)},
		{"left alone", -1, func(before int) int { return before }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := listen(t)
			before := rcvbuf(sock)
			var log lockedBuffer
			tr, err := New(sock, Config{Keys: [][]byte{testKey}, ReadBuffer: tc.size, Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			if got, want := rcvbuf(sock), tc.want(before); got != want {
				t.Fatalf("SO_RCVBUF %d, want %d (before %d, rmem_max %d)", got, want, before, rmemMax)
			}
			if got := log.String(); tc.log == "" && got != "" || !strings.Contains(got, tc.log) {
				t.Errorf("log %q, want %q", got, tc.log)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		var log lockedBuffer
		tr, err := New(refusingBuffer{listen(t)}, Config{Keys: [][]byte{testKey}, Logger: slog.New(slog.NewTextHandler(&log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		if want := `"udp: cannot set the socket's receive buffer; bursts may be dropped and resent" bytes=4194304 err="setsockopt: operation not permitted"`; !strings.Contains(log.String(), want) {
			t.Errorf("log %q, want %q", log.String(), want)
		}
	})
}

// refusingBuffer is a UDP socket whose receive buffer cannot be set.
type refusingBuffer struct{ *net.UDPConn }

func (refusingBuffer) SetReadBuffer(int) error {
	return &os.SyscallError{Syscall: "setsockopt", Err: syscall.EPERM}
}

// lockedBuffer is a log sink the transport's goroutines and the test
// share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

package udp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var testKey = []byte("abcdefghijklmnopqrstuvwxyz012345_test_key")

// leakCheck fails the test if goroutines outlive it. VK's server starts a
// CPU-usage goroutine, and VK's UDP Transport.Close leaves its goroutines
// blocked (goRead, goSend wait on conditions Close does not signal;
// goRegenerate sleeps): those are VK's, ignored by name.
func leakCheck(t *testing.T) {
	t.Helper()
	opts := []goleak.Option{
		goleak.IgnoreTopFunction("github.com/VKCOM/tl/internal/vkgo/pkg/srvfunc.(*CPUInfo).thisProcessCpuUsageLoop"),
	}
	for _, f := range []string{"goRead", "goSend", "goReceive", "goWrite", "goResend", "goAck", "goResendRequest", "goRegenerate"} {
		opts = append(opts, goleak.IgnoreAnyFunction("github.com/VKCOM/tl/pkg/rpc/udp.(*Transport)."+f))
	}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

func listen(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newTransport(t testing.TB, cfg Config) *Transport {
	t.Helper()
	if cfg.Keys == nil {
		cfg.Keys = [][]byte{testKey}
	}
	tr, err := New(listen(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func addrOf(tr *Transport) netip.AddrPort {
	return tr.LocalAddr().(*net.UDPAddr).AddrPort()
}

// readResult is one ReadPacket outcome.
type readResult struct {
	typ  uint32
	body []byte
	err  error
}

// reader runs ReadPacket in a goroutine, copying bodies, until an error.
func reader(c *Conn) <-chan readResult {
	ch := make(chan readResult, 64)
	go func() {
		defer close(ch)
		for {
			typ, body, err := c.ReadPacket()
			ch <- readResult{typ, bytes.Clone(body), err}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

func recvWithin(t *testing.T, ch <-chan readResult, d time.Duration) readResult {
	t.Helper()
	select {
	case r, ok := <-ch:
		if !ok {
			t.Fatal("reader ended")
		}
		return r
	case <-time.After(d):
		t.Fatalf("no message within %v", d)
	}
	return readResult{}
}

func acceptWithin(t *testing.T, tr *Transport, d time.Duration) *Conn {
	t.Helper()
	ch := make(chan *Conn, 1)
	go func() {
		c, err := tr.Accept()
		if err == nil {
			ch <- c
		}
		close(ch)
	}()
	select {
	case c := <-ch:
		if c == nil {
			t.Fatal("accept failed")
		}
		return c
	case <-time.After(d):
		_ = tr.Close()
		<-ch
		t.Fatalf("no accept within %v", d)
	}
	return nil
}

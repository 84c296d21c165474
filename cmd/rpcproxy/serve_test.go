package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// syncBuffer is a bytes.Buffer safe for the proxy's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitLog(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(out.String(), want) {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("log lacks %q:\n%s", want, out.String())
		}
	}
}

func TestServeReloadAndDrain(t *testing.T) {
	eng, err := enginetest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "proxy.toml")
	listen, admin := freePort(t), freePort(t)
	abs, _ := filepath.Abs("../../engines/memcache/memcache.tl")
	text := func(timeout string) string {
		return fmt.Sprintf("[proxy]\nlisten = %q\nadmin = %q\nschemas = [%q]\ntimeout = %q\n[[cluster]]\nname = \"mc\"\nfunctions = [\"memcache.*\"]\nshards = [{ replicas = [%q] }]\n",
			listen, admin, abs, timeout, eng.Addr)
	}
	if err := os.WriteFile(path, []byte(text("1s")), 0o600); err != nil {
		t.Fatal(err)
	}
	sigs := make(chan os.Signal, 1)
	out := &syncBuffer{}
	code := make(chan int, 1)
	go func() { code <- serve([]string{"-config", path, "-watch", "0"}, out, out, sigs) }()
	waitLog(t, out, "rpcproxy serving")

	nc, err := net.Dial("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := packet.ClientHandshake(nc, packet.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	body := tl.AppendString(tl.AppendUint32(nil, 0xd33b13ae), "k") // memcache.get "k"
	req := &rpc.InvokeReq{QueryID: 5, Body: body}
	if err := pc.WritePacket(rpc.TypeInvokeReq, rpc.AppendInvokeReqHeader(nil, req), body); err != nil {
		t.Fatal(err)
	}
	typ, raw, err := pc.ReadPacket()
	var res rpc.ReqResult
	if err != nil || rpc.ParseResult(typ, raw, &res) != nil || res.IsError() || res.QueryID != 5 {
		t.Fatalf("answer %08x %x %v", typ, raw, err)
	}

	if err := os.WriteFile(path, []byte("[proxy\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sigs <- syscall.SIGHUP
	waitLog(t, out, "config reload refused")
	if err := os.WriteFile(path, []byte(text("2s")), 0o600); err != nil {
		t.Fatal(err)
	}
	sigs <- syscall.SIGHUP
	waitLog(t, out, "config reloaded")

	pc.Close() // a VK client hangs up an idle connection on rpcServerWantsFin
	sigs <- syscall.SIGTERM
	select {
	case c := <-code:
		if c != exitOK {
			t.Fatalf("exit %d\n%s", c, out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	waitLog(t, out, "rpcproxy stopped")
}

func TestServeUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"-h"}, exitOK, "SIGHUP reloads"},
		{"no config", nil, exitUsage, "want -config FILE"},
		{"missing file", []string{"-config", "/nonexistent/x.toml"}, exitProblem, "x.toml"},
		{"bad level", []string{"-config", "../../configs/demo.toml", "-log-level", "loud"}, exitUsage, "-log-level"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if got := serve(tc.args, &out, &out, nil); got != tc.code || !strings.Contains(out.String(), tc.want) {
				t.Fatalf("exit %d (want %d), output:\n%s", got, tc.code, out.String())
			}
		})
	}
}

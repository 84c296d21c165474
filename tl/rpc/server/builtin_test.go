package server

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

func engineConfig() Config {
	return Config{
		Handler: echo,
		Now:     func() time.Time { return time.Unix(1_700_000_100, 0) },
		Packet:  packet.Config{LocalPID: packet.PID{UTime: 1_700_000_000}},
		Engine: EngineConfig{Enabled: true, Version: "memcache 1.2.3", Stats: func(add func(k, v string)) {
			add("items", "42")
		}},
	}
}

func TestBuiltins(t *testing.T) {
	leakCheck(t)
	ts := startServer(t, engineConfig())
	c := dial(t, ts.addr, packet.Config{})
	pid := c.pc.PeerPID() // the server's SenderPID from the handshake
	wantPID := tl.AppendUint32(nil, TagNetPID)
	wantPID = tl.AppendUint32(tl.AppendUint32(tl.AppendUint32(wantPID, pid.IP), pid.PortPID), pid.UTime)
	if pid.UTime != 1_700_000_000 || pid.IP != 0x7f000001 || pid.Port() == 0 {
		t.Fatalf("server pid %v", pid)
	}
	for i, tc := range []struct {
		name  string
		body  []byte
		check func(t *testing.T, res []byte)
	}{
		{"engine.pid", fn(TagEnginePID), func(t *testing.T, res []byte) {
			if !bytes.Equal(res, wantPID) {
				t.Fatalf("got % x, want % x", res, wantPID)
			}
		}},
		{"engine.version", fn(TagEngineVersion), func(t *testing.T, res []byte) {
			want := tl.AppendString(tl.AppendUint32(nil, TagString), "memcache 1.2.3")
			if !bytes.Equal(res, want) {
				t.Fatalf("got % x, want % x", res, want)
			}
		}},
		{"engine.stat", fn(TagEngineStat), func(t *testing.T, res []byte) {
			stats := parseStat(t, res)
			for k, v := range map[string]string{"items": "42", "version": "memcache 1.2.3", "uptime": "0", "start_time": "1700000100", "queries_total": "3"} {
				if stats[k] != v {
					t.Errorf("stat %s = %q, want %q", k, stats[k], v)
				}
			}
		}},
		{"other functions reach the handler", fn(tagEcho, 1, 2, 3, 4), func(t *testing.T, res []byte) {
			if !bytes.Equal(res, fn(tagEcho, 1, 2, 3, 4)) {
				t.Fatalf("got % x", res)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.call(&rpc.InvokeReq{QueryID: int64(i + 1), Body: tc.body})
			if res.IsError() {
				t.Fatalf("error %d %s", res.ErrorCode, res.ErrorText)
			}
			tc.check(t, res.Body)
		})
	}
}

// TestBuiltinsDisabled: without EngineConfig.Enabled the handler gets
// engine.pid like any other call.
func TestBuiltinsDisabled(t *testing.T) {
	leakCheck(t)
	ts := startServer(t, Config{Handler: echo})
	c := dial(t, ts.addr, packet.Config{})
	if res := c.call(&rpc.InvokeReq{QueryID: 1, Body: fn(TagEnginePID)}); !bytes.Equal(res.Body, fn(TagEnginePID)) {
		t.Fatalf("got % x", res.Body)
	}
}

func parseStat(t *testing.T, b []byte) map[string]string {
	t.Helper()
	r, err := tl.ExpectTag(b, TagStat)
	if err != nil {
		t.Fatal(err)
	}
	n, r, err := tl.ReadUint32(r)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	prev := ""
	for range n {
		var k, v string
		if k, r, err = tl.ReadString(r); err != nil {
			t.Fatal(err)
		}
		if v, r, err = tl.ReadString(r); err != nil {
			t.Fatal(err)
		}
		if k <= prev {
			t.Fatalf("keys not sorted: %q after %q", k, prev)
		}
		prev, m[k] = k, v
	}
	if len(r) != 0 {
		t.Fatalf("%d trailing bytes", len(r))
	}
	return m
}

func TestTextProtocol(t *testing.T) {
	leakCheck(t)
	for _, tc := range []struct {
		name    string
		enabled bool
		send    string
		want    []string // substrings of the answer; nil: closed without one
	}{
		{"stats", true, "stats\r\n", []string{"items 42\r\n", "version memcache 1.2.3\r\n", "END\r\n"}},
		{"stats lf", true, "stats\n", []string{"items 42\r\n", "END\r\n"}},
		{"get stats", true, "get stats\r\n", []string{"END\r\n"}},
		{"version", true, "version\r\n", []string{"VERSION memcache 1.2.3\r\n"}},
		{"http", true, "GET / HTTP/1.1\r\n\r\n", nil},
		{"disabled", false, "stats\r\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := engineConfig()
			cfg.Engine.Enabled = tc.enabled
			ts := startServer(t, cfg)
			nc, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := io.WriteString(nc, tc.send); err != nil {
				t.Fatal(err)
			}
			_ = nc.SetReadDeadline(time.Now().Add(wait))
			got, err := io.ReadAll(nc) // the server closes after answering
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil && len(got) != 0 {
				t.Fatalf("unexpected answer %q", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(got), w) {
					t.Fatalf("answer %q lacks %q", got, w)
				}
			}
		})
	}
}

// TestEnginePIDDuringShutdown: the health check fails once Shutdown
// begins, while other calls are still served.
func TestEnginePIDDuringShutdown(t *testing.T) {
	leakCheck(t)
	ts := startServer(t, engineConfig())
	c := dial(t, ts.addr, packet.Config{})
	shut := make(chan error, 1)
	go func() { shut <- ts.Shutdown(ctxWait(t)) }()
	if typ, _, err := c.read(); err != nil || typ != rpc.TypeServerWantsFin {
		t.Fatalf("got %#x %v", typ, err)
	}
	if res := c.call(&rpc.InvokeReq{QueryID: 1, Body: fn(TagEnginePID)}); res.ErrorCode != rpc.CodeGracefulShutdown {
		t.Fatalf("engine.pid during shutdown: %+v", res)
	}
	if res := c.call(&rpc.InvokeReq{QueryID: 2, Body: fn(tagEcho)}); res.IsError() {
		t.Fatalf("echo during shutdown: %+v", res)
	}
	_ = c.pc.Close()
	if err := recv(t, shut, "Shutdown"); err != nil {
		t.Fatal(err)
	}
}

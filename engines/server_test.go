package engines_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// TestControlTag: the tag of engine.debugSetFaults is the one the schema
// package computes from engine.tl.
func TestControlTag(t *testing.T) {
	sc, err := schema.LoadWithPrelude(filepath.Join(".", "engine.tl"))
	if err != nil {
		t.Fatal(err)
	}
	f := sc.Function("engine.debugSetFaults")
	if f == nil || f.Tag != engines.TagDebugSetFaults {
		t.Fatalf("engine.debugSetFaults: schema %v, code %08x", f, engines.TagDebugSetFaults)
	}
	// Tags travel little-endian: 65918789 is 89 87 91 65 on the wire.
	want := "89879165" + "05000000" + "40420f00" + "b5757299"
	if got := fmt.Sprintf("%x", engines.AppendDebugSetFaults(nil, engines.Faults{Latency: 5 * time.Millisecond, ErrorPPM: 1_000_000, Stall: true})); got != want {
		t.Fatalf("call %s, want %s", got, want)
	}
}

// TestDispatch: every answer of the engine server, over loopback.
func TestDispatch(t *testing.T) {
	leakCheck(t)
	e := startEngine(t, engines.Config{Version: "test-1.0"})
	ctx := ctxWait(t)
	local := e.addr
	_, portS, _ := net.SplitHostPort(local)
	port, _ := strconv.Atoi(portS)
	pid := tl.AppendUint32(nil, tl.TagNetPid)
	pid = tl.AppendUint32(pid, 0x7f000001)
	pid = tl.AppendUint32(pid, uint32(uint16(os.Getpid()))<<16|uint32(port))
	pid = tl.AppendUint32(pid, uint32(e.clock.Now().Unix()))
	for _, tc := range []struct {
		name string
		body []byte
		want []byte
		code int32
		text string
	}{
		{name: "echo", body: echo("hello"), want: echoAnswer("hello")},
		{name: "function error", body: tl.AppendUint32(nil, tagFail), code: -5001, text: "test.fail: test says no"},
		{name: "unknown function", body: tl.AppendUint32(nil, 0xd33b13ae), code: rpc.CodeUnknownFunctionID, text: "RPC handler for #d33b13ae not found"},
		{name: "trailing bytes", body: append(echo("x"), 0, 0, 0, 0), code: rpc.CodeExtraData, text: "test.echo"},
		{name: "truncated argument", body: tl.AppendUint32(nil, tagEcho), code: rpc.CodeSyntax, text: "test.echo"},
		{name: "engine.version", body: tl.AppendUint32(nil, engines.TagEngineVersion), want: echoAnswer("test-1.0")},
		{name: "engine.version trailing", body: tl.AppendUint32(tl.AppendUint32(nil, engines.TagEngineVersion), 0), code: rpc.CodeExtraData},
		{name: "engine.pid", body: tl.AppendUint32(nil, engines.TagEnginePID), want: pid},
		{name: "engine.pid trailing", body: tl.AppendUint32(tl.AppendUint32(nil, engines.TagEnginePID), 0), code: rpc.CodeExtraData, text: "engine.pid"},
		{name: "debugSetFaults truncated", body: tl.AppendUint32(nil, engines.TagDebugSetFaults), code: rpc.CodeSyntax, text: "latency_ms"},
		{name: "debugSetFaults bad Bool", body: tl.AppendUint32(tl.AppendInt32(tl.AppendInt32(tl.AppendUint32(nil, engines.TagDebugSetFaults), 0), 0), 7), code: rpc.CodeSyntax, text: "stall"},
		{name: "debugSetFaults negative latency", body: engines.AppendDebugSetFaults(nil, engines.Faults{Latency: -time.Millisecond}), code: rpc.CodeValueNotInRange, text: "latency"},
		{name: "debugSetFaults rate above 1e6", body: engines.AppendDebugSetFaults(nil, engines.Faults{ErrorPPM: 1_000_001}), code: rpc.CodeValueNotInRange, text: "error rate"},
		{name: "debugSetFaults healthy", body: engines.AppendDebugSetFaults(nil, engines.Faults{}), want: tl.AppendUint32(nil, tl.TagTrue)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.do(ctx, tc.body)
			if tc.code != 0 {
				if rpcCode(err) != tc.code || !strings.Contains(err.Error(), tc.text) {
					t.Fatalf("got %x, %v; want error %d %q", got, err, tc.code, tc.text)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %x, %v; want %x", got, err, tc.want)
			}
		})
	}
	// engine.stat: the server's counters and the engine's.
	body, err := e.do(ctx, tl.AppendUint32(nil, engines.TagEngineStat))
	if err != nil {
		t.Fatal(err)
	}
	stats := parseStat(t, body)
	for k, want := range map[string]string{
		"engine":                 "test",
		"version":                "test-1.0",
		"calls.test.echo":        "3",
		"errors.test.echo":       "2",
		"calls.test.fail":        "1",
		"errors.test.fail":       "1",
		"calls.engine.pid":       "2",
		"unknown_functions":      "1",
		"errors_total":           "9",
		"fault_stall":            "false",
		"fault_latency_ms":       "0",
		"calls.engine.stat":      "1",
		"calls.test.count":       "0",
		"fault_stalled_requests": "0",
	} {
		if stats[k] != want {
			t.Errorf("stat %s = %q, want %q", k, stats[k], want)
		}
	}
	if _, ok := stats["uptime"]; !ok {
		t.Errorf("no uptime in %v", stats)
	}
	if got := e.Stats()["calls.engine.stat"]; got != "1" {
		t.Errorf("Stats() calls.engine.stat = %q", got)
	}
}

// parseStat decodes a Stat answer (tag, count, key/value strings).
func parseStat(t testing.TB, b []byte) map[string]string {
	t.Helper()
	r, err := tl.ExpectTag(b, tl.TagStat)
	if err != nil {
		t.Fatal(err)
	}
	n, r, err := tl.ReadCount(r, 8)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string, n)
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
			t.Fatalf("stat keys not sorted: %q after %q", k, prev)
		}
		prev = k
		m[k] = v
	}
	if len(r) != 0 {
		t.Fatalf("%d bytes after the stat", len(r))
	}
	return m
}

func TestConfigErrors(t *testing.T) {
	f := func(args, dst []byte) ([]byte, error) { return dst, nil }
	for _, tc := range []struct {
		name string
		cfg  engines.Config
		want string
	}{
		{"no kind", engines.Config{}, "Kind"},
		{"duplicate tag", engines.Config{Kind: "x", Funcs: []engines.Func{{Name: "a", Tag: 1, Call: f}, {Name: "b", Tag: 1, Call: f}}}, "tag 00000001 already used"},
		{"built-in tag", engines.Config{Kind: "x", Funcs: []engines.Func{{Name: "a", Tag: engines.TagEnginePID, Call: f}}}, "already used"},
		{"no Call", engines.Config{Kind: "x", Funcs: []engines.Func{{Name: "a", Tag: 1}}}, "without name or Call"},
		{"bad faults", engines.Config{Kind: "x", Faults: engines.Faults{ErrorPPM: -1}}, "error rate"},
		{"bad transport", engines.Config{Kind: "x", Transport: serverConfigWithNegativeConns()}, "MaxConns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := engines.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "engines: ") {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if tc.name != "bad transport" && !errors.Is(err, engines.ErrBadConfig) {
				t.Fatalf("%v is not ErrBadConfig", err)
			}
		})
	}
}

// TestShutdown: graceful shutdown answers a call in flight, then the
// client sees the engine gone.
func TestShutdown(t *testing.T) {
	leakCheck(t)
	e := startEngine(t, engines.Config{})
	ctx := ctxWait(t)
	if _, err := e.do(ctx, echo("a")); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := e.do(ctxTimeout(t, time.Second), echo("b"))
	if err == nil {
		t.Fatal("call after shutdown answered")
	}
	if !errors.Is(err, client.ErrTimeout) && !errors.Is(err, client.ErrConnLost) && !errors.Is(err, client.ErrNoConnection) {
		t.Fatalf("call after shutdown: %v", err)
	}
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestSchemasTogether: engine.tl and memcache.tl load as one schema, so a
// proxy may list both.
func TestSchemasTogether(t *testing.T) {
	sc, err := schema.LoadWithPrelude(filepath.Join(".", "engine.tl"), filepath.Join("memcache", "memcache.tl"))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Function("engine.debugSetFaults") == nil || sc.Function("memcache.get") == nil {
		t.Fatal("functions missing")
	}
}

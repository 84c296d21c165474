package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/cmd/internal/memcache"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

const schemaFile = "../../engines/memcache/memcache.tl"

// call runs the command in-process and returns its exit code and output.
func call(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errw bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errw)
	return code, out.String(), errw.String()
}

func startFake(t *testing.T, cfg memcache.FakeConfig) *memcache.Fake {
	t.Helper()
	f, err := memcache.StartFake(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCall covers the output format and every exit code against a fake
// engine on 127.0.0.1.
func TestCall(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := startFake(t, memcache.FakeConfig{BinlogPos: 42})
	defer f.Close()
	failing := startFake(t, memcache.FakeConfig{ErrorEvery: 1, ErrorCode: rpc.CodeNoConnections})
	defer failing.Close()
	// A closed listener's port refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()

	ok, bad := f.Addr(), failing.Addr()
	tests := []struct {
		name      string
		stdin     string
		args      []string
		code      int
		stdout    string   // exact, if not ""
		stderrHas []string // substrings
		stdoutHas []string
		noStdout  bool
		noStderr  bool
	}{
		{name: "miss pretty", args: []string{"-addr", ok, "-schema", schemaFile, "memcache.get", `{"key":"nope"}`},
			stdout: "{\n  \"_\": \"memcache.not_found\"\n}\n"},
		{name: "set compact", args: []string{"-addr", ok, "-schema", schemaFile, "-compact", "memcache.set", `{"key":"a","flags":0,"delay":0,"value":"hello"}`},
			stdout: "true\n"},
		{name: "get hit, flags after the function", args: []string{"-addr", ok, "-schema", schemaFile, "memcache.get", "-compact", `{"key":"a"}`},
			stdout: `{"_":"memcache.strvalue","value":"hello","flags":0}` + "\n"},
		{name: "getMulti from stdin", stdin: `{"keys":["a","b"]}`, args: []string{"-addr", ok, "-schema", schemaFile, "-compact", "memcache.getMulti", "-"},
			stdout: `[{"_":"memcache.strvalue","value":"hello","flags":0},{"_":"memcache.not_found"}]` + "\n"},
		{name: "repeat", args: []string{"-addr", ok, "-schema", schemaFile, "-compact", "-n", "3", "memcache.get", `{"key":"a"}`},
			stdout:    strings.Repeat(`{"_":"memcache.strvalue","value":"hello","flags":0}`+"\n", 3),
			stderrHas: []string{"# 3 calls: 3 ok, 0 failed; latency min"}},
		{name: "verbose and hex", args: []string{"-addr", ok, "-schema", schemaFile, "-compact", "-v", "-hex", "-actor", "7",
			"-extra", `{"return_binlog_pos":true,"custom_timeout_ms":300}`, "-int-forward", "5", "memcache.get", `{"key":"a"}`},
			stdoutHas: []string{`"memcache.strvalue"`},
			stderrHas: []string{
				`# extra sent: {"flags":10485761,"return_binlog_pos":true,"int_forward":5,"custom_timeout_ms":300}`,
				`# result extra: {"flags":1,"binlog_pos":42}`,
				"# query_id: ",
				// rpcDestActorFlags, actor 7, flags 0x00a00001, int_forward 5,
				// custom_timeout_ms 300; then memcache.get "a".
				"# request  (rpcInvokeReq 2374df3d, 44 bytes): ",
				" f7aca5f0" + "0700000000000000" + "0100a000" + "0500000000000000" + "2c010000" + " ae133bd301610000\n",
				"# response (type 63aeda4e, ",
			}},
		{name: "rpc error", args: []string{"-addr", bad, "-schema", schemaFile, "memcache.get", `{"key":"a"}`},
			code: exitRPC, noStdout: true, stderrHas: []string{"rpccall: rpc error -3002 NO_CONNECTIONS: fake error for request 1\n"}},
		{name: "unknown function", args: []string{"-addr", ok, "-schema", schemaFile, "memcache.gett", `{}`},
			code: exitUsage, noStdout: true, stderrHas: []string{`unknown function "memcache.gett"`, "did you mean memcache.get"}},
		{name: "bad JSON path", args: []string{"-addr", ok, "-schema", schemaFile, "memcache.getMulti", `{"keys":["a",5]}`},
			code: exitUsage, noStdout: true, stderrHas: []string{"arguments of memcache.getMulti", "$.keys[1]"}},
		{name: "bad extra", args: []string{"-addr", ok, "-schema", schemaFile, "-extra", `{"int_froward":1}`, "memcache.get", `{"key":"a"}`},
			code: exitUsage, noStdout: true, stderrHas: []string{`unknown member "int_froward"; known: flags,`}},
		{name: "extra type", args: []string{"-addr", ok, "-schema", schemaFile, "-extra", `{"int_forward":"x"}`, "memcache.get", `{"key":"a"}`},
			code: exitUsage, noStdout: true, stderrHas: []string{"$.int_forward: want int64"}},
		{name: "forward twice", args: []string{"-addr", ok, "-schema", schemaFile, "-extra", `{"int_forward":1}`, "-int-forward", "2", "memcache.get", `{"key":"a"}`},
			code: exitUsage, noStdout: true, stderrHas: []string{"keep one"}},
		{name: "no schema", args: []string{"-addr", ok, "memcache.get", `{"key":"a"}`},
			code: exitUsage, noStdout: true, stderrHas: []string{"no schema: pass -schema FILE"}},
		{name: "missing schema file", args: []string{"-addr", ok, "-schema", "nope.tl", "memcache.get", `{"key":"a"}`},
			code: exitUsage, noStdout: true, stderrHas: []string{"rpccall: schema nope.tl:"}},
		{name: "udp without a key", args: []string{"-network", "udp", "-schema", schemaFile, "memcache.get", `{"key":"a"}`},
			code: exitUsage, noStdout: true, stderrHas: []string{"-network udp needs the peer's crypto key: pass -key-file FILE or -key-hex HEX"}},
		{name: "unknown network", args: []string{"-network", "sctp", "-schema", schemaFile, "memcache.get", `{"key":"a"}`},
			code: exitUsage, noStdout: true, stderrHas: []string{`-network "sctp": want tcp or udp`}},
		{name: "no function", args: []string{"-schema", schemaFile},
			code: exitUsage, noStdout: true, stderrHas: []string{"no FUNCTION given"}},
		{name: "two JSON args", args: []string{"-schema", schemaFile, "memcache.get", "{}", "{}"},
			code: exitUsage, noStdout: true, stderrHas: []string{"quote the JSON"}},
		{name: "connection refused", args: []string{"-addr", refused, "-schema", schemaFile, "memcache.get", `{"key":"a"}`},
			code: exitConn, noStdout: true, stderrHas: []string{"rpccall: cannot connect to " + refused, "check -addr"}},
		{name: "help", args: []string{"-h"}, noStderr: true, stdoutHas: []string{"exit codes:", "RPCCALL_SCHEMA", "memcache.get",
			"-network udp -key-file", "-key-hex HEX", "transport: -network tcp (default) or udp"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(schemaEnv, "")
			code, stdout, stderr := call(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstderr: %s", code, tc.code, stderr)
			}
			if tc.stdout != "" && stdout != tc.stdout {
				t.Errorf("stdout:\n%q\nwant\n%q", stdout, tc.stdout)
			}
			if tc.noStdout && stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if tc.noStderr && stderr != "" {
				t.Errorf("stderr %q, want nothing", stderr)
			}
			for _, s := range tc.stdoutHas {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tc.stderrHas {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
		})
	}
}

// TestEnvelopeReachesEngine: actor, forward keys and timeout arrive as sent.
func TestEnvelopeReachesEngine(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := startFake(t, memcache.FakeConfig{})
	defer f.Close()
	t.Setenv(schemaEnv, schemaFile) // the environment replaces -schema
	code, _, stderr := call(t, "", "-addr", f.Addr(), "-actor", "9", "-timeout", "250ms", "-string-forward", "user7",
		"-extra", `{"int_forward_keys":[3,4],"requester_id":11}`, "memcache.get", `{"key":"a"}`)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := f.Last()
	e := got.Extra
	if got.ActorID != 9 || e.CustomTimeoutMs != 250 || string(e.StringForward) != "user7" || e.RequesterID != 11 {
		t.Errorf("engine saw actor %d timeout %d string_forward %q requester %d", got.ActorID, e.CustomTimeoutMs, e.StringForward, e.RequesterID)
	}
	want := rpc.FlagCustomTimeoutMs | rpc.FlagStringForward | rpc.FlagIntForwardKeys | rpc.FlagRequesterID
	if got.Flags != want {
		t.Errorf("flags %#x, want %#x", got.Flags, want)
	}
}

// startServer runs tl/rpc/server with h on 127.0.0.1:0 until the test
// ends and returns its address.
func startServer(t *testing.T, h server.HandlerFunc) string {
	t.Helper()
	srv, err := server.New(server.Config{Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(served) }()
	t.Cleanup(func() { srv.Close(); <-served })
	return ln.Addr().String()
}

// TestTimeout: -timeout is sent as custom_timeout_ms and rpccall waits a
// grace longer, so a peer that answers QUERY_TIMEOUT at that deadline (as
// the proxy does for a slow engine) is reported with its own error and
// exit 1; a silent peer still ends in exit 4, after -timeout plus the
// grace and well before the test's bound.
func TestTimeout(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the servers' cleanups
	const slowText = "engine 10.0.0.7:2442 of cluster memcache did not answer within 1000ms"
	timed := startServer(t, func(r *server.Request) {
		d, ok := r.Deadline()
		if !ok {
			r.ReplyError(rpc.CodeInternal, "no custom_timeout_ms")
			return
		}
		time.AfterFunc(time.Until(d), func() { r.ReplyError(rpc.CodeQueryTimeout, slowText) })
	})
	held := make(chan *server.Request, 1)
	silent := startServer(t, func(r *server.Request) { held <- r })

	tests := []struct {
		name      string
		addr      string
		timeout   time.Duration
		code      int
		stderrHas string
		atLeast   time.Duration // a local timeout never fires earlier
	}{
		// 3s: a grace of 300ms, so a loaded -race run still gets the
		// peer's answer (sent at its deadline) well before rpccall's own.
		{name: "the peer's QUERY_TIMEOUT wins", addr: timed, timeout: 3 * time.Second, code: exitRPC,
			stderrHas: "rpccall: rpc error -3000 QUERY_TIMEOUT: " + slowText + "\n"},
		{name: "silent peer", addr: silent, timeout: 50 * time.Millisecond, code: exitTimeout,
			stderrHas: "rpccall: no answer from " + silent + " within 50ms (-timeout) + 50ms grace", atLeast: 100 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, stdout, stderr := call(t, "", "-addr", tc.addr, "-schema", schemaFile, "-timeout", tc.timeout.String(), "memcache.get", `{"key":"a"}`)
			elapsed := time.Since(start)
			if code != tc.code || stdout != "" || !strings.Contains(stderr, tc.stderrHas) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, stdout, stderr, tc.code, tc.stderrHas)
			}
			if elapsed < tc.atLeast || elapsed > tc.timeout+10*time.Second {
				t.Errorf("took %v, want at least %v and well under %v", elapsed, tc.atLeast, tc.timeout+10*time.Second)
			}
		})
	}
	select {
	case r := <-held:
		r.ReplyError(rpc.CodeQueryTimeout, "too late")
	case <-time.After(10 * time.Second):
		t.Error("the silent server never got the request")
	}
}

func TestGrace(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		want    time.Duration
	}{
		{"floor", 50 * time.Millisecond, 50 * time.Millisecond},
		{"floor up to 500ms", 500 * time.Millisecond, 50 * time.Millisecond},
		{"10% above", 2 * time.Second, 200 * time.Millisecond},
	}
	for _, tc := range tests {
		if got := grace(tc.timeout); got != tc.want {
			t.Errorf("%s: grace(%v) = %v, want %v", tc.name, tc.timeout, got, tc.want)
		}
	}
}

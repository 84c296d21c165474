package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/cmd/internal/memcache"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// bench runs the command in-process.
func runBench(t testing.TB, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errw bytes.Buffer
	code = run(ctx, args, &out, &errw)
	return code, out.String(), errw.String()
}

func startFake(t testing.TB, cfg memcache.FakeConfig) *memcache.Fake {
	t.Helper()
	f, err := memcache.StartFake(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func decodeReport(t *testing.T, stdout string) report {
	t.Helper()
	var r report
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("report is not the JSON we write: %v\n%s", err, stdout)
	}
	return r
}

// TestRunCounts: short bounded runs against a fake engine; every request
// is accounted for exactly once.
func TestRunCounts(t *testing.T) {
	defer goleak.VerifyNone(t)
	ok := startFake(t, memcache.FakeConfig{})
	defer ok.Close()
	tests := []struct {
		name string
		args []string
		n    uint64
		// check inspects the decoded report.
		check func(t *testing.T, r *report)
	}{
		{"mix async", []string{"-n", "500", "-c", "2", "-d", "4", "-mix", "get=50,set=30,mget=20", "-mget-keys", "3"}, 500,
			func(t *testing.T, r *report) {
				if r.Ops.Get.OK == 0 || r.Ops.Set.OK == 0 || r.Ops.Mget.OK == 0 {
					t.Errorf("every op should appear in 500 requests: %+v", r.Ops)
				}
				if r.Ops.Mget.Keys != 3*r.Ops.Mget.OK || r.Ops.Mget.Hits+r.Ops.Mget.Misses != r.Ops.Mget.Keys {
					t.Errorf("mget keys %+v, want 3 per mget, hits+misses = keys", r.Ops.Mget)
				}
				if r.Ops.Get.Hits+r.Ops.Get.Misses != r.Ops.Get.OK {
					t.Errorf("get hits+misses %+v != ok", r.Ops.Get)
				}
				if r.Params.Conns != 2 || r.Params.Depth != 4 || r.Params.Mix != "get=50,set=30,mget=20" || r.Params.WarmupS != 0 {
					t.Errorf("params %+v", r.Params)
				}
			}},
		{"batch", []string{"-n", "500", "-c", "2", "-d", "4", "-batch", "-mix", "get=5,set=4,mget=1"}, 500, func(t *testing.T, r *report) {
			if !r.Params.Batch {
				t.Errorf("params say batch %v", r.Params.Batch)
			}
		}},
		{"batch prefill", []string{"-n", "301", "-c", "3", "-d", "5", "-batch", "-prefill", "-keys", "77", "-key-prefix", "b:", "-mix", "get=1"}, 301,
			func(t *testing.T, r *report) {
				if r.Prefill == nil || r.Prefill.Keys != 77 || r.Ops.Get.Hits != 301 {
					t.Errorf("prefill %+v, gets %+v; want 77 keys and 301 hits", r.Prefill, r.Ops.Get)
				}
			}},
		{"sync driver", []string{"-n", "300", "-c", "2", "-d", "2", "-driver", "sync"}, 300, nil},
		{"zipf", []string{"-n", "200", "-dist", "zipf", "-zipf-s", "1.5", "-keys", "100"}, 200, nil},
		{"prefill makes gets hit", []string{"-prefill", "-keys", "50", "-key-prefix", "pf:", "-n", "200", "-mix", "get=1", "-c", "2", "-d", "3"}, 200,
			func(t *testing.T, r *report) {
				if r.Prefill == nil || r.Prefill.Keys != 50 || r.Prefill.Errors != 0 {
					t.Errorf("prefill %+v, want 50 keys", r.Prefill)
				}
				if r.Ops.Get.Hits != 200 || r.Ops.Get.Misses != 0 {
					t.Errorf("gets after prefill %+v, want 200 hits", r.Ops.Get)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-addr", ok.Addr(), "-warmup", "0", "-duration", "20s", "-quiet", "-json", "-seed", "7"}, tc.args...)
			code, stdout, stderr := runBench(t, context.Background(), args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			r := decodeReport(t, stdout)
			if r.Requests != tc.n || r.OK != tc.n || r.Errors != 0 || r.LatencyUs.Samples != tc.n || r.Interrupted {
				t.Errorf("requests %d ok %d errors %d samples %d interrupted %v; want %d, all ok", r.Requests, r.OK, r.Errors, r.LatencyUs.Samples, r.Interrupted, tc.n)
			}
			if r.Ops.Get.OK+r.Ops.Set.OK+r.Ops.Mget.OK != tc.n {
				t.Errorf("ops %+v do not add up to %d", r.Ops, tc.n)
			}
			l := r.LatencyUs
			if !(l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max && l.Max > 0) {
				t.Errorf("latency not ordered: %+v", l)
			}
			if r.OpsPerSec <= 0 || r.ElapsedSec <= 0 {
				t.Errorf("rate %v over %vs", r.OpsPerSec, r.ElapsedSec)
			}
			if tc.check != nil {
				tc.check(t, &r)
			}
		})
	}
}

// TestRunErrors: error answers and local timeouts are counted by name and
// kept out of the latency histogram.
func TestRunErrors(t *testing.T) {
	defer goleak.VerifyNone(t)
	// Request 1 is rpcbench's probe, so the measured ones are 2..501 and
	// every 5th of all requests fails: 100 errors.
	failing := startFake(t, memcache.FakeConfig{ErrorEvery: 5, ErrorCode: rpc.CodeNoConnections})
	defer failing.Close()
	code, stdout, stderr := runBench(t, context.Background(), "-addr", failing.Addr(), "-n", "500", "-c", "2", "-d", "4", "-warmup", "0", "-quiet", "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := decodeReport(t, stdout)
	if r.Requests != 500 || r.Errors != 100 || r.OK != 400 || r.LatencyUs.Samples != 400 {
		t.Errorf("requests %d errors %d ok %d samples %d; want 500, 100, 400, 400", r.Requests, r.Errors, r.OK, r.LatencyUs.Samples)
	}
	if len(r.ErrorsByCode) != 1 || r.ErrorsByCode["NO_CONNECTIONS"] != 100 {
		t.Errorf("errors by code %v, want NO_CONNECTIONS: 100", r.ErrorsByCode)
	}
	// The text form names them too.
	code, stdout, _ = runBench(t, context.Background(), "-addr", failing.Addr(), "-n", "20", "-warmup", "0", "-quiet")
	if code != exitOK || !strings.Contains(stdout, "errors     NO_CONNECTIONS 4\n") || !strings.Contains(stdout, "requests   20 in ") {
		t.Errorf("text report (exit %d):\n%s", code, stdout)
	}

	// An engine that never answers every 10th request: local timeouts.
	var heldMu sync.Mutex
	var heldReqs []*server.Request
	var n atomic.Int64
	addr, stop := startEngine(t, func(r *server.Request) {
		if n.Add(1)%10 == 0 {
			heldMu.Lock()
			heldReqs = append(heldReqs, r)
			heldMu.Unlock()
			return
		}
		r.Reply(tl.AppendUint32(nil, memcache.TagNotFound))
	})
	defer func() {
		heldMu.Lock()
		for _, r := range heldReqs {
			r.ReplyError(rpc.CodeQueryTimeout, "late")
		}
		heldMu.Unlock()
		stop()
	}()
	code, stdout, stderr = runBench(t, context.Background(), "-addr", addr, "-n", "100", "-c", "1", "-d", "4", "-warmup", "0", "-timeout", "50ms", "-quiet", "-json", "-mix", "get=1")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r = decodeReport(t, stdout)
	if r.Requests != 100 || r.ErrorsByCode["local_timeout"] != 10 || r.Ops.Get.Misses != 90 {
		t.Errorf("requests %d, errors %v, get %+v; want 100 with 10 local_timeout, 90 misses", r.Requests, r.ErrorsByCode, r.Ops.Get)
	}
}

// startEngine serves handle on 127.0.0.1:0.
func startEngine(t testing.TB, handle server.HandlerFunc) (addr string, stop func()) {
	t.Helper()
	srv, err := server.New(server.Config{Handler: handle})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(served) }()
	return ln.Addr().String(), func() { _ = srv.Close(); <-served }
}

// TestInterrupt: canceling the context (SIGINT in main) stops a long run
// early and still prints the report.
func TestInterrupt(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int64
	addr, stop := startEngine(t, func(r *server.Request) {
		if n.Add(1) == 100 {
			cancel() // "Ctrl-C" after 100 requests
		}
		r.Reply(tl.AppendUint32(nil, memcache.TagNotFound))
	})
	defer stop()
	code, stdout, stderr := runBench(t, ctx, "-addr", addr, "-duration", "5s", "-warmup", "0", "-json", "-mix", "get=1", "-d", "2")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := decodeReport(t, stdout)
	if !r.Interrupted || r.Requests < 90 || r.Errors != 0 {
		t.Errorf("interrupted %v, requests %d, errors %d; want an interrupted run of about 100 requests", r.Interrupted, r.Requests, r.Errors)
	}
}

// TestRefusals: usage errors, non-loopback targets and unreachable ones.
func TestRefusals(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"remote", []string{"-addr", "10.1.2.3:9300"}, exitUsage, "refusing to load 10.1.2.3:9300: 10.1.2.3 is not a loopback address"},
		{"remote v6", []string{"-addr", "[2001:db8::1]:9300"}, exitUsage, "pass -allow-remote if you mean it"},
		{"unreachable", []string{"-addr", refused}, exitConn, "cannot reach " + refused},
		{"duration cap", []string{"-duration", "11m"}, exitUsage, "-duration 11m0s outside (0, 10m0s]"},
		{"zero duration", []string{"-duration", "0s"}, exitUsage, "rpcbench always stops by itself"},
		{"mix op", []string{"-mix", "get=1,del=2"}, exitUsage, `unknown operation "del"`},
		{"mix zero", []string{"-mix", "get=0"}, exitUsage, "all shares are 0"},
		{"conns", []string{"-c", "0"}, exitUsage, "-c 0 outside [1, 1024]"},
		{"zipf s", []string{"-dist", "zipf", "-zipf-s", "1"}, exitUsage, "must be above 1"},
		{"dist", []string{"-dist", "normal"}, exitUsage, `-dist "normal"`},
		{"batch sync", []string{"-batch", "-driver", "sync"}, exitUsage, "-batch needs -driver async"},
		{"rate negative", []string{"-rate", "-5"}, exitUsage, "-rate -5 outside [0, 100000000]"},
		{"rate batch", []string{"-rate", "1000", "-batch"}, exitUsage, "-rate paces single requests: it needs -driver async and no -batch"},
		{"rate sync", []string{"-rate", "1000", "-driver", "sync"}, exitUsage, "-rate paces single requests"},
		{"value size", []string{"-value-size", "2000000"}, exitUsage, "-value-size 2000000 outside [0, 1048576]"},
		{"args", []string{"memcache.get"}, exitUsage, "takes only flags"},
		{"bad flag", []string{"-nope"}, exitUsage, "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runBench(t, context.Background(), append([]string{"-quiet", "-timeout", "200ms"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) || stdout != "" {
				t.Errorf("exit %d (want %d), stdout %q, stderr:\n%s\nwant it to contain %q", code, tc.code, stdout, stderr, tc.stderr)
			}
		})
	}
	code, stdout, stderr := runBench(t, context.Background(), "-h")
	if code != exitOK || !strings.Contains(stdout, "closed loop per (connection, depth slot)") || !strings.Contains(stdout, "exit codes:") {
		t.Errorf("-h: exit %d\n%s", code, stdout)
	}
	if stderr != "" {
		t.Errorf("-h wrote to stderr too:\n%s", stderr)
	}
}

// TestLocalhostName: a name that resolves to loopback is accepted.
func TestLocalhostName(t *testing.T) {
	if err := checkTarget(context.Background(), "localhost:9300"); err != nil {
		t.Skipf("localhost does not resolve to loopback here: %v", err)
	}
	if err := checkTarget(context.Background(), "127.0.0.2:1"); err != nil {
		t.Errorf("127.0.0.2: %v", err)
	}
}

// signalWriter collects output and closes seen at the first write that
// contains want.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(p, []byte(w.want)) {
		w.once.Do(func() { close(w.seen) })
	}
	return w.buf.Write(p)
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestProgress: progress lines appear on stderr while the run waits. The
// engine holds request 50 until a progress line is out (or 5 s pass), so
// the line is certain without depending on speed.
func TestProgress(t *testing.T) {
	defer goleak.VerifyNone(t)
	stderr := &signalWriter{want: " ops/s  errors 0  p99 ", seen: make(chan struct{})}
	var n atomic.Int64
	var held sync.WaitGroup
	defer held.Wait()
	addr, stop := startEngine(t, func(r *server.Request) {
		if n.Add(1) == 50 {
			held.Add(1)
			go func() {
				defer held.Done()
				select {
				case <-stderr.seen:
				case <-time.After(5 * time.Second):
				}
				r.Reply(tl.AppendUint32(nil, memcache.TagNotFound))
			}()
			return
		}
		r.Reply(tl.AppendUint32(nil, memcache.TagNotFound))
	})
	defer stop()
	var out bytes.Buffer
	code := run(context.Background(), []string{"-addr", addr, "-n", "100", "-warmup", "0", "-progress", "5ms", "-timeout", "10s", "-mix", "get=1"}, &out, stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	select {
	case <-stderr.seen:
	default:
		t.Errorf("no progress line on stderr:\n%s", stderr.String())
	}
	if !strings.Contains(out.String(), "requests   100 in ") || strings.Contains(out.String(), "ops/s  errors") {
		t.Errorf("stdout should hold the report only:\n%s", out.String())
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/engines/memcache"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

const wait = 30 * time.Second

func ctxWait(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown kind", []string{"-kind", "redis"}, `unknown -kind "redis"; known kinds: events, memcache`},
		{"error rate above 1", []string{"-fault-error-rate", "1.5"}, "-fault-error-rate 1.5 outside [0, 1]"},
		{"error rate NaN", []string{"-fault-error-rate", "NaN"}, "outside [0, 1]"},
		{"negative latency", []string{"-fault-latency", "-1ms", "-listen", "127.0.0.1:0"}, "fault latency -1ms"},
		{"bad log level", []string{"-log-level", "loud"}, `-log-level "loud"`},
		{"bad shutdown timeout", []string{"-shutdown-timeout", "0s"}, "-shutdown-timeout 0s must be positive"},
		{"negative max bytes", []string{"-memcache-max-bytes", "-1"}, "is negative"},
		{"extra argument", []string{"memcache"}, "unexpected arguments"},
		{"unknown flag", []string{"-port", "1"}, "flag provided but not defined: -port"},
		{"udp without key", []string{"-udp"}, "-udp needs -key-file"},
		{"negative udp idle", []string{"-udp-idle-after", "-1s"}, "-udp-idle-after -1s is negative"},
		{"missing key file", []string{"-key-file", "/nonexistent/key"}, "-key-file: configs: key_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tc.args, &stdout, &stderr); code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr %s", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
				t.Fatalf("stderr %q, want %q; stdout %q", stderr.String(), tc.want, stdout.String())
			}
		})
	}
}

// TestHelp: -h exits 0 and explains every flag with an example.
func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	out := stdout.String()
	for _, f := range []string{"-kind", "-listen", "-version", "-fault-latency", "-fault-error-rate", "-fault-stall",
		"-log-level", "-shutdown-timeout", "-memcache-max-bytes", "-udp", "-udp-idle-after", "-key-file",
		"engine -kind memcache -listen 127.0.0.1:9311"} {
		if !strings.Contains(out, f) {
			t.Errorf("usage lacks %s", f)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "    \t") && !strings.Contains(line, "(e.g. ") {
			t.Errorf("flag help without an example: %s", line)
		}
	}
}

// lineWriter hands the first line written to it to a channel.
// Only the writer goroutine touches buf and sent.
type lineWriter struct {
	buf   bytes.Buffer
	sent  bool
	first chan<- string // buffered, capacity 1
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if line, _, ok := strings.Cut(w.buf.String(), "\n"); ok && !w.sent {
		w.first <- line
		w.sent = true
	}
	return len(p), nil
}

func recvLine(t testing.TB, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(wait):
		t.Fatal("no address printed")
		return ""
	}
}

// TestRunInProcess: run serves memcache with the faults of its flags,
// the control function clears them, and ctx's end exits 0.
func TestRunInProcess(t *testing.T) {
	defer goleak.VerifyNone(t)
	addr, stop, stderr := startRun(t, "-kind", "memcache", "-listen", "127.0.0.1:0", "-fault-error-rate", "1", "-version", "mc-test")
	cl, err := client.New(addr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cctx := ctxWait(t)
	var resp client.Response
	do := func(body []byte) error { return cl.Do(cctx, &client.Request{Body: body}, &resp) }

	var e *rpc.Error
	if err := do(tl.AppendUint32(nil, engines.TagEnginePID)); !errors.As(err, &e) || e.Code != engines.InjectedErrorCode {
		t.Fatalf("with error rate 1: %v", err)
	}
	if err := do(engines.AppendDebugSetFaults(nil, engines.Faults{})); err != nil {
		t.Fatal(err)
	}
	set := tl.AppendString(tl.AppendUint32(nil, memcache.TagSet), "foo")
	set = tl.AppendString(tl.AppendInt32(tl.AppendInt32(set, 1), 0), "bar")
	if err := do(set); err != nil || !bytes.Equal(resp.Body, tl.AppendBool(nil, true)) {
		t.Fatalf("set: %x %v", resp.Body, err)
	}
	if err := do(tl.AppendString(tl.AppendUint32(nil, memcache.TagGet), "foo")); err != nil || !bytes.Equal(resp.Body, []byte{0x1a, 0xbb, 0xbe, 0xa6, 3, 'b', 'a', 'r', 1, 0, 0, 0}) {
		t.Fatalf("get: %x %v", resp.Body, err)
	}
	if err := do(tl.AppendUint32(nil, engines.TagEngineVersion)); err != nil || !bytes.Equal(resp.Body, tl.AppendString(tl.AppendUint32(nil, tl.TagString), "mc-test")) {
		t.Fatalf("version: %x %v", resp.Body, err)
	}
	_ = cl.Close()
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, stderr.String())
	}
	for _, want := range []string{`msg="engine started" kind=memcache addr=` + addr, "pid=", "fault_error_rate_ppm=1000000", `msg="engine stopped"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, stderr.String())
		}
	}
}

// TestRunUDP: -udp -key-file serves the same engine over UDP on the TCP
// port.
func TestRunUDP(t *testing.T) {
	defer goleak.VerifyNone(t)
	key := []byte("0123456789abcdef0123456789abcdef-cmd-engine")
	kf := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(kf, key, 0o600); err != nil {
		t.Fatal(err)
	}
	addr, stop, stderr := startRun(t, "-kind", "memcache", "-listen", "127.0.0.1:0", "-udp", "-key-file", kf, "-udp-idle-after", "30s")
	opts := client.Options{Network: "udp"}
	opts.Packet.Key = key
	cl, err := client.New(addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var resp client.Response
	if err := cl.Do(ctxWait(t), &client.Request{Body: tl.AppendUint32(nil, engines.TagEngineVersion)}, &resp); err != nil {
		t.Fatalf("engine.version over UDP: %v", err)
	}
	_ = cl.Close()
	if code := stop(); code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, stderr.String())
	}
	for _, want := range []string{"udp=true", "udp_idle_after=30s"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, stderr.String())
		}
	}
}

// TestProcess builds the binary and runs it as a real process: it serves,
// and SIGTERM makes it shut down and exit 0.
func TestProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	defer goleak.VerifyNone(t)
	ctx := ctxWait(t)
	bin := filepath.Join(t.TempDir(), "engine")
	build := exec.CommandContext(ctx, goTool(t), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, "-kind", "memcache", "-listen", "127.0.0.1:0", "-log-level", "debug")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	addr := recvLine(t, lines)

	cl, err := client.New(addr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var resp client.Response
	if err := cl.Do(ctx, &client.Request{Body: tl.AppendUint32(nil, engines.TagEnginePID)}, &resp); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.ExpectTag(resp.Body, tl.TagNetPid); err != nil {
		t.Fatalf("engine.pid: %x %v", resp.Body, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	_ = cl.Close()
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), `msg="engine stopped"`) {
		t.Fatalf("no stop line:\n%s", stderr.String())
	}
}

// goTool finds the go command that runs this test.
func goTool(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath(filepath.Join(os.Getenv("GOROOT"), "bin", "go")); err == nil && os.Getenv("GOROOT") != "" {
		return p
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	return p
}

// startRun runs run in the background and returns the address it prints,
// a stop function that ends it and returns the exit code, and its log.
func startRun(t *testing.T, args ...string) (addr string, stop func() int, log *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan string, 1)
	log = &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &lineWriter{first: first}, log) }()
	select {
	case addr = <-first:
	case code := <-done:
		cancel()
		t.Fatalf("run exited %d: %s", code, log.String())
	case <-time.After(wait):
		cancel()
		t.Fatal("no address printed")
	}
	return addr, func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(wait):
			t.Fatal("run did not return")
			return -1
		}
	}, log
}

// TestRunFaultFlags: -fault-stall holds calls until engine.debugSetFaults
// clears it (a short call times out meanwhile); -fault-latency delays on
// the real clock without failing anything.
func TestRunFaultFlags(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, tc := range []struct {
		name  string
		args  []string
		stall bool
		log   string
	}{
		{"stall", []string{"-fault-stall"}, true, "fault_stall=true"},
		{"latency", []string{"-fault-latency", "5ms"}, false, "fault_latency=5ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, stop, log := startRun(t, append([]string{"-listen", "127.0.0.1:0"}, tc.args...)...)
			cl, err := client.New(addr, client.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			pid := &client.Request{Body: tl.AppendUint32(nil, engines.TagEnginePID)}
			if tc.stall {
				short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				err := cl.Do(short, pid, nil)
				cancel()
				if !errors.Is(err, client.ErrTimeout) {
					t.Fatalf("stalled engine.pid: %v, want ErrTimeout", err)
				}
				if err := cl.Do(ctxWait(t), &client.Request{Body: engines.AppendDebugSetFaults(nil, engines.Faults{})}, nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := cl.Do(ctxWait(t), pid, nil); err != nil {
				t.Fatalf("engine.pid: %v", err)
			}
			_ = cl.Close()
			if code := stop(); code != exitOK {
				t.Fatalf("exit %d", code)
			}
			if !strings.Contains(log.String(), tc.log) {
				t.Fatalf("start line lacks %s:\n%s", tc.log, log.String())
			}
		})
	}
}

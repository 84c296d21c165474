package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/cmd/internal/memcache"
	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

const wait = 30 * time.Second

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string // contained; "" means empty
	}{
		{"help on stdout", []string{"-h"}, 0, "usage: relay -to ADDR", ""},
		{"no target", nil, 2, "", "relay: -to is required"},
		{"remote target", []string{"-to", "10.0.0.1:9311"}, 2, "", "-to 10.0.0.1:9311: not a loopback address"},
		{"remote listener", []string{"-to", "127.0.0.1:9311", "-listen", "0.0.0.0:0"}, 2, "", "-listen 0.0.0.0:0: not a loopback address"},
		{"host name", []string{"-to", "example.com:80"}, 2, "", "not a loopback address"},
		{"no port", []string{"-to", "127.0.0.1"}, 2, "", "-to 127.0.0.1: want HOST:PORT"},
		{"bad log level", []string{"-to", "127.0.0.1:1", "-log-level", "loud"}, 2, "", `-log-level "loud"`},
		{"extra argument", []string{"-to", "127.0.0.1:1", "now"}, 2, "", "unexpected arguments"},
		{"unknown flag", []string{"-port", "1"}, 2, "", "flag provided but not defined: -port"},
		{"port taken", []string{"-to", "127.0.0.1:1", "-listen", "127.0.0.1:PORT"}, 1, "", "relay: cannot listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.name == "port taken" {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				args = []string{"-to", "127.0.0.1:1", "-listen", ln.Addr().String()}
			}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), args, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, stderr.String())
			}
			for _, c := range []struct{ name, got, want string }{
				{"stdout", stdout.String(), tc.stdout}, {"stderr", stderr.String(), tc.stderr},
			} {
				if c.want == "" && c.got != "" || !strings.Contains(c.got, c.want) {
					t.Errorf("%s %q, want %q", c.name, c.got, c.want)
				}
			}
		})
	}
}

// started is a relay run in-process: its address, its log, and how it
// ended.
type started struct {
	addr string
	log  *syncBuffer
	stop context.CancelFunc
	code chan int
}

// start runs the relay in-process with args and waits for its address;
// the caller defers end.
func start(t *testing.T, args ...string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &started{log: &syncBuffer{}, stop: cancel, code: make(chan int, 1)}
	go func() {
		s.code <- run(ctx, append([]string{"-log-level", "debug"}, args...), pw, s.log)
		_ = pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no address on stdout (%v); log:\n%s", err, s.log)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	s.addr = strings.TrimSpace(line)
	return s
}

// end stops the relay and checks that it exits 0.
func (s *started) end(t *testing.T) {
	t.Helper()
	s.stop()
	select {
	case code := <-s.code:
		if code != 0 {
			t.Errorf("relay exit %d after a stop; log:\n%s", code, s.log)
		}
		s.code <- code // a second end sees it too
	case <-time.After(wait):
		t.Fatalf("relay did not stop; log:\n%s", s.log)
	}
}

// TestRelayCarriesRPC: TL RPC calls through the relay reach the engine
// and their answers come back, on several connections at once; a stop
// closes the connections it carries.
func TestRelayCarriesRPC(t *testing.T) {
	defer goleak.VerifyNone(t)
	eng, err := memcache.StartFake(memcache.FakeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	r := start(t, "-to", eng.Addr())
	defer r.end(t)

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	const conns, calls = 4, 50
	clients := make([]*client.Client, conns)
	for i := range clients {
		cl, err := client.New(r.addr, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		clients[i] = cl
	}
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i, cl := range clients {
		wg.Go(func() {
			var resp client.Response
			for j := range calls {
				key := fmt.Appendf(nil, "k%d_%d", i, j)
				val := fmt.Appendf(nil, "v%d_%d", i, j)
				if err := cl.Do(ctx, &client.Request{Body: memcache.AppendSet(nil, key, 0, 0, val)}, &resp); err != nil {
					errs <- fmt.Errorf("set %s: %w", key, err)
					return
				}
				if err := cl.Do(ctx, &client.Request{Body: memcache.AppendGet(nil, key)}, &resp); err != nil {
					errs <- fmt.Errorf("get %s: %w", key, err)
					return
				}
				if hit, _, err := memcache.ReadValue(resp.Body); err != nil || !hit || !bytes.Contains(resp.Body, val) {
					errs <- fmt.Errorf("get %s: hit %v err %v, body %x, want the value %q", key, hit, err, resp.Body, val)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := eng.Requests(); got < conns*calls*2 {
		t.Errorf("the engine saw %d requests, want at least %d", got, conns*calls*2)
	}
	if got := strings.Count(r.log.String(), `msg="relay: connection"`); got < conns {
		t.Errorf("the log has %d connection lines, want at least %d:\n%s", got, conns, r.log)
	}

	r.end(t)
	var resp client.Response
	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	if err := clients[0].Do(short, &client.Request{Body: memcache.AppendGet(nil, []byte("k0_0"))}, &resp); err == nil {
		t.Error("a call after the relay stopped succeeded")
	}
}

// TestTargetDown: a target that refuses gets the app's connection closed
// at once, with a log line that says so, and the relay keeps serving.
func TestTargetDown(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close()
	r := start(t, "-to", dead)
	defer r.end(t)
	for i := range 2 {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(make([]byte, 1))
		_ = c.Close()
		if n != 0 || !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
			t.Fatalf("connection %d: read %d, %v; want the relay to close it", i, n, err)
		}
	}
	if got := strings.Count(r.log.String(), "cannot reach the target"); got != 2 {
		t.Errorf("log has %d 'cannot reach' lines, want 2:\n%s", got, r.log)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}

// syncBuffer is a bytes.Buffer safe for the relay's log and the test.
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

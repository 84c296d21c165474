package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// testKey is a valid crypto key for AES cases.
var testKey = []byte("0123456789abcdef0123456789abcdef-server-test")

const (
	tagEcho uint32        = 0x0badf00d // answered with the request body
	wait    time.Duration = 10 * time.Second
)

// leakCheck registers the goroutine leak check first, so it runs after
// every other cleanup (servers and clients close in their cleanups). It
// ignores VK's goroutines that outlive their owners (vkLeaks): an interop
// test earlier in the same binary (go test -count=N) leaves them behind.
func leakCheck(t testing.TB) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t, vkLeaks()...) })
}

// vkLeaks names the goroutines of VK's code that never exit: its
// server's process-wide CPU sampler, and its UDP transport's, which
// Transport.Close leaves blocked (goRead and goSend wait on conditions
// Close does not signal; goRegenerate sleeps). None of them is ours.
func vkLeaks() []goleak.Option {
	opts := []goleak.Option{goleak.IgnoreTopFunction("github.com/VKCOM/tl/internal/vkgo/pkg/srvfunc.(*CPUInfo).thisProcessCpuUsageLoop")}
	for _, f := range []string{"goRead", "goSend", "goReceive", "goWrite", "goResend", "goAck", "goResendRequest", "goRegenerate", "Run"} {
		opts = append(opts, goleak.IgnoreAnyFunction("github.com/VKCOM/tl/pkg/rpc/udp.(*Transport)."+f))
	}
	return opts
}

// echo answers every request with its own body, synchronously.
var echo = SyncFunc(func(r *Request, dst []byte) ([]byte, error) {
	return append(dst, r.Body...), nil
})

// logSink collects log records so tests can check that a reason was logged.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logSink) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testServer runs a Server on 127.0.0.1:0 until the test ends.
type testServer struct {
	*Server
	addr   string
	served chan error
	log    *logSink
}

// startServer starts the server after setup, which may set test hooks.
func startServer(t testing.TB, cfg Config, setup ...func(*Server)) *testServer {
	t.Helper()
	ts := &testServer{served: make(chan error, 1), log: &logSink{}}
	if cfg.Logger == nil {
		cfg.Logger = ts.log.logger()
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.Server, ts.addr = s, ln.Addr().String()
	for _, f := range setup {
		f(s)
	}
	go func() { ts.served <- s.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.Close()
		select {
		case err := <-ts.served:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v", err)
			}
		case <-time.After(wait):
			t.Error("Serve did not return after Close")
		}
	})
	return ts
}

// client is a raw packet-level client, so tests see exactly the bytes.
type client struct {
	t  testing.TB
	nc net.Conn
	pc *packet.Conn
}

func dial(t testing.TB, addr string, cfg packet.Config) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PacketTimeout == 0 {
		cfg.PacketTimeout = wait
	}
	pc, err := packet.ClientHandshake(nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, nc: nc, pc: pc}
	t.Cleanup(func() { _ = pc.Close() })
	return c
}

func invokeBody(req *rpc.InvokeReq) []byte { return rpc.AppendInvokeReq(nil, req) }

func (c *client) send(req *rpc.InvokeReq) {
	c.t.Helper()
	if err := c.pc.WritePacket(rpc.TypeInvokeReq, nil, invokeBody(req)); err != nil {
		c.t.Fatal(err)
	}
}

// sendEchoes sends n echo requests (query ids 1..n) from a goroutine of
// its own, so the test can read answers meanwhile; it stops at the first
// failed write (the connection closed).
func (c *client) sendEchoes(n int) {
	go func() {
		for i := range n {
			if err := c.pc.WritePacket(rpc.TypeInvokeReq, nil, invokeBody(&rpc.InvokeReq{QueryID: int64(i + 1), Body: fn(tagEcho)})); err != nil {
				return
			}
		}
	}()
}

// read returns the next message; the packet timeout bounds the wait.
func (c *client) read() (uint32, []byte, error) {
	typ, body, err := c.pc.ReadPacket()
	return typ, bytes.Clone(body), err
}

// result reads the next message, which must be a result.
func (c *client) result() *rpc.ReqResult {
	c.t.Helper()
	typ, body, err := c.read()
	if err != nil {
		c.t.Fatalf("reading result: %v", err)
	}
	res := new(rpc.ReqResult)
	if err := rpc.ParseResult(typ, body, res); err != nil {
		c.t.Fatalf("parsing result type %#x: %v", typ, err)
	}
	return res
}

// call sends one request and reads its answer.
func (c *client) call(req *rpc.InvokeReq) *rpc.ReqResult {
	c.t.Helper()
	c.send(req)
	res := c.result()
	if res.QueryID != req.QueryID {
		c.t.Fatalf("answer to query %d, want %d", res.QueryID, req.QueryID)
	}
	return res
}

// fn builds a function call body: tag then payload.
func fn(tag uint32, payload ...byte) []byte { return append(tl.AppendUint32(nil, tag), payload...) }

// waitClosed waits until the peer closes c's connection.
func (c *client) waitClosed() error {
	c.t.Helper()
	for range 1000 {
		if _, _, err := c.pc.ReadPacket(); err != nil {
			return err
		}
	}
	c.t.Fatal("connection not closed after 1000 packets")
	return nil
}

// signal returns a hook that sends on a buffered channel without blocking.
func signal(ch chan struct{}) func() {
	return func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

func ctxWait(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

type netDialer struct{}

func (netDialer) dial(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }

// checkDrained asserts that every request's memory and slot go back once
// the test knows all replies have returned. A reply can reach the client
// before the goroutine that wrote it releases its request (an inline
// write happens first), so it waits, up to wait, for the release.
func checkDrained(t testing.TB, s *Server) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(wait)
	for {
		used, active := s.lim.sem.inUse(), s.stats.active.Load()
		if used == 0 && active == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%d request bytes and %d requests still held", used, active)
		}
	}
}

package rpcproxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"testing"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// loopback is an app connection to a proxy in front of a real in-process
// engine (a tl/rpc/server echo handler), all over 127.0.0.1.
type loopback struct {
	pc    *packet.Conn
	p     *Proxy
	batch packet.Batch // burst's writes
	close func()
}

func startLoopback(tb testing.TB) *loopback {
	tb.Helper()
	addr, stop := echoEngine(tb)
	cfg, err := configsParse(fmt.Sprintf(`[proxy]
listen = %q
schemas = [%q]
[[cluster]]
name = "mc"
functions = ["memcache.*"]
shards = [{ replicas = [%q] }]
# As in production: a get may be retried, so the path keeps a copy of it,
# and it has a rate limit (never reached here), so it takes a slot.
[[cluster.function]]
name = "memcache.get"
retry = true
rate_limit = 10000000
`, mainListen, memcacheTL, addr))
	if err != nil {
		tb.Fatal(err)
	}
	l, _ := serveLoopback(tb, cfg, stop)
	return l
}

// echoEngine serves TL RPC on loopback, answering every call with its own
// body (allocation-free), until stop.
func echoEngine(tb testing.TB) (addr string, stop func()) {
	return syncEngine(tb, func(r *server.Request, dst []byte) ([]byte, error) {
		return append(dst, r.Body...), nil
	})
}

// syncEngine serves TL RPC on loopback with handle, until stop.
func syncEngine(tb testing.TB, handle server.SyncFunc) (addr string, stop func()) {
	tb.Helper()
	srv, err := server.New(server.Config{Handler: handle})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }
}

// serveLoopback serves cfg (main listener only, no admin) and connects one
// app to it; the loopback's close stops both, then calls each closer (the
// engines behind the proxy).
func serveLoopback(tb testing.TB, cfg *configs.Config, closers ...func()) (*loopback, *Proxy) {
	tb.Helper()
	ll := &listenLog{}
	p, err := New(cfg, Options{Listen: ll.Listen, NoAdmin: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(context.Background()) }()
	pc := dialPacket(tb, p.Addr(mustAddr(mainListen)).String())
	return &loopback{pc: pc, p: p, close: func() {
		pc.Close()
		p.Close()
		<-served
		for _, c := range closers {
			c()
		}
	}}, p
}

// roundTrip sends memcache.get and reads its answer; nothing allocates.
func (l *loopback) roundTrip(tb testing.TB, hdr, body []byte, req *rpc.InvokeReq, res *rpc.ReqResult) {
	req.QueryID++
	hdr = rpc.AppendInvokeReqHeader(hdr[:0], req)
	if err := l.pc.WritePacket(rpc.TypeInvokeReq, hdr, body); err != nil {
		tb.Fatal(err)
	}
	typ, raw, err := l.pc.ReadPacket()
	if err != nil {
		tb.Fatal(err)
	}
	if err := rpc.ParseResult(typ, raw, res); err != nil || res.IsError() || res.QueryID != req.QueryID {
		tb.Fatalf("answer %x: %v", raw, err)
	}
}

// burst writes n requests of body in one write, so that the proxy's
// reader works through them in one burst, and reads their n answers;
// nothing allocates.
func (l *loopback) burst(tb testing.TB, n int, hdr, body []byte, req *rpc.InvokeReq, res *rpc.ReqResult) {
	for range n {
		req.QueryID++
		hdr = rpc.AppendInvokeReqHeader(hdr[:0], req)
		if ok, err := l.pc.TryWritePacketIn(&l.batch, 0, rpc.TypeInvokeReq, hdr, body); !ok || err != nil {
			tb.Fatalf("write: %v %v", ok, err)
		}
	}
	l.batch.Flush()
	for range n {
		typ, raw, err := l.pc.ReadPacket()
		if err != nil {
			tb.Fatal(err)
		}
		if err := rpc.ParseResult(typ, raw, res); err != nil || res.IsError() {
			tb.Fatalf("answer %x: %v", raw, err)
		}
	}
}

// BenchmarkForwardLoopback is one request at a time through the whole
// proxy: app socket -> server -> route -> engine socket -> engine -> back.
// allocs/op counts every goroutine of the process (app, proxy, engine).
func BenchmarkForwardLoopback(b *testing.B) {
	l := startLoopback(b)
	defer l.close()
	body := append([]byte(nil), getCallB("photo100_500")...)
	hdr := make([]byte, 0, 64)
	req := &rpc.InvokeReq{Body: body}
	var res rpc.ReqResult
	for range 100 { // warm the pools
		l.roundTrip(b, hdr, body, req, &res)
	}
	b.ReportAllocs()
	for b.Loop() {
		l.roundTrip(b, hdr, body, req, &res)
	}
}

// BenchmarkForwardPipelined keeps 16 requests in flight on one app
// connection.
func BenchmarkForwardPipelined(b *testing.B) {
	const depth = 16
	l := startLoopback(b)
	defer l.close()
	body := getCallB("photo100_500")
	hdr := make([]byte, 0, 64)
	req := &rpc.InvokeReq{Body: body}
	var res rpc.ReqResult
	b.ReportAllocs()
	for b.Loop() {
		for range depth {
			req.QueryID++
			hdr = rpc.AppendInvokeReqHeader(hdr[:0], req)
			if err := l.pc.WritePacket(rpc.TypeInvokeReq, hdr, body); err != nil {
				b.Fatal(err)
			}
		}
		for range depth {
			typ, raw, err := l.pc.ReadPacket()
			if err != nil || rpc.ParseResult(typ, raw, &res) != nil || res.IsError() {
				b.Fatalf("answer %x: %v", raw, err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*depth), "ns/request")
}

// TestForwardDoesNotAllocate asserts the steady-state request path of the
// whole process (app, proxy and engine) allocates less than once per
// request: testing.AllocsPerRun rounds the average down.
func TestForwardDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts need a build without -race")
	}
	l := startLoopback(t)
	defer l.close()
	if n := allocsPerGet(t, l, 2000); n != 0 {
		t.Fatalf("%v allocations per forwarded request", n)
	}
}

// allocsPerGet warms l up, then measures the allocations of runs gets
// through it (testing.AllocsPerRun).
func allocsPerGet(t *testing.T, l *loopback, runs int) float64 {
	t.Helper()
	body := getCallB("photo100_500")
	hdr := make([]byte, 0, 64)
	req := &rpc.InvokeReq{Body: body}
	var res rpc.ReqResult
	for range 200 {
		l.roundTrip(t, hdr, body, req, &res)
	}
	return testing.AllocsPerRun(runs, func() { l.roundTrip(t, hdr, body, req, &res) })
}

// BenchmarkDirectLoopback is BenchmarkForwardLoopback without the proxy:
// the app talks to the engine itself. The ratio of the two is the proxy's
// cost per request (peers.md §2 compares twemproxy the same way).
func BenchmarkDirectLoopback(b *testing.B) {
	addr, stop := echoEngine(b)
	defer stop()
	l := &loopback{pc: dialPacket(b, addr)}
	defer l.pc.Close()
	body := getCallB("photo100_500")
	hdr := make([]byte, 0, 64)
	req := &rpc.InvokeReq{Body: body}
	var res rpc.ReqResult
	b.ReportAllocs()
	for b.Loop() {
		l.roundTrip(b, hdr, body, req, &res)
	}
}

// dial connects one more app to the proxy's main listener.
func (l *loopback) dial(tb testing.TB) *packet.Conn {
	tb.Helper()
	return dialPacket(tb, l.p.Addr(mustAddr(mainListen)).String())
}

// dialPacket connects to addr with the TL RPC handshake.
func dialPacket(tb testing.TB, addr string) *packet.Conn {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	pc, err := packet.ClientHandshake(nc, packet.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	return pc
}

// parallelBursts gives each of b.RunParallel's goroutines an app
// connection of its own (dialed before the clock starts) and has it send
// bursts of depth gets, counting a request per op: with -cpu 1,2 it shows
// how the path scales with cores.
func parallelBursts(b *testing.B, dial func(testing.TB) *packet.Conn) {
	const depth, perCore = 16, 4
	body := getCallB("photo100_500")
	conns := make(chan *packet.Conn, perCore*runtime.GOMAXPROCS(0))
	for range cap(conns) {
		pc := dial(b)
		defer pc.Close()
		// A first burst grows the connection's buffers on both sides.
		req := &rpc.InvokeReq{Body: body}
		var res rpc.ReqResult
		(&loopback{pc: pc}).burst(b, depth, nil, body, req, &res)
		conns <- pc
	}
	b.ReportAllocs()
	b.SetParallelism(perCore)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		l := &loopback{pc: <-conns}
		hdr := make([]byte, 0, 64)
		req := &rpc.InvokeReq{Body: body}
		var res rpc.ReqResult
		for {
			n := 0
			for n < depth && pb.Next() {
				n++
			}
			if n == 0 {
				return
			}
			l.burst(b, n, hdr, body, req, &res)
		}
	})
}

// BenchmarkForwardParallel is BenchmarkForwardPipelined from 4 app
// connections per core at once (ns/op is per request).
func BenchmarkForwardParallel(b *testing.B) {
	l := startLoopback(b)
	defer l.close()
	parallelBursts(b, l.dial)
}

// BenchmarkDirectParallel is BenchmarkForwardParallel without the proxy.
func BenchmarkDirectParallel(b *testing.B) {
	addr, stop := echoEngine(b)
	defer stop()
	parallelBursts(b, func(tb testing.TB) *packet.Conn { return dialPacket(tb, addr) })
}

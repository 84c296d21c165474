package server

import (
	"runtime"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// pipeline sends n requests in batches of depth and reads the answers,
// without allocating on the client side.
func pipeline(tb testing.TB, c *client, body []byte, n, depth int) {
	for sent := 0; sent < n; sent += depth {
		for range depth {
			if err := c.pc.WritePacket(rpc.TypeInvokeReq, nil, body); err != nil {
				tb.Fatal(err)
			}
		}
		for range depth {
			if typ, _, err := c.pc.ReadPacket(); err != nil || typ != rpc.TypeReqResult {
				tb.Fatalf("type %#x err %v", typ, err)
			}
		}
	}
}

// TestSteadyStateAllocs: serving a request (read, parse, handler, reply,
// release, recycle) allocates nothing once pools and buffers are warm.
// The client is allocation-free too, so the process-wide count is the
// server's.
func TestSteadyStateAllocs(t *testing.T) {
	leakCheck(t)
	if raceEnabled {
		t.Skip("sync.Pool drops items on purpose under the race detector")
	}
	for _, tc := range []struct {
		name string
		h    Handler
	}{
		{"sync", echo},
		{"retain", HandlerFunc(func(r *Request) { r.Retain(); r.Reply(r.Body) })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{Handler: tc.h})
			c := dial(t, ts.addr, packet.Config{})
			var extra rpc.InvokeReqExtra
			extra.SetCustomTimeoutMs(1000)
			body := invokeBody(&rpc.InvokeReq{QueryID: 1, ActorID: 5, Extra: extra, Body: fn(tagEcho, make([]byte, 100)...)})
			pipeline(t, c, body, 5000, 50) // warm up pools and buffers
			const n = 20000
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			pipeline(t, c, body, n, 50)
			runtime.ReadMemStats(&after)
			perReq := float64(after.Mallocs-before.Mallocs) / n
			t.Logf("%.4f allocs per request", perReq)
			// sync.Pool is emptied by GC and the runtime allocates now
			// and then (timers, netpoll); 1 in 100 requests allows for it.
			if perReq > 0.01 {
				t.Fatalf("%.4f allocs per request, want ~0", perReq)
			}
		})
	}
}

// BenchmarkServerPipelined: a raw packet client pipelining 50 requests at
// a time over loopback; reports the whole process' allocations per call.
func BenchmarkServerPipelined(b *testing.B) {
	ts := startServer(b, Config{Handler: echo})
	c := dial(b, ts.addr, packet.Config{})
	body := invokeBody(&rpc.InvokeReq{QueryID: 1, Body: fn(tagEcho, make([]byte, 100)...)})
	b.ReportAllocs()
	for b.Loop() {
		pipeline(b, c, body, 50, 50)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*50), "ns/call")
}

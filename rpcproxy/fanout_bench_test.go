package rpcproxy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/engines"
	engclock "github.com/rpcproxy/rpcproxy/engines/enginetest"
	"github.com/rpcproxy/rpcproxy/engines/events"
	"github.com/rpcproxy/rpcproxy/engines/memcache"
	"github.com/rpcproxy/rpcproxy/sharding"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// startFanoutLoopback starts n in-process engines (tl/rpc/server, answer
// by handle), a proxy in front of them with the given cluster text (%s:
// the shards line), and an app connection, all on 127.0.0.1.
func startFanoutLoopback(tb testing.TB, n int, handle func(shard int, call, dst []byte) []byte, cluster string) (*loopback, *Proxy) {
	tb.Helper()
	var shards []string
	var closers []func()
	for i := range n {
		addr, stop := syncEngine(tb, func(r *server.Request, dst []byte) ([]byte, error) {
			return handle(i, r.Body, dst), nil
		})
		closers = append(closers, stop)
		shards = append(shards, fmt.Sprintf("{ replicas = [%q] }", addr))
	}
	cfg, err := configsParse(fmt.Sprintf("[proxy]\nlisten = %q\nschemas = [%q, %q]\n", mainListen, memcacheTL, eventsTL) +
		fmt.Sprintf(cluster, "shards = ["+strings.Join(shards, ", ")+"]"))
	if err != nil {
		tb.Fatal(err)
	}
	return serveLoopback(tb, cfg, closers...)
}

// getMultiLoopback is a 10-key getMulti split over 4 engines serving real
// memcache stores, with the proxy and an app connection on loopback.
func getMultiLoopback(b testing.TB) (l *loopback, body []byte, done func()) {
	var stores [4]*memcache.Store
	for i := range stores {
		s, err := memcache.New(memcache.Config{Clock: engclock.NewClock(t0)})
		if err != nil {
			b.Fatal(err)
		}
		stores[i] = s
	}
	var funcs [4][]engines.Func // Funcs builds its slice: once, not per call
	for i, s := range stores {
		funcs[i] = s.Funcs()
	}
	handle := func(shard int, call, dst []byte) []byte {
		out, err := callFuncs(funcs[shard], call, dst)
		if err != nil {
			b.Error(err)
		}
		return out
	}
	l, p := startFanoutLoopback(b, 4, handle, "[[cluster]]\nname = \"mc\"\nfunctions = [\"memcache.*\"]\nsharding = \"hash\"\n%s\n"+
		// As in production: sub-requests may be joined (a lone one is sent
		// as it is, through the same path).
		"[[cluster.function]]\nname = \"memcache.getMulti\"\nkey = \"keys\"\ncoalesce = true\n")
	keys := setPhotos(b, p.Table().Cluster("mc").Picker, stores[:])
	return l, mcGetMulti(keys...), func() {
		l.close()
		for _, s := range stores {
			s.Close()
		}
	}
}

// setPhotos sets 10 photo keys, each in the store of the shard pk places
// it on, and returns them.
func setPhotos(tb testing.TB, pk *sharding.Picker, stores []*memcache.Store) []string {
	tb.Helper()
	var keys []string
	for i := range 10 {
		k := fmt.Sprintf("photo%d_%d", i, 500+i)
		keys = append(keys, k)
		s, _ := pk.Pick([]byte(k))
		if _, err := runFuncs(stores[s].Funcs(), mcSet(k, "some photo value")); err != nil {
			tb.Fatal(err)
		}
	}
	return keys
}

// burstDepth is how many getMultis a burst writes at once: enough for
// every shard's sub-requests to be joined into one engine call.
const burstDepth = 8

// TestFanoutGetMultiAlloc: the steady-state split and merge path of a
// 10-key getMulti allocates nothing in the whole process (app, proxy,
// engines), one at a time and in bursts, whose sub-requests are joined
// per engine (coalesce = true) and whose joined answers are cut into
// parts.
func TestFanoutGetMultiAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts need a build without -race")
	}
	l, body, done := getMultiLoopback(t)
	defer done()
	hdr := make([]byte, 0, 64)
	req := &rpc.InvokeReq{Body: body}
	var res rpc.ReqResult
	st := l.p.Table().Cluster("mc").Stats
	for _, tc := range []struct {
		name   string
		run    func()
		joined bool
	}{
		{"one at a time", func() { l.roundTrip(t, hdr, body, req, &res) }, false},
		{"in bursts", func() { l.burst(t, burstDepth, hdr, body, req, &res) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 200 {
				tc.run()
			}
			before := st.Coalesced.Load()
			n := testing.AllocsPerRun(200, tc.run)
			if joined := st.Coalesced.Load() != before; joined != tc.joined {
				t.Fatalf("sub-requests joined: %v, want %v", joined, tc.joined)
			}
			if n != 0 {
				t.Fatalf("%v allocations per run", n)
			}
		})
	}
}

// BenchmarkFanoutGetMulti10Loopback: a 10-key memcache.getMulti split over
// 4 engines (real memcache stores) and merged back in key order, app and
// engines on loopback; allocs/op counts the whole process. One at a
// time, and in bursts of burstDepth written at once, whose sub-requests
// are joined per engine and whose joined answers are cut back into parts
// (ns/getMulti per getMulti of a burst).
func BenchmarkFanoutGetMulti10Loopback(b *testing.B) {
	l, body, done := getMultiLoopback(b)
	defer done()
	hdr := make([]byte, 0, 64)
	req := &rpc.InvokeReq{Body: body}
	var res rpc.ReqResult
	for _, bc := range []struct {
		name string
		n    int
		run  func()
	}{
		{"one_at_a_time", 1, func() { l.roundTrip(b, hdr, body, req, &res) }},
		{"bursts", burstDepth, func() { l.burst(b, burstDepth, hdr, body, req, &res) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for range 100 {
				bc.run()
			}
			b.ReportAllocs()
			for b.Loop() {
				bc.run()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bc.n), "ns/getMulti")
		})
	}
}

// sixteenSearches is 16 engines each answering events.search with the same
// precomputed 1,000 events (ts descending, interleaved across shards).
func sixteenSearches() [16][]byte {
	var out [16][]byte
	for s := range 16 {
		b := tl.AppendUint32(tl.AppendUint32(nil, tl.TagVector), 1000)
		for i := range 1000 {
			b = tl.AppendInt64(tl.AppendInt64(tl.AppendUint32(b, events.TagEvent), int64(i)), int64((1000-i)*16+s))
			b = tl.AppendString(tl.AppendString(b, fmt.Sprintf("key%d", i)), "an event text")
		}
		out[s] = b
	}
	return out
}

// BenchmarkFanoutSorted16x1000Loopback: events.search to 16 engines, each
// answering 1,000 events, merged by ts (16,000 elements out), and the same
// answers wrapped by rpcProxy.diagonal. ns/element is wall time per
// element merged, the whole round trip included.
func BenchmarkFanoutSorted16x1000Loopback(b *testing.B) {
	answers := sixteenSearches()
	handle := func(shard int, _, dst []byte) []byte { return append(dst, answers[shard]...) }
	l, _ := startFanoutLoopback(b, 16, handle, `[[cluster]]
name = "events"
functions = ["events.*"]
sharding = "hash"
%s
[[cluster.function]]
name = "events.search"
merge = "sorted"
sort_field = "ts"
descending = true
limit_arg = "limit"
default_limit = 1000000
`)
	defer l.close()
	search := tl.AppendInt32(evQuery(events.TagSearch, ""), 0)
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"sorted", search},
		{"diagonal", append(tl.AppendUint32(nil, rpc.TagProxyDiagonal), search...)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			hdr := make([]byte, 0, 64)
			req := &rpc.InvokeReq{Body: tc.body}
			var res rpc.ReqResult
			for range 10 {
				l.roundTrip(b, hdr, tc.body, req, &res)
			}
			b.ReportAllocs()
			for b.Loop() {
				l.roundTrip(b, hdr, tc.body, req, &res)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/16000, "ns/element")
		})
	}
}

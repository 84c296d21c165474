package rpcproxy

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// TestShadowCopies: cluster mc copies memcache.get and memcache.getMulti
// to cluster next. A get is answered by mc's engine and its copy reaches
// next's engine byte for byte; a set (not listed) and a getMulti (a
// fan-out) are not copied; a shadow engine that holds everything delays
// nothing; once it is gone, copies are dropped at once and counted while
// every get is still answered.
func TestShadowCopies(t *testing.T) {
	eng := startEngines(t, 2)
	main, next := eng[0], eng[1]
	hold := make(chan struct{})
	next.Handler = func(r *enginetest.Request) enginetest.Reply {
		select {
		case <-hold:
			return enginetest.Reply{Hold: r.Function() != enginetest.TagEnginePid}
		default:
			return enginetest.Reply{}
		}
	}
	p := startProxy(t, parseConfig(t, proxyHeader()+`
[[cluster]]
name = "mc"
functions = ["memcache.*"]
shards = [{ replicas = ["`+main.Addr+`"] }]
[cluster.shadow]
cluster = "next"
functions = ["memcache.get", "memcache.getMulti"]

[[cluster]]
name = "next"
actor_id = 77
shards = [{ replicas = ["`+next.Addr+`"] }]
[cluster.health]
probe_interval = "1h"
probe_max_interval = "1h"
`), Options{NoAdmin: true})
	mc := p.Table().Cluster("mc")
	a := dialApp(t, p.addr(t, mainListen))
	qid := int64(0)
	get := func(key string) {
		t.Helper()
		qid++
		res := a.call(t, &rpc.InvokeReq{QueryID: qid, Body: getCall(t, key)})
		if res.IsError() || !bytes.Equal(res.Body, enginetest.Echo(main.Addr, getCall(t, key))) {
			t.Fatalf("get %s: %+v, want mc's engine's answer", key, res)
		}
	}
	// copies returns the calls next got that are not probes, waiting for
	// the nth.
	copies := func(n int) [][]byte {
		t.Helper()
		awaitInvokes(t, next, n)
		var out [][]byte
		for _, r := range next.Invokes() {
			out = append(out, r.Req.Body)
		}
		return out
	}

	get("k1")
	if got := copies(1); len(got) != 1 || !bytes.Equal(got[0], getCall(t, "k1")) {
		t.Fatalf("next got %x, want the get as it came", got)
	}
	if res := a.call(t, &rpc.InvokeReq{QueryID: 100, Body: mcSet("k1", "v")}); res.IsError() {
		t.Fatalf("set: %s", res.ErrorText)
	}
	_ = a.call(t, &rpc.InvokeReq{QueryID: 101, Body: mcGetMulti("k1", "k2")}) // a fan-out: answered, not copied
	get("k2")
	// One connection carries the copies in order: k2's arriving second
	// means the set and the getMulti were not copied.
	if got := copies(2); len(got) != 2 || !bytes.Equal(got[1], getCall(t, "k2")) {
		t.Fatalf("next got %x, want only the two gets", got)
	}

	close(hold) // next answers nothing from now on
	for _, k := range []string{"k3", "k4", "k5"} {
		get(k)
	}
	awaitInvokes(t, next, 5)
	next.Release()
	if s, f := mc.Stats.ShadowSent.Load(), mc.Stats.ShadowFailed.Load(); s != 5 || f != 0 {
		t.Fatalf("shadow sent %d, failed %d; want 5 and 0", s, f)
	}

	next.Close()
	waitFor(t, "copies to the closed shadow engine to be dropped", func() bool {
		get("k6")
		return mc.Stats.ShadowFailed.Load() > 0
	})
}

// awaitInvokes waits until e has received n calls that are not probes.
func awaitInvokes(t *testing.T, e *enginetest.Server, n int) {
	t.Helper()
	waitFor(t, "engine calls", func() bool { return len(e.Invokes()) >= n })
}

// TestShadowDoesNotAllocate: with every get copied to a shadow cluster,
// the request path of the whole process (app, proxy, both engines) still
// allocates less than once per request.
func TestShadowDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts need a build without -race")
	}
	var addrs []string
	for range 2 {
		addr, stop := echoEngine(t)
		t.Cleanup(stop)
		addrs = append(addrs, addr)
	}
	cfg, err := configsParse(fmt.Sprintf(`[proxy]
listen = %q
schemas = [%q]
[[cluster]]
name = "mc"
functions = ["memcache.*"]
shards = [{ replicas = [%q] }]
[cluster.shadow]
cluster = "next"
[[cluster]]
name = "next"
actor_id = 5
shards = [{ replicas = [%q] }]
`, mainListen, memcacheTL, addrs[0], addrs[1]))
	if err != nil {
		t.Fatal(err)
	}
	l, p := serveLoopback(t, cfg)
	defer l.close()
	if n := allocsPerGet(t, l, 2000); n != 0 {
		t.Fatalf("%v allocations per request with a shadow copy", n)
	}
	if s := p.Table().Cluster("mc").Stats.ShadowSent.Load(); s < 2000 {
		t.Fatalf("%d copies sent, want one per request", s)
	}
}

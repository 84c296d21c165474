package rpcproxy

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// limitedGet is a function rule giving memcache.get rate_limit (a second)
// and burst.
func limitedGet(rate, burst string) string {
	return "[[cluster.function]]\nname = \"memcache.get\"\nrate_limit = " + rate + "\nburst = " + burst + "\n"
}

// TestRateLimit: memcache.get with rate_limit = 10 and burst = 2, on a
// clock that moves only when told: two gets at one instant pass, the third
// is answered FLOOD_CONTROL at once, naming the function and its limit,
// and never reaches the engine; 100 ms later one more passes, and a
// diagonal of a get counts against the get's limit. Other functions are
// not limited. A reload that keeps the limit keeps its
// state (no fresh burst); one that changes it starts a new one.
func TestRateLimit(t *testing.T) {
	eng := startEngines(t, 1)
	clock := &stepClock{base: time.Now()}
	p := startProxy(t, parseConfig(t, oneShardConfig(eng[0].Addr, limitedGet("10", "2"))), Options{NoAdmin: true, Now: clock.Now})
	a := dialApp(t, p.addr(t, mainListen))
	qid := int64(0)
	get := func() rpc.ReqResult {
		qid++
		return a.call(t, &rpc.InvokeReq{QueryID: qid, Body: getCall(t, "k")})
	}
	passes := func(n int) {
		t.Helper()
		for i := range n {
			if res := get(); res.IsError() || !bytes.Equal(res.Body, enginetest.Echo(eng[0].Addr, getCall(t, "k"))) {
				t.Fatalf("get %d of %d: %+v, want the engine's answer", i+1, n, res)
			}
		}
	}
	refused := func() {
		t.Helper()
		wantError(t, get(), rpc.CodeFloodControl, "memcache.get is over its rate limit in cluster mc (rate_limit = 10 a second, burst 2)")
	}

	passes(2)
	refused()
	if n := len(eng[0].Invokes()); n != 2 {
		t.Fatalf("the engine got %d gets, want the 2 let through", n)
	}
	if res := a.call(t, &rpc.InvokeReq{QueryID: 1000, Body: mcSet("k", "v")}); res.IsError() {
		t.Fatalf("memcache.set has no limit: %s", res.ErrorText)
	}
	clock.step(100 * time.Millisecond)
	passes(1)
	refused()
	// A diagonal of a get counts against memcache.get's limit.
	diag := append(tl.AppendUint32(nil, rpc.TagProxyDiagonal), getCall(t, "k")...)
	qid++
	wantError(t, a.call(t, &rpc.InvokeReq{QueryID: qid, Body: diag}), rpc.CodeFloodControl, "memcache.get is over its rate limit")

	// The same limit after a reload: still spent.
	if err := p.Apply(parseConfig(t, oneShardConfig(eng[0].Addr, limitedGet("10", "2")+"[[cluster.function]]\nname = \"memcache.set\"\n"))); err != nil {
		t.Fatal(err)
	}
	refused()
	// Another burst: a new limit, full.
	if err := p.Apply(parseConfig(t, oneShardConfig(eng[0].Addr, limitedGet("10", "3")))); err != nil {
		t.Fatal(err)
	}
	passes(3)

	if n := p.Table().Cluster("mc").Stats.RateLimited.Load(); n != 4 {
		t.Fatalf("rate_limited %d, want 4", n)
	}
	rec := httptest.NewRecorder()
	p.serveMetrics(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `rpcproxy_rate_limited_total{cluster="mc"} 4`) {
		t.Fatalf("/metrics lacks the count:\n%s", rec.Body)
	}
}

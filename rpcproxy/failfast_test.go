package rpcproxy

import (
	"bytes"
	"cmp"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/sharding"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// keysFor returns n keys that cluster c places on shard.
func keysFor(t *testing.T, p *testProxy, cluster string, shard, n int) []string {
	t.Helper()
	c := p.Table().Cluster(cluster)
	var out []string
	for i := 0; len(out) < n && i < 10000; i++ {
		k := fmt.Sprintf("key%d", i)
		if s, _ := c.Picker.Pick([]byte(k)); s == shard {
			out = append(out, k)
		}
	}
	if len(out) < n {
		t.Fatalf("found %d keys for shard %d", len(out), shard)
	}
	return out
}

func TestDeadEngineFailsFastOtherShardsWork(t *testing.T) {
	eng := startEngines(t, 1)
	dead := deadAddr(t)
	cfg := parseConfig(t, proxyHeader()+fmt.Sprintf(`
[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "hash"
shards = [{ replicas = [%q] }, { replicas = [%q] }]
[cluster.health]
probe_interval = "1h"
probe_max_interval = "1h"
`, eng[0].Addr, dead))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, mainListen))
	dialsBefore := p.dials.count(dead)
	for i, k := range keysFor(t, p, "mc", 1, 20) {
		res := a.call(t, &rpc.InvokeReq{QueryID: int64(i + 1), Body: getCall(t, k)})
		wantError(t, res, rpc.CodeNoConnections, "engine "+dead+" is down")
	}
	if n := p.dials.count(dead) - dialsBefore; n != 0 {
		t.Fatalf("%d dials to the dead engine while failing fast; want none", n)
	}
	for i, k := range keysFor(t, p, "mc", 0, 20) {
		res := a.call(t, &rpc.InvokeReq{QueryID: int64(100 + i), Body: getCall(t, k)})
		if res.IsError() {
			t.Fatalf("healthy shard: error %d %s", res.ErrorCode, res.ErrorText)
		}
	}
}

func TestFailoverStaysInShard(t *testing.T) {
	for _, failover := range []bool{true, false} {
		t.Run(fmt.Sprintf("failover=%v", failover), func(t *testing.T) {
			eng := startEngines(t, 2)
			dead := deadAddr(t)
			cfg := parseConfig(t, proxyHeader()+fmt.Sprintf(`
[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "hash"
balance = "round_robin"
shards = [{ replicas = [%q, %q] }, { replicas = [%q] }]
[cluster.health]
failover = %v
max_down_share = 1.0
probe_interval = "1h"
probe_max_interval = "1h"
`, dead, eng[0].Addr, eng[1].Addr, failover))
			p := startProxy(t, cfg, Options{NoAdmin: true})
			a := dialApp(t, p.addr(t, mainListen))
			refused := 0
			for i, k := range keysFor(t, p, "mc", 0, 20) {
				body := getCall(t, k)
				res := a.call(t, &rpc.InvokeReq{QueryID: int64(i + 1), Body: body})
				switch {
				case res.IsError():
					wantError(t, res, rpc.CodeNoConnections, dead)
					refused++
				case !bytes.Equal(res.Body, enginetest.Echo(eng[0].Addr, body)):
					t.Fatalf("answered by %q, want the live replica of shard 0", res.Body)
				}
			}
			if failover && refused != 0 {
				t.Fatalf("%d refused with failover", refused)
			}
			if !failover && refused == 0 {
				t.Fatal("no request refused without failover: round robin must pick the dead replica")
			}
			// Keys never move to another shard.
			if n := len(eng[1].Invokes()); n != 0 {
				t.Fatalf("shard 1's engine got %d requests for shard 0 keys", n)
			}
		})
	}
}

func TestTimeoutAndThreeTimeoutsMarkDown(t *testing.T) {
	eng := startEngines(t, 1)
	eng[0].Handler = func(r *enginetest.Request) enginetest.Reply {
		return enginetest.Reply{Drop: r.Function() != enginetest.TagEnginePid}
	}
	cfg := parseConfig(t, oneShardConfig(eng[0].Addr, `timeout = "50ms"
[cluster.health]
consecutive_timeouts = 3
probe_interval = "1h"
probe_max_interval = "1h"
`))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, mainListen))
	for i := range 3 {
		res := a.call(t, &rpc.InvokeReq{QueryID: int64(i + 1), Body: getCall(t, "k")})
		wantError(t, res, rpc.CodeQueryTimeout, eng[0].Addr)
		r := nextInvoke(t, eng[0])
		if ms, ok := r.Req.Extra.Timeout(); !ok || ms > 50 {
			t.Fatalf("engine got custom_timeout_ms %d %v, want <= 50", ms, ok)
		}
	}
	e := p.Table().Cluster("mc").Shards[0].Replicas[0]
	if e.Health().Up() {
		t.Fatal("engine up after 3 consecutive timeouts")
	}
	res := a.call(t, &rpc.InvokeReq{QueryID: 10, Body: getCall(t, "k")})
	wantError(t, res, rpc.CodeNoConnections, "is down")
}

func TestAppTimeoutIsForwarded(t *testing.T) {
	eng := startEngines(t, 1)
	eng[0].Handler = func(*enginetest.Request) enginetest.Reply { return enginetest.Reply{Drop: true} }
	cfg := parseConfig(t, oneShardConfig(eng[0].Addr, `timeout = "10s"`))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, mainListen))
	req := &rpc.InvokeReq{QueryID: 5, Body: getCall(t, "k")}
	req.Extra.SetCustomTimeoutMs(30)
	res := a.call(t, req)
	wantError(t, res, rpc.CodeQueryTimeout, "did not answer before the deadline")
	r := nextInvoke(t, eng[0])
	if ms, ok := r.Req.Extra.Timeout(); !ok || ms > 30 {
		t.Fatalf("engine got custom_timeout_ms %d %v, want <= 30", ms, ok)
	}
}

func TestNoResultIsForwardedWithoutWaiting(t *testing.T) {
	eng := startEngines(t, 1)
	cfg := parseConfig(t, oneShardConfig(eng[0].Addr, ""))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, mainListen))
	nr := &rpc.InvokeReq{QueryID: 1, Extra: rpc.InvokeReqExtra{Flags: rpc.FlagNoResult}, Body: getCall(t, "k")}
	a.send(t, nr)
	r := nextInvoke(t, eng[0])
	if r.Req.Extra.NoResult() {
		t.Fatal("engine got no_result: the proxy must clear it to account for the answer")
	}
	// The next answer the app sees is for the next request: nothing was
	// written for the no_result one.
	res := a.call(t, &rpc.InvokeReq{QueryID: 2, Body: getCall(t, "k")})
	if res.IsError() {
		t.Fatalf("error %d %s", res.ErrorCode, res.ErrorText)
	}
	waitFor(t, "the no_result answer accounted", func() bool {
		return p.Table().Cluster("mc").Stats.Answers.Load() == 2
	})
}

// TestCancelIsPassedOn: the app's rpcCancelReq for a call in flight
// reaches its engine as a cancel of the engine's query id, the app gets
// an error answer, and the listener counts it; a cancel of a query id the
// app has not in flight reaches nobody and is not counted.
func TestCancelIsPassedOn(t *testing.T) {
	var hold atomic.Bool
	hold.Store(true)
	eng := holdEngine(t, &hold)
	cfg := parseConfig(t, oneShardConfig(eng.Addr, ""))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, mainListen))
	a.send(t, &rpc.InvokeReq{QueryID: 77, Body: getCall(t, "k")})
	got := nextInvoke(t, eng)
	for _, qid := range []int64{78, 77} { // 78 is not in flight
		if err := a.pc.WritePacket(rpc.TypeCancelReq, rpc.AppendCancelReq(nil, qid), nil); err != nil {
			t.Fatal(err)
		}
	}
	waitCancel(t, eng, engineQID(got)) // the first cancel it gets
	if res := a.result(t); res.QueryID != 77 || res.ErrorCode != errCancelled.Code {
		t.Fatalf("answer to the cancelled call: %d %d %s", res.QueryID, res.ErrorCode, res.ErrorText)
	}
	// Counted once CancelRPC returns, which may be after the answer left.
	waitFor(t, "the cancel counted", func() bool { return p.Snapshot().App.Listeners[0].Cancels == 1 })
	// The reader has handled both cancels once it serves the next call.
	hold.Store(false)
	a.send(t, &rpc.InvokeReq{QueryID: 79, Body: getCall(t, "k")})
	if res := a.result(t); res.QueryID != 79 {
		t.Fatalf("answer to %d, want 79", res.QueryID)
	}
	if n := p.Snapshot().App.Listeners[0].Cancels; n != 1 {
		t.Fatalf("%d cancels counted, want 1", n)
	}
}

// max_down_share caps how much of a cluster is marked down: beyond it the
// engines stay "up" (fail open) and requests reach them.
func TestMaxDownShareFailsOpen(t *testing.T) {
	dead1, dead2 := deadAddr(t), deadAddr(t)
	cfg := parseConfig(t, proxyHeader()+fmt.Sprintf(`
[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "hash"
shards = [{ replicas = [%q] }, { replicas = [%q] }]
[cluster.health]
max_down_share = 0.5
probe_interval = "1h"
probe_max_interval = "1h"
`, dead1, dead2))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	c := p.Table().Cluster("mc")
	var down, open int
	for i := range c.Shards {
		h := c.Shards[i].Replicas[0].Health()
		switch {
		case !h.Up():
			down++
		case h.FailOpen():
			open++
		}
	}
	if down != 1 || open != 1 || c.Group.Down() != 1 {
		t.Fatalf("%d down, %d failing open (group %d); want 1 and 1", down, open, c.Group.Down())
	}
	st := p.Snapshot()
	states := map[string]int{}
	for _, s := range st.Clusters[0].Shards {
		states[s.Engines[0].State]++
	}
	if states["down"] != 1 || states["fail_open"] != 1 {
		t.Fatalf("stats states %v", states)
	}
}

// A replica at max_inflight sheds load at once: with failover the next
// replica of the same shard takes the request.
func TestBusyReplicaShedsLoad(t *testing.T) {
	eng := startEngines(t, 2)
	eng[0].Handler = func(*enginetest.Request) enginetest.Reply { return enginetest.Reply{Hold: true} }
	for _, failover := range []bool{true, false} {
		t.Run(fmt.Sprintf("failover=%v", failover), func(t *testing.T) {
			cfg := parseConfig(t, proxyHeader()+fmt.Sprintf(`
[[cluster]]
name = "mc"
functions = ["memcache.*"]
balance = "round_robin"
shards = [{ replicas = [%q, %q] }]
[cluster.health]
max_inflight = 1
failover = %v
`, eng[0].Addr, eng[1].Addr, failover))
			p := startProxy(t, cfg, Options{NoAdmin: true})
			a := dialApp(t, p.addr(t, mainListen))
			// Fill replica 0 (round robin starts somewhere; send until one is held).
			busy := p.Table().Cluster("mc").Shards[0].Replicas[0]
			var qid int64
			for busy.Health().Inflight() == 0 {
				qid++
				a.send(t, &rpc.InvokeReq{QueryID: qid, Body: getCall(t, "k")})
				waitFor(t, "an answer or a held request", func() bool {
					return busy.Health().Inflight() == 1 || len(a.msgs) > 0
				})
				if len(a.msgs) > 0 {
					a.result(t)
				}
			}
			refused := 0
			for i := range 6 {
				res := a.call(t, &rpc.InvokeReq{QueryID: int64(100 + i), Body: getCall(t, "k")})
				if res.IsError() {
					wantError(t, res, rpc.CodeTooManyRequests, eng[0].Addr)
					refused++
				}
			}
			if failover && refused != 0 || !failover && refused == 0 {
				t.Fatalf("failover=%v: %d of 6 refused", failover, refused)
			}
			eng[0].Release()
		})
	}
}

// TestRefusedSendIsAFailure: an engine that stopped reading fills its
// connection's queue; the requests refused then (NO_CONNECTIONS, "not
// reading") count as failures for least_latency, so the replica's
// latency becomes the failure latency, not the zero latency of a request
// that never left.
func TestRefusedSendIsAFailure(t *testing.T) {
	eng := startEngines(t, 1)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) }) // before the engine's Close (cleanups run last first)
	eng[0].Handler = func(r *enginetest.Request) enginetest.Reply {
		<-block // the engine reads one request, then nothing more
		return enginetest.Reply{Drop: true}
	}
	cfg := parseConfig(t, oneShardConfig(eng[0].Addr, "balance = \"least_latency\"\ntimeout = \"10s\"\n"))
	p := startProxy(t, cfg, Options{NoAdmin: true, EngineQueueLimit: 64 << 10})
	a := dialApp(t, p.addr(t, mainListen))
	body := getCall(t, strings.Repeat("k", 16<<10))
	const most = 4000 // 64 MiB: far beyond the queue and the sockets' buffers
	stop := make(chan struct{})
	go func() {
		for i := range most {
			select {
			case <-stop:
				return
			default:
			}
			if err := a.pc.WritePacket(rpc.TypeInvokeReq, rpc.AppendInvokeReqHeader(nil, &rpc.InvokeReq{QueryID: int64(i + 1)}), body); err != nil {
				return
			}
		}
	}()
	defer close(stop)
	res := a.result(t) // the engine holds the rest: the first answer is a refusal
	if !res.IsError() || res.ErrorCode != rpc.CodeNoConnections || !strings.Contains(string(res.ErrorText), "not reading") {
		t.Fatalf("first answer: error %d %q, want NO_CONNECTIONS \"... not reading ...\"", res.ErrorCode, res.ErrorText)
	}
	b := p.Table().Cluster("mc").Shards[0].Balancer
	if got := b.Latency(0); got < sharding.DefaultFailureLatency {
		t.Errorf("least_latency EWMA after refusals = %v, want at least the failure latency %v", got, sharding.DefaultFailureLatency)
	}
}

// TestTimeoutMargin: a request with the app's own timeout is given up
// timeout_margin before the app's deadline (at most a tenth of the
// timeout), and the engine is told the shortened time; a request on the
// cluster's timeout keeps all of it. The proxy reads the clock once per
// burst, so the time left at forwarding is the whole timeout, exactly.
func TestTimeoutMargin(t *testing.T) {
	eng := startEngines(t, 1)
	for i, tc := range []struct {
		margin  string // [proxy] timeout_margin; "" is the default
		app     int32  // the app's custom_timeout_ms; 0 is none
		wantEng int32
	}{
		{"", 1500, 1490},
		{"", 30, 27}, // a tenth of the app's timeout
		{`"50ms"`, 1500, 1450},
		{`"off"`, 1500, 1500},
		{"", 0, 10000}, // the cluster's timeout, kept whole
	} {
		t.Run(fmt.Sprintf("margin %s app %dms", cmp.Or(tc.margin, "default"), tc.app), func(t *testing.T) {
			text := oneShardConfig(eng[0].Addr, `timeout = "10s"`)
			if tc.margin != "" {
				text = strings.Replace(text, "[[cluster]]", "timeout_margin = "+tc.margin+"\n[[cluster]]", 1)
			}
			p := startProxy(t, parseConfig(t, text), Options{NoAdmin: true})
			a := dialApp(t, p.addr(t, mainListen))
			req := &rpc.InvokeReq{QueryID: int64(i + 1), Body: getCall(t, "k")}
			if tc.app > 0 {
				req.Extra.SetCustomTimeoutMs(tc.app)
			}
			if res := a.call(t, req); res.IsError() {
				t.Fatalf("error %d %s", res.ErrorCode, res.ErrorText)
			}
			r := nextInvoke(t, eng[0])
			if ms, ok := r.Req.Extra.Timeout(); !ok || ms != tc.wantEng {
				t.Errorf("engine got custom_timeout_ms %d %v, want %d", ms, ok, tc.wantEng)
			}
		})
	}
}

// TestTimeoutMarginAnswers: the proxy's own deadline moves with the
// margin, not only what the engine is told: on a clock that moves only
// when the test says, an app's 1500 ms request to an engine that never
// answers gets QUERY_TIMEOUT once 1490 ms have passed, before the app's
// own deadline.
func TestTimeoutMarginAnswers(t *testing.T) {
	eng := startEngines(t, 1)
	eng[0].Handler = func(*enginetest.Request) enginetest.Reply { return enginetest.Reply{Drop: true} }
	clock := &stepClock{base: time.Now()}
	p := startProxy(t, parseConfig(t, oneShardConfig(eng[0].Addr, `timeout = "10s"`)), Options{NoAdmin: true, Now: clock.Now})
	a := dialApp(t, p.addr(t, mainListen))
	req := &rpc.InvokeReq{QueryID: 1, Body: getCall(t, "k")}
	req.Extra.SetCustomTimeoutMs(1500)
	a.send(t, req)
	nextInvoke(t, eng[0])
	clock.step(1490*time.Millisecond + 1)
	// The clock stays short of the app's 1.5 s: without the margin
	// nothing would expire, and result would wait until it gives up.
	wantError(t, a.result(t), rpc.CodeQueryTimeout, "did not answer before the deadline")
}

package rpcproxy

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/rpcproxy/rpcproxy/engines/memcache"
	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// replicatedShard is a config of one cluster "mc" with one shard of two
// replicas, chosen round robin, with extra appended (rules, health).
func replicatedShard(first, second, extra string) string {
	return proxyHeader() + fmt.Sprintf(`
[[cluster]]
name = "mc"
functions = ["memcache.*"]
balance = "round_robin"
shards = [{ replicas = [%q, %q] }]
`, first, second) + extra
}

// hangupOn makes e close its connection on every request for function
// tag, as an engine that crashes while working on it.
func hangupOn(e *enginetest.Server, tag uint32) {
	e.Handler = func(r *enginetest.Request) enginetest.Reply {
		return enginetest.Reply{Hangup: r.Function() == tag}
	}
}

// TestRetryOnLostConnection: a get whose engine hangs up before answering
// is answered by the shard's other replica when memcache.get is marked
// retry, byte for byte as that replica answers; without the rule the app
// gets the loss as NO_CONNECTIONS. Either way the crashed replica got the
// request once and keys stay in their shard.
func TestRetryOnLostConnection(t *testing.T) {
	for _, retry := range []bool{true, false} {
		t.Run(fmt.Sprintf("retry=%v", retry), func(t *testing.T) {
			eng := startEngines(t, 2)
			crash, good := eng[0], eng[1]
			hangupOn(crash, tagMemcacheGet)
			rules := fmt.Sprintf(`[cluster.health]
probe_interval = "1h"
probe_max_interval = "1h"
max_down_share = 1.0
[[cluster.function]]
name = "memcache.get"
retry = %v
`, retry)
			p := startProxy(t, parseConfig(t, replicatedShard(crash.Addr, good.Addr, rules)), Options{NoAdmin: true})
			a := dialApp(t, p.addr(t, mainListen))
			var lost, sent int
			// Round robin sends one of the first two to the crashing replica.
			for i := 0; i < 2 && len(crash.Invokes()) == 0; i++ {
				body := getCall(t, fmt.Sprintf("key%d", i))
				sent++
				res := a.call(t, &rpc.InvokeReq{QueryID: int64(i + 1), Body: body})
				switch {
				case res.IsError():
					wantError(t, res, rpc.CodeNoConnections, "connection to engine "+crash.Addr+" lost")
					lost++
				case !bytes.Equal(res.Body, enginetest.Echo(good.Addr, body)):
					t.Fatalf("answer %q, want the live replica's echo", res.Body)
				}
			}
			if n := len(crash.Invokes()); n != 1 {
				t.Fatalf("the crashing replica got %d requests, want 1", n)
			}
			st := p.Table().Cluster("mc").Stats
			if retry {
				if lost != 0 || st.Retries.Load() != 1 {
					t.Fatalf("%d lost, %d retries; want 0 and 1", lost, st.Retries.Load())
				}
				// The retry carried the request as it came: the live replica
				// got every call, the retried one included.
				if n := len(good.Invokes()); n != sent {
					t.Fatalf("live replica got %d requests for %d sent", n, sent)
				}
			} else if lost != 1 || st.Retries.Load() != 0 {
				t.Fatalf("%d lost, %d retries; want 1 and 0", lost, st.Retries.Load())
			}
		})
	}
}

// TestRetryBudgetCapsRetries: when a replica with 30 requests in flight
// goes away, a zero retry_budget lets RetryFloor of them go to the other
// replica and fails the rest at once, counted as denied.
func TestRetryBudgetCapsRetries(t *testing.T) {
	eng := startEngines(t, 2)
	crash, good := eng[0], eng[1]
	crash.Handler = func(r *enginetest.Request) enginetest.Reply {
		return enginetest.Reply{Hold: r.Function() == tagMemcacheGet}
	}
	p := startProxy(t, parseConfig(t, replicatedShard(crash.Addr, good.Addr, `[cluster.health]
probe_interval = "1h"
probe_max_interval = "1h"
max_down_share = 1.0
retry_budget = 0.0
[[cluster.function]]
name = "memcache.get"
retry = true
`)), Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, mainListen))
	const n = 60 // round robin: 30 to each replica
	for i := range n {
		a.send(t, &rpc.InvokeReq{QueryID: int64(i + 1), Body: getCall(t, fmt.Sprintf("key%d", i))})
	}
	answered := 0
	for range n / 2 { // the live replica's own half
		if res := a.result(t); res.IsError() {
			t.Fatalf("error %d %s before the crash", res.ErrorCode, res.ErrorText)
		}
		answered++
	}
	waitFor(t, "30 requests held by the crashing replica", func() bool { return len(crash.Invokes()) == n/2 })
	crash.Close()
	var errs int
	for range n / 2 {
		res := a.result(t)
		if res.IsError() {
			wantError(t, res, rpc.CodeNoConnections, "lost")
			errs++
		} else {
			answered++
		}
	}
	st := p.Table().Cluster("mc").Stats
	if got, denied := st.Retries.Load(), st.RetriesDenied.Load(); got != 10 || denied != n/2-10 || errs != n/2-10 {
		t.Fatalf("%d retries, %d denied, %d errors; want 10, %d, %d", got, denied, errs, n/2-10, n/2-10)
	}
	if answered != n/2+10 {
		t.Fatalf("%d answered, want %d", answered, n/2+10)
	}
}

// TestRetrySplitSubRequest: a getMulti split over two shards whose first
// shard's first replica hangs up retries that shard's sub-request on the
// shard's other replica (holding the same data), and the answer is the
// one a single engine holding every key gives.
func TestRetrySplitSubRequest(t *testing.T) {
	p, a, eng, all := replicatedSplit(t, "retry = true\n", func(e *enginetest.Server) {
		h := e.Handler
		e.Handler = func(r *enginetest.Request) enginetest.Reply {
			if r.Function() == memcache.TagGetMulti {
				return enginetest.Reply{Hangup: true}
			}
			return h(r)
		}
	}, nil)
	crash, mirror := eng[0][0], eng[0][1]
	c := p.Table().Cluster("mc")
	var keys []string
	for i := range 12 {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	want, _ := runFuncs(all.Funcs(), mcGetMulti(keys...))
	for i := 0; i < 2 && len(crash.Invokes()) == 0; i++ {
		got := mustOK(t, a.call(t, &rpc.InvokeReq{QueryID: int64(i + 1), Body: mcGetMulti(keys...)}))
		if !bytes.Equal(got, want) {
			t.Fatalf("getMulti %d through the proxy\n%x\nwant (one engine)\n%x", i, got, want)
		}
	}
	if n := len(crash.Invokes()); n != 1 {
		t.Fatalf("the crashing replica got %d sub-requests, want 1", n)
	}
	if r := c.Stats.Retries.Load(); r != 1 {
		t.Fatalf("%d retries, want 1", r)
	}
	// The retried sub-request carried shard 0's keys only.
	for _, r := range mirror.Invokes() {
		for _, k := range getMultiKeys(t, r.Req.Body) {
			if s, _ := c.Picker.Pick([]byte(k)); s != 0 {
				t.Fatalf("shard 0's replica got key %q of shard %d", k, s)
			}
		}
	}
}

// TestRefusedSendMovesToAnotherReplica: a replica kept in service
// without a connection (max_down_share = 0 never marks an engine down)
// refuses every request at Send, never written; with failover those go to
// the shard's other replica at once (any function, retry or not), so no
// app sees the refusal. Without failover they are answered with it.
func TestRefusedSendMovesToAnotherReplica(t *testing.T) {
	for _, failover := range []bool{true, false} {
		t.Run(fmt.Sprintf("failover=%v", failover), func(t *testing.T) {
			good := startEngines(t, 1)[0]
			dead := deadAddr(t)
			p := startProxy(t, parseConfig(t, replicatedShard(dead, good.Addr, fmt.Sprintf(`[cluster.health]
max_down_share = 0.0
failover = %v
`, failover))), Options{NoAdmin: true})
			a := dialApp(t, p.addr(t, mainListen))
			refused := 0
			for i := range 20 {
				body := getCall(t, fmt.Sprintf("key%d", i))
				res := a.call(t, &rpc.InvokeReq{QueryID: int64(i + 1), Body: body})
				switch {
				case res.IsError():
					wantError(t, res, rpc.CodeNoConnections, "engine "+dead+" is not connected")
					refused++
				case !bytes.Equal(res.Body, enginetest.Echo(good.Addr, body)):
					t.Fatalf("answer %q, want the live replica's echo", res.Body)
				}
			}
			e := p.Table().Cluster("mc").Shards[0].Replicas[0]
			if n := e.Stats().Failed.Load(); n < 10 {
				t.Fatalf("the unconnected replica refused %d requests; round robin gives it 10 of 20", n)
			}
			if failover && refused != 0 || !failover && refused != 10 {
				t.Fatalf("%d of 20 answered with the refusal (failover %v)", refused, failover)
			}
		})
	}
}

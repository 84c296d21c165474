package rpcproxy

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// These tests cancel fan-outs: the app's rpcCancelReq reaches every shard
// still working on the request, the app gets errCancelled, and every
// sub-call's accounting ends once (health in flight back to 0).

// holdEngine starts a fake engine that answers probes, holds every other
// request while hold is true and echoes it at once otherwise.
func holdEngine(t *testing.T, hold *atomic.Bool) *enginetest.Server {
	t.Helper()
	e := startEngines(t, 1)[0]
	e.Handler = func(r *enginetest.Request) enginetest.Reply {
		if r.Function() == enginetest.TagEnginePid || !hold.Load() {
			return enginetest.Reply{}
		}
		return enginetest.Reply{Hold: true}
	}
	return e
}

// fourShards is a 4-shard memcache cluster over addrs, without probes.
func fourShards(timeout string, addrs []string) string {
	return fanoutHeader(timeout) + fmt.Sprintf(`
[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "hash"
shards = [{ replicas = [%q] }, { replicas = [%q] }, { replicas = [%q] }, { replicas = [%q] }]
`, addrs[0], addrs[1], addrs[2], addrs[3]) + faultHealth
}

// waitCancel waits for the rpcCancelReq of engine query id qid on e.
func waitCancel(t *testing.T, e *enginetest.Server, qid int64) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case r := <-e.Requests:
			if r.Type != rpc.TypeCancelReq {
				continue
			}
			got, err := rpc.ParseCancelReq(r.Raw)
			if err != nil || got != qid {
				t.Fatalf("engine %s got cancel %d %v, want %d", e.Addr, got, err, qid)
			}
			return
		case <-deadline:
			t.Fatalf("engine %s got no rpcCancelReq for %d", e.Addr, qid)
		}
	}
}

func cancelCount(e *enginetest.Server) int {
	n := 0
	for _, r := range e.Log() {
		if r.Type == rpc.TypeCancelReq {
			n++
		}
	}
	return n
}

// TestFanoutCancelReachesShards: a cancelled fan-out passes rpcCancelReq
// to every asked shard that has not answered (and to no other), answers
// the app errCancelled and leaves nothing in flight.
func TestFanoutCancelReachesShards(t *testing.T) {
	diag := func(inner []byte) []byte { return append(tl.AppendUint32(nil, rpc.TagProxyDiagonal), inner...) }
	tests := []struct {
		name     string
		answered int // a shard that answers before the cancel; -1: none
		body     func(keys [4]string) []byte
	}{
		{"getMulti, every shard slow", -1, func(k [4]string) []byte { return mcGetMulti(k[2], k[0], k[3], k[1]) }},
		{"getMulti, shard 1 answered", 1, func(k [4]string) []byte { return mcGetMulti(k[2], k[0], k[3], k[1]) }},
		{"diagonal, every shard slow", -1, func(k [4]string) []byte { return diag(getCallB(k[0])) }},
		{"diagonal, shard 3 answered", 3, func(k [4]string) []byte { return diag(getCallB(k[0])) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var holds [4]atomic.Bool
			var eng [4]*enginetest.Server
			var addrs []string
			for i := range eng {
				holds[i].Store(i != tc.answered)
				eng[i] = holdEngine(t, &holds[i])
				addrs = append(addrs, eng[i].Addr)
			}
			p := startProxy(t, parseConfig(t, fourShards("10s", addrs)), Options{NoAdmin: true})
			c := p.Table().Cluster("mc")
			var keys [4]string
			for s := range 4 {
				keys[s] = keysFor(t, p, "mc", s, 1)[0]
			}
			a := dialApp(t, p.addr(t, mainListen))
			a.send(t, &rpc.InvokeReq{QueryID: 41, Body: tc.body(keys)})
			var qids [4]int64
			for i, e := range eng {
				qids[i] = engineQID(nextInvoke(t, e))
			}
			if tc.answered >= 0 {
				h := c.Shards[tc.answered].Replicas[0].Health()
				waitFor(t, "the answering shard's answer", func() bool { return h.Inflight() == 0 })
			}
			if err := a.pc.WritePacket(rpc.TypeCancelReq, rpc.AppendCancelReq(nil, 41), nil); err != nil {
				t.Fatal(err)
			}
			res := a.result(t)
			if res.QueryID != 41 {
				t.Fatalf("answer for %d, want 41", res.QueryID)
			}
			wantError(t, res, rpc.CodeUnknown, "cancelled by the client")
			for i, e := range eng {
				if i != tc.answered {
					waitCancel(t, e, qids[i])
				}
				if h := c.Shards[i].Replicas[0].Health(); h.Inflight() != 0 {
					t.Errorf("shard %d: %d in flight after the cancel", i, h.Inflight())
				}
				if n := c.Shards[i].Balancer.Outstanding(0); n != 0 {
					t.Errorf("shard %d: balancer counts %d outstanding after the cancel", i, n)
				}
			}
			if tc.answered >= 0 {
				if n := cancelCount(eng[tc.answered]); n != 0 {
					t.Errorf("the shard that answered got %d rpcCancelReq", n)
				}
			}
			// Late answers of the cancelled sub-calls are dropped: the
			// next thing the app hears is its next request's answer.
			for i := range eng {
				holds[i].Store(false)
				eng[i].Release()
			}
			res = a.call(t, &rpc.InvokeReq{QueryID: 42, Body: getCallB(keys[2])})
			if res.IsError() {
				t.Fatalf("after the cancel: error %d %s", res.ErrorCode, res.ErrorText)
			}
			if got := c.Stats.Errors.Load(); got != 1 {
				t.Errorf("cluster errors %d, want 1 (the cancel)", got)
			}
			// Cancelled sub-requests were sent, and are not failures.
			if f, sent, failed, partial := c.Stats.Fanouts.Load(), c.Stats.SubSent.Load(), c.Stats.SubFailed.Load(), c.Stats.Partial.Load(); f != 1 || sent != 4 || failed != 0 || partial != 0 {
				t.Errorf("fan-outs %d, sub-requests sent %d, failed %d, partial %d; want 1, 4, 0, 0", f, sent, failed, partial)
			}
		})
	}
}

// TestFanoutCancelRacesAnswers: cancels arriving while the shards'
// answers do (on 4 engine readers at once) end every fan-out exactly
// once: one answer per request, the merged one or errCancelled, never a
// panic, nothing left in flight.
func TestFanoutCancelRacesAnswers(t *testing.T) {
	tests := []struct {
		name string
		// release, when set, holds every sub-call and releases them
		// from another goroutine while the cancel is sent; else the
		// engines answer at once.
		release bool
	}{
		{"answers at once", false},
		{"released while cancelling", true},
	}
	const rounds = 300
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var eng [4]*enginetest.Server
			var addrs []string
			var hold atomic.Bool
			hold.Store(tc.release)
			for i := range eng {
				if tc.release {
					eng[i] = holdEngine(t, &hold)
				} else {
					eng[i] = storeEngine(t, newMemcache(t).Funcs())
				}
				addrs = append(addrs, eng[i].Addr)
			}
			p := startProxy(t, parseConfig(t, fourShards("10s", addrs)), Options{NoAdmin: true})
			c := p.Table().Cluster("mc")
			var keys []string
			for s := range 4 {
				keys = append(keys, keysFor(t, p, "mc", s, 2)...)
			}
			body := mcGetMulti(keys...)
			a := dialApp(t, p.addr(t, mainListen))
			var cancelled, answered int
			for i := range rounds {
				qid := int64(i + 1)
				a.send(t, &rpc.InvokeReq{QueryID: qid, Body: body})
				released := make(chan struct{})
				if tc.release {
					for _, e := range eng {
						nextInvoke(t, e)
					}
					go func() {
						defer close(released)
						for _, e := range eng {
							e.Release()
						}
					}()
				} else {
					// Mostly after the request reached one engine (so
					// the answers are on their way), sometimes at once
					// (the cancel then often comes in the request's own
					// burst, before the sub-requests leave).
					if k := i % 5; k < 4 {
						waitFor(t, "the sub-request", func() bool { return len(eng[k].Invokes()) > i })
					}
					close(released)
				}
				if err := a.pc.WritePacket(rpc.TypeCancelReq, rpc.AppendCancelReq(nil, qid), nil); err != nil {
					t.Fatal(err)
				}
				res := a.result(t)
				<-released
				if res.QueryID != qid {
					t.Fatalf("round %d: answer for %d (twice?)", i, res.QueryID)
				}
				switch {
				case res.IsError() && res.ErrorCode == rpc.CodeUnknown && string(res.ErrorText) == errCancelled.Description:
					cancelled++
				case tc.release: // the echo is no getMulti answer: a merge error
					answered++
				case res.IsError():
					t.Fatalf("round %d: error %d %s", i, res.ErrorCode, res.ErrorText)
				default:
					answered++
				}
			}
			t.Logf("%d cancelled, %d answered", cancelled, answered)
			hold.Store(false)
			// Nothing more comes for the fan-outs: the next message is
			// this request's answer.
			if res := a.call(t, &rpc.InvokeReq{QueryID: rounds + 1, Body: getCallB(keys[0])}); res.IsError() {
				t.Fatalf("after the rounds: error %d %s", res.ErrorCode, res.ErrorText)
			}
			for i := range 4 {
				if n := c.Shards[i].Replicas[0].Health().Inflight(); n != 0 {
					t.Errorf("shard %d: %d in flight", i, n)
				}
				if n := c.Shards[i].Balancer.Outstanding(0); n != 0 {
					t.Errorf("shard %d: balancer counts %d outstanding", i, n)
				}
			}
			if got := c.Stats.Requests.Load(); got != rounds+1 {
				t.Errorf("requests %d, want %d", got, rounds+1)
			}
		})
	}
}

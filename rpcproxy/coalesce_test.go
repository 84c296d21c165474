package rpcproxy

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/engines/memcache"
	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// replicatedSplit starts two memcache shards (shard 0 with a replica per
// edit, each an engine over the same store, edited by it when not nil; one
// engine when none), behind a proxy whose memcache.getMulti rule has the
// lines rule, stores keys k0..k19 in them and in one store holding all,
// and returns the proxy, its app, the engines by shard and the all-keys
// store.
func replicatedSplit(t *testing.T, rule string, shard0 ...func(*enginetest.Server)) (*testProxy, *app, [][]*enginetest.Server, *memcache.Store) {
	t.Helper()
	all := newMemcache(t)
	stores := []*memcache.Store{newMemcache(t), newMemcache(t)}
	if len(shard0) == 0 {
		shard0 = []func(*enginetest.Server){nil}
	}
	eng := [][]*enginetest.Server{nil, {storeEngine(t, stores[1].Funcs())}}
	var reps []string
	for _, edit := range shard0 {
		e := storeEngine(t, stores[0].Funcs())
		if edit != nil {
			edit(e)
		}
		eng[0] = append(eng[0], e)
		reps = append(reps, fmt.Sprintf("%q", e.Addr))
	}
	cfg := parseConfig(t, fanoutHeader("2s")+fmt.Sprintf(`
[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "hash"
balance = "round_robin"
shards = [{ replicas = [%s] }, { replicas = [%q] }]
[cluster.health]
probe_interval = "1h"
probe_max_interval = "1h"
max_down_share = 1.0
[[cluster.function]]
name = "memcache.getMulti"
key = "keys"
%s`, strings.Join(reps, ", "), eng[1][0].Addr, rule))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	c := p.Table().Cluster("mc")
	for i := range 20 {
		k := fmt.Sprintf("k%d", i)
		s, _ := c.Picker.Pick([]byte(k))
		for _, st := range []*memcache.Store{stores[s], all} {
			if _, err := runFuncs(st.Funcs(), mcSet(k, "value of "+k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return p, dialApp(t, p.addr(t, mainListen)), eng, all
}

// sendBurst writes reqs to the proxy in one write, so its reader works
// through them in one burst, and returns the answers by query id.
func sendBurst(t *testing.T, a *app, reqs []*rpc.InvokeReq) map[int64]rpc.ReqResult {
	t.Helper()
	var b packet.Batch
	for _, r := range reqs {
		if ok, err := a.pc.TryWritePacketIn(&b, 0, rpc.TypeInvokeReq, rpc.AppendInvokeReqHeader(nil, r), r.Body); !ok || err != nil {
			t.Fatalf("write: %v %v", ok, err)
		}
	}
	b.Flush()
	out := map[int64]rpc.ReqResult{}
	for range reqs {
		res := a.result(t)
		res.Body, res.ErrorText = bytes.Clone(res.Body), bytes.Clone(res.ErrorText)
		out[res.QueryID] = res
	}
	return out
}

// plan lists the keys of every getMulti each engine got, sorted.
func plan(t *testing.T, es []*enginetest.Server) []string {
	t.Helper()
	var out []string
	for _, e := range es {
		for _, r := range e.Invokes() {
			if r.Function() == memcache.TagGetMulti {
				out = append(out, fmt.Sprint(getMultiKeys(t, r.Req.Body)))
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestCoalesceJoinsABurst: three getMultis read in one burst send each
// shard one call with all their keys in request order, and each request
// is answered byte for byte as one engine holding every key answers it. A
// request with another envelope (its own timeout) is not joined.
func TestCoalesceJoinsABurst(t *testing.T) {
	p, a, eng, all := replicatedSplit(t, "coalesce = true\n")
	keys := [][]string{{"k1", "k2", "k3", "k4"}, {"k5", "k6", "k7"}, {"k8", "k1", "k9", "k10"}}
	var reqs []*rpc.InvokeReq
	for i, ks := range keys {
		reqs = append(reqs, &rpc.InvokeReq{QueryID: int64(i + 1), Body: mcGetMulti(ks...)})
	}
	answers := sendBurst(t, a, reqs)
	for i, ks := range keys {
		want, _ := runFuncs(all.Funcs(), mcGetMulti(ks...))
		if got := answers[int64(i+1)]; !bytes.Equal(mustOK(t, got), want) {
			t.Errorf("request %d %v: %x, want %x", i+1, ks, got.Body, want)
		}
	}
	c := p.Table().Cluster("mc")
	// asks[s][i]: request i has keys on shard s.
	asks := [2][3]bool{}
	coalesced := 0
	for s, es := range eng {
		var joined []string
		parts := 0
		for i, ks := range keys {
			for _, k := range ks {
				if sh, _ := c.Picker.Pick([]byte(k)); sh == s {
					joined = append(joined, k)
					asks[s][i] = true
				}
			}
			if asks[s][i] {
				parts++
			}
		}
		if parts > 1 {
			coalesced += parts
		}
		if got, want := plan(t, es), []string{fmt.Sprint(joined)}; !slices.Equal(got, want) {
			t.Errorf("shard %d got %q, want one joined call %q", s, got, want)
		}
	}
	if n := c.Stats.Coalesced.Load(); n != uint64(coalesced) || n < 4 {
		t.Errorf("%d sub-requests counted coalesced, want %d (at least 4)", n, coalesced)
	}

	// The second request carries its own timeout: another envelope.
	before := [][]string{plan(t, eng[0]), plan(t, eng[1])}
	reqs[1].Extra.SetCustomTimeoutMs(1500)
	for i := range reqs {
		reqs[i].QueryID += 10
	}
	answers = sendBurst(t, a, reqs)
	for _, r := range reqs {
		mustOK(t, answers[r.QueryID])
	}
	for s, es := range eng {
		want := 0
		if asks[s][0] || asks[s][2] {
			want++ // requests 1 and 3, joined
		}
		if asks[s][1] {
			want++ // request 2, alone
		}
		if n := len(plan(t, es)) - len(before[s]); n != want {
			t.Errorf("shard %d got %d calls for a burst with two envelopes, want %d", s, n, want)
		}
	}
}

// TestCoalescedFailures: what ends a joined call ends each of its parts
// as if each had been sent alone: an engine's error answer is each
// request's error (on_error = "fail"), an answer that does not match the
// keys is PROXY_INVALID_RESPONSE, and a lost connection sends each part
// again, alone, to the shard's other replica (retry = true).
func TestCoalescedFailures(t *testing.T) {
	// onJoined makes an engine answer rep to a joined call (3 keys or
	// more: each request has 2) and serve every other call.
	onJoined := func(rep enginetest.Reply) func(*enginetest.Server) {
		return func(e *enginetest.Server) {
			h := e.Handler
			e.Handler = func(r *enginetest.Request) enginetest.Reply {
				if r.Function() == memcache.TagGetMulti && bytes.Count(r.Req.Body, []byte("k")) >= 3 {
					return rep
				}
				return h(r)
			}
		}
	}
	cases := []struct {
		name  string
		rule  string
		edit  []func(*enginetest.Server)
		check func(t *testing.T, res rpc.ReqResult, want []byte)
	}{
		{"error answer", "coalesce = true\n", []func(*enginetest.Server){
			onJoined(enginetest.Reply{ErrCode: rpc.CodeUnknown, ErrText: "engine refuses long calls"}),
		}, func(t *testing.T, res rpc.ReqResult, _ []byte) {
			wantError(t, res, rpc.CodeUnknown, "engine refuses long calls")
		}},
		{"answer of another length", "coalesce = true\n", []func(*enginetest.Server){
			onJoined(enginetest.Reply{Result: vectorOf(strValue("one"))}),
		}, func(t *testing.T, res rpc.ReqResult, _ []byte) {
			wantError(t, res, rpc.CodeProxyInvalidResponse, "1 elements for")
		}},
		{"lost connection, retried alone", "coalesce = true\nretry = true\n", []func(*enginetest.Server){
			onJoined(enginetest.Reply{Hangup: true}), nil,
		}, func(t *testing.T, res rpc.ReqResult, want []byte) {
			if got := mustOK(t, res); !bytes.Equal(got, want) {
				t.Errorf("answer %x, want %x", got, want)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, a, eng, all := replicatedSplit(t, tc.rule, tc.edit...)
			c := p.Table().Cluster("mc")
			// Requests with two shard-0 keys each, one more than replicas:
			// round robin (from replica 0) gives replica 0 requests 1 and
			// n, joined (4 keys); with two replicas request 2 goes to the
			// other alone.
			n := len(eng[0]) + 1
			var shard0 []string
			for i := 0; len(shard0) < 2*n; i++ {
				k := fmt.Sprintf("k%d", i)
				if s, _ := c.Picker.Pick([]byte(k)); s == 0 {
					shard0 = append(shard0, k)
				}
			}
			var reqs []*rpc.InvokeReq
			for i := range n {
				reqs = append(reqs, &rpc.InvokeReq{QueryID: int64(i + 1), Body: mcGetMulti(shard0[2*i : 2*i+2]...)})
			}
			answers := sendBurst(t, a, reqs)
			for i := range n {
				want, _ := runFuncs(all.Funcs(), mcGetMulti(shard0[2*i:2*i+2]...))
				tc.check(t, answers[int64(i+1)], want)
			}
			joined := fmt.Sprint(append(slices.Clone(shard0[:2]), shard0[2*n-2:]...))
			if got := plan(t, eng[0][:1]); len(got) != 1 || got[0] != joined {
				t.Errorf("shard 0's first replica got %q, want the joined call %v", got, joined)
			}
		})
	}
}

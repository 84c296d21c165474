package rpcproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/engines/events"
	"github.com/rpcproxy/rpcproxy/engines/memcache"
	"github.com/rpcproxy/rpcproxy/rpcproxy/health"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	rpcclient "github.com/rpcproxy/rpcproxy/tl/rpc/client"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// callLog records the calls an engine served (bodies, copied).
type callLog struct {
	mu    sync.Mutex
	calls [][]byte
}

func (l *callLog) add(body []byte) {
	l.mu.Lock()
	l.calls = append(l.calls, bytes.Clone(body))
	l.mu.Unlock()
}

// since returns the calls with tag from the n-th call on.
func (l *callLog) since(n int, tag uint32) [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [][]byte
	for _, c := range l.calls[n:] {
		if got, _, err := tl.ReadUint32(c); err == nil && got == tag {
			out = append(out, c)
		}
	}
	return out
}

func (l *callLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

// startUDPStore starts an engine served over UDP only that answers with
// funcs (a store's) and logs every call; engine.pid is built in.
func startUDPStore(t *testing.T, funcs []engines.Func) (*udpEngine, *callLog) {
	t.Helper()
	log := &callLog{}
	e := startUDPServer(t, func(string) server.SyncFunc {
		return func(r *server.Request, dst []byte) ([]byte, error) {
			log.add(r.Body)
			return callFuncs(funcs, r.Body, dst)
		}
	})
	return e, log
}

// twoApps is an app over UDP and one over TCP on the same proxy address;
// every call goes through both and must answer the same.
type twoApps struct {
	udp, tcp *rpcclient.Client
	ctx      context.Context
}

func newTwoApps(t *testing.T, addr string) *twoApps {
	t.Helper()
	a := &twoApps{udp: keyedClient(t, addr, "udp"), tcp: keyedClient(t, addr, "tcp")}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	a.ctx = ctx
	return a
}

// callResult is one app's outcome of a call.
type callResult struct {
	body   []byte
	err    error
	failed int32 // failed_subqueries, -1 if the result extra lacks it
}

func (a *twoApps) one(cl *rpcclient.Client, req *rpcclient.Request) callResult {
	var resp rpcclient.Response
	err := cl.Do(a.ctx, req, &resp)
	r := callResult{body: bytes.Clone(resp.Body), err: err, failed: -1}
	if err == nil && resp.Result.HasExtra && resp.Result.Extra.Flags&rpc.ResultFlagFailedSubqueries != 0 {
		r.failed = resp.Result.Extra.FailedSubqueries
	}
	return r
}

// call sends req from both apps and fails unless both answer the same
// bytes and failed_subqueries; it returns the UDP app's result.
func (a *twoApps) call(t *testing.T, what string, req *rpcclient.Request) callResult {
	t.Helper()
	u, c := a.one(a.udp, req), a.one(a.tcp, req)
	if !bytes.Equal(u.body, c.body) || u.failed != c.failed || fmt.Sprint(u.err) != fmt.Sprint(c.err) {
		t.Fatalf("%s: UDP app got %x (failed %d, %v)\nTCP app got %x (failed %d, %v)", what, u.body, u.failed, u.err, c.body, c.failed, c.err)
	}
	return u
}

// ok is call that fails on an error answer.
func (a *twoApps) ok(t *testing.T, what string, req *rpcclient.Request) callResult {
	t.Helper()
	r := a.call(t, what, req)
	if r.err != nil {
		t.Fatalf("%s: %v", what, r.err)
	}
	return r
}

// partialHeader is a header chain (no custom_timeout_ms, so the cluster's
// timeout applies) with the actor and return_failed_subqueries.
func partialHeader(actor int64) []byte {
	return rpc.AppendInvokeReqHeader(nil, &rpc.InvokeReq{ActorID: actor, Extra: rpc.InvokeReqExtra{Flags: rpc.FlagReturnFailedSubqueries}})[8:]
}

// TestUDPFanout: fan-out over UDP works as over TCP. Memcache (4 shards)
// and events (4 shards) reach their engines over UDP; an app over UDP and
// one over TCP get the same bytes: getMulti in key order (equal to one
// store holding every key and to the same cluster over TCP engines, each
// UDP engine sent one sub-request with exactly its keys), sorted
// events.search and summed events.count equal to one store, a diagonal
// with one Maybe per shard. Then one UDP engine is killed: partial
// getMulti answers the other shards' keys and memcache.not_found for its
// keys with failed_subqueries = 1 while it times out and after it is down;
// on_error = "fail" then answers NO_CONNECTIONS naming it.
func TestUDPFanout(t *testing.T) {
	allMC, allEv := newMemcache(t), newEvents(t)
	var mcUDP, evUDP [4]*udpEngine
	var mcLog, evLog [4]*callLog
	var mcTCP [4]string
	for i := range 4 {
		mcUDP[i], mcLog[i] = startUDPStore(t, newMemcache(t).Funcs())
		evUDP[i], evLog[i] = startUDPStore(t, newEvents(t).Funcs())
		mcTCP[i] = storeEngine(t, newMemcache(t).Funcs()).Addr
	}
	shards := func(a [4]string) string {
		return fmt.Sprintf("shards = [{ replicas = [%q] }, { replicas = [%q] }, { replicas = [%q] }, { replicas = [%q] }]\n", a[0], a[1], a[2], a[3])
	}
	addrs := func(es [4]*udpEngine) (a [4]string) {
		for i, e := range es {
			a[i] = e.addr
		}
		return a
	}
	// One timeout kills nothing: two in a row mark the engine down, and
	// no probe brings it back during the test.
	const udpHealth = `
[cluster.health]
consecutive_timeouts = 2
probe_interval = "1h"
probe_max_interval = "1h"
`
	cfg := parseConfig(t, fmt.Sprintf(`[proxy]
listen = %q
timeout = "1s"
schemas = [%q, %q]
key_file = %q

[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "hash"
transport = "udp"
`, mainListen, memcacheTL, eventsTL, udpKeyFile(t))+shards(addrs(mcUDP))+udpHealth+`
[[cluster]]
name = "mcpartial"
actor_id = 5
sharding = "hash"
transport = "udp"
`+shards(addrs(mcUDP))+udpHealth+`
[[cluster.function]]
name = "memcache.getMulti"
on_error = "partial"
missing = "memcache.not_found"

[[cluster]]
name = "mctcp"
actor_id = 6
sharding = "hash"
`+shards(mcTCP)+`
[[cluster]]
name = "events"
functions = ["events.*"]
sharding = "hash"
transport = "udp"
`+shards(addrs(evUDP))+eventsRules())
	p := startProxy(t, cfg, Options{NoAdmin: true})
	ua := p.UDPAddr(netip.MustParseAddrPort(mainListen))
	if ua == nil {
		t.Fatal("no UDP listener")
	}
	a := newTwoApps(t, ua.String())

	// Three keys per shard, stored through the proxy over UDP engines and
	// over TCP engines, and in one store.
	var keys [4][]string
	for s := range 4 {
		keys[s] = keysFor(t, p, "mc", s, 3)
		for _, k := range keys[s] {
			set := mcSet(k, "value of "+k)
			a.ok(t, "set "+k, &rpcclient.Request{Body: set})
			a.ok(t, "set over TCP engines "+k, &rpcclient.Request{ActorID: 6, Body: set})
			if _, err := runFuncs(allMC.Funcs(), set); err != nil {
				t.Fatal(err)
			}
		}
	}
	query := []string{keys[3][0], keys[0][0], "absent", keys[2][1], keys[1][0], keys[3][0], keys[0][2], keys[2][0], keys[1][2], "nope"}
	getMulti := mcGetMulti(query...)
	want, err := runFuncs(allMC.Funcs(), getMulti)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Table().Cluster("mc")
	before := make([]int, 4)
	for i, l := range mcLog {
		before[i] = l.len()
	}
	if got := a.ok(t, "getMulti", &rpcclient.Request{Body: getMulti}).body; !bytes.Equal(got, want) {
		t.Fatalf("getMulti over UDP engines\n%x\nwant (one store)\n%x", got, want)
	}
	for i, l := range mcLog {
		// Each app's getMulti gave shard i one sub-request with its keys.
		var wantKeys []string
		for _, k := range query {
			if s, _ := c.Picker.Pick([]byte(k)); s == i {
				wantKeys = append(wantKeys, k)
			}
		}
		var plan []string
		for _, b := range l.since(before[i], memcache.TagGetMulti) {
			plan = append(plan, fmt.Sprint(getMultiKeys(t, b)))
		}
		if wantPlan := []string{fmt.Sprint(wantKeys), fmt.Sprint(wantKeys)}; !slices.Equal(plan, wantPlan) {
			t.Errorf("UDP engine %d got getMulti %q, want %q (one per app)", i, plan, wantPlan)
		}
	}
	if got := a.ok(t, "getMulti over TCP engines", &rpcclient.Request{ActorID: 6, Body: getMulti}).body; !bytes.Equal(got, want) {
		t.Fatalf("getMulti over TCP engines\n%x\nwant\n%x", got, want)
	}

	// A diagonal: one Maybe per shard, the owner's value, not_found elsewhere.
	k := keys[2][1]
	get := tl.AppendString(tl.AppendUint32(nil, memcache.TagGet), k)
	var maybes [][]byte
	for s := range 4 {
		v := tl.AppendUint32(nil, memcache.TagNotFound)
		if s == 2 {
			v = strValue("value of " + k)
		}
		maybes = append(maybes, append(tl.AppendUint32(nil, tl.TagMaybeTrue), v...))
	}
	diag := append(tl.AppendUint32(nil, rpc.TagProxyDiagonal), get...)
	if got := a.ok(t, "diagonal", &rpcclient.Request{Body: diag}).body; !bytes.Equal(got, vectorOf(maybes...)) {
		t.Fatalf("diagonal\n%x\nwant\n%x", got, vectorOf(maybes...))
	}

	// Merges: events on every shard, added through the proxy.
	texts := []string{"red apple", "green apple", "red car", "blue car", "red", "apple pie", "green", "pie", "green car", "yellow"}
	var evKeys [4][]string
	for s := range 4 {
		evKeys[s] = keysFor(t, p, "events", s, 3)
	}
	for i, text := range texts {
		add := tl.AppendString(tl.AppendInt64(tl.AppendString(tl.AppendUint32(nil, events.TagAdd), evKeys[i%4][i/4]), int64(1000+37*((i*5)%11))), text)
		// One app only: the two would add every event twice.
		var resp rpcclient.Response
		if err := a.udp.Do(a.ctx, &rpcclient.Request{Body: add}, &resp); err != nil {
			t.Fatalf("events.add %q: %v", text, err)
		}
		if _, err := runFuncs(allEv.Funcs(), add); err != nil {
			t.Fatal(err)
		}
	}
	for i, l := range evLog {
		if len(l.since(0, events.TagAdd)) == 0 {
			t.Fatalf("UDP events engine %d holds no event: nothing would be merged", i)
		}
	}
	search := func(q string, limit int32) []byte { return tl.AppendInt32(evQuery(events.TagSearch, q), limit) }
	merges := []struct {
		name string
		call []byte
	}{
		{"sorted", search("apple", 10)},
		{"sorted limit", search("", 3)},
		{"sum", evQuery(events.TagCount, "red")},
	}
	for _, tc := range merges {
		got := a.ok(t, tc.name, &rpcclient.Request{Body: tc.call}).body
		want, err := runFuncs(allEv.Funcs(), tc.call)
		if err != nil {
			t.Fatal(err)
		}
		if tc.name == "sum" {
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: merged %x, want %x", tc.name, got, want)
			}
			continue
		}
		if g, w := eventText(t, got), eventText(t, want); !slices.Equal(g, w) {
			t.Fatalf("%s: merged %q\nwant   %q", tc.name, g, w)
		}
	}

	// Kill shard 2's UDP engine: its sub-requests time out until two in a
	// row mark it down, then fail at once; partial answers the same all along.
	const dead = 2
	mcUDP[dead].stop()
	var wantVec [][]byte
	for _, k := range query {
		if s, _ := c.Picker.Pick([]byte(k)); s == dead {
			wantVec = append(wantVec, tl.AppendUint32(nil, memcache.TagNotFound))
			continue
		}
		v, err := runFuncs(allMC.Funcs(), tl.AppendString(tl.AppendUint32(nil, memcache.TagGet), k))
		if err != nil {
			t.Fatal(err)
		}
		wantVec = append(wantVec, v)
	}
	partial := &rpcclient.Request{Header: partialHeader(5), Body: getMulti}
	check := func(what string, r callResult) {
		t.Helper()
		if r.err != nil || !bytes.Equal(r.body, vectorOf(wantVec...)) || r.failed != 1 {
			t.Fatalf("%s: %x failed_subqueries %d (%v)\nwant %x failed_subqueries 1", what, r.body, r.failed, r.err, vectorOf(wantVec...))
		}
	}
	e := p.Table().Cluster("mcpartial").Shards[dead].Replicas[0]
	n := 0
	for ; e.Health().State() != health.StateDown; n++ {
		if n >= 10 {
			t.Fatalf("killed engine still %v after %d partial getMulti", e.Health().State(), n)
		}
		check(fmt.Sprintf("partial getMulti %d, engine %s killed", n, e.Addr()), a.one(a.udp, partial))
	}
	if n < 2 {
		t.Fatalf("killed engine down after %d partial getMulti, want its 2 consecutive timeouts first", n)
	}
	check("partial getMulti, engine down", a.call(t, "partial getMulti, engine down", partial))
	r := a.call(t, "getMulti fail, engine down", &rpcclient.Request{Body: getMulti})
	var re *rpc.Error
	if !errors.As(r.err, &re) || re.Code != rpc.CodeNoConnections || !strings.Contains(re.Description, mcUDP[dead].addr) {
		t.Fatalf("getMulti (on_error = fail), engine down: %v; want NO_CONNECTIONS naming %s", r.err, mcUDP[dead].addr)
	}
}

// TestUDPCoalescedGetMulti: split getMultis marked coalesce over UDP
// engines, one at a time and from several apps at once. One at a time,
// every joined call has one part and leaves on its own (sub.send), and a
// UDP engine may answer before Send has returned: the sub-call, and its
// request, may be finished and recycled by then, so nothing of them may
// be touched after a successful Send (the proxy once read the cluster's
// counters through the recycled request there, and crashed). Every
// answer equals one store holding every key.
func TestUDPCoalescedGetMulti(t *testing.T) {
	all := newMemcache(t)
	var addrs [4]string
	for i := range addrs {
		e, _ := startUDPStore(t, newMemcache(t).Funcs())
		addrs[i] = e.addr
	}
	cfg := parseConfig(t, fmt.Sprintf(`[proxy]
listen = %q
timeout = "5s"
schemas = [%q]
key_file = %q

[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "hash"
transport = "udp"
shards = [{ replicas = [%q] }, { replicas = [%q] }, { replicas = [%q] }, { replicas = [%q] }]
[[cluster.function]]
name = "memcache.getMulti"
key = "keys"
coalesce = true
`, mainListen, memcacheTL, udpKeyFile(t), addrs[0], addrs[1], addrs[2], addrs[3]))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	addr := p.addr(t, mainListen)
	var keys []string
	for i := range 40 {
		k := fmt.Sprintf("co:%d", i)
		keys = append(keys, k)
		set := mcSet(k, "value of "+k)
		if res := dialApp(t, addr).call(t, &rpc.InvokeReq{QueryID: 1, Body: set}); res.IsError() {
			t.Fatalf("set %s: %s", k, res.ErrorText)
		}
		if _, err := runFuncs(all.Funcs(), set); err != nil {
			t.Fatal(err)
		}
	}
	getMulti := func(i int) []byte {
		q := make([]string, 10)
		for j := range q {
			q[j] = keys[(i*7+j*3)%len(keys)]
		}
		return mcGetMulti(q...)
	}
	check := func(a *app, i int) error {
		body := getMulti(i)
		want, err := runFuncs(all.Funcs(), body)
		if err != nil {
			return err
		}
		res := a.call(t, &rpc.InvokeReq{QueryID: int64(i + 1), Body: body})
		if res.IsError() || !bytes.Equal(res.Body, want) {
			return fmt.Errorf("getMulti %d: error %d %s, body\n%x\nwant\n%x", i, res.ErrorCode, res.ErrorText, res.Body, want)
		}
		return nil
	}
	one := dialApp(t, addr)
	for i := range 200 {
		if err := check(one, i); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		a := dialApp(t, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				if err := check(a, w*100+i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := p.Table().Cluster("mc").Stats.SubSent.Load(); n == 0 {
		t.Error("no sub-request counted as sent")
	}
}

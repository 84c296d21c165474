package rpcproxy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/engines"
	engclock "github.com/rpcproxy/rpcproxy/engines/enginetest"
	"github.com/rpcproxy/rpcproxy/engines/events"
	"github.com/rpcproxy/rpcproxy/engines/memcache"
	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/sharding"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// These tests run fan-out through a whole proxy: 4 engines serving real
// in-memory stores (engines/memcache, engines/events) over the fake
// engine's packet server, one engine down and one that never answers,
// answers compared with one store holding every key or event.

const eventsTL = "../engines/events/events.tl"

var t0 = time.UnixMilli(1_700_000_000_000)

func fanoutHeader(timeout string) string {
	return fmt.Sprintf("[proxy]\nlisten = %q\nadmin = %q\ntimeout = %q\nschemas = [%q, %q]\n", mainListen, adminListen, timeout, memcacheTL, eventsTL)
}

// storeEngine starts a fake engine that answers with funcs (a store's).
func storeEngine(t *testing.T, funcs []engines.Func) *enginetest.Server {
	t.Helper()
	e := startEngines(t, 1)[0]
	e.Handler = func(r *enginetest.Request) enginetest.Reply {
		if r.Function() == enginetest.TagEnginePid {
			return enginetest.Reply{}
		}
		out, err := runFuncs(funcs, r.Req.Body)
		if err != nil {
			if re, ok := err.(*rpc.Error); ok {
				return enginetest.Reply{ErrCode: re.Code, ErrText: re.Description}
			}
			return enginetest.Reply{ErrCode: rpc.CodeSyntax, ErrText: err.Error()}
		}
		return enginetest.Reply{Result: out}
	}
	return e
}

func runFuncs(funcs []engines.Func, call []byte) ([]byte, error) {
	return callFuncs(funcs, call, make([]byte, 0, 64))
}

// callFuncs answers call into dst with the function of funcs its tag
// names, as an engine does; finding it allocates nothing.
func callFuncs(funcs []engines.Func, call, dst []byte) ([]byte, error) {
	tag, args, err := tl.ReadUint32(call)
	if err != nil {
		return nil, err
	}
	for _, f := range funcs {
		if f.Tag == tag {
			return f.Call(args, dst)
		}
	}
	return nil, &rpc.Error{Code: rpc.CodeUnknownFunctionID, Description: fmt.Sprintf("no function %08x", tag)}
}

func newMemcache(t *testing.T) *memcache.Store {
	t.Helper()
	s, err := memcache.New(memcache.Config{Clock: engclock.NewClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func newEvents(t *testing.T) *events.Store {
	t.Helper()
	s, err := events.New(events.Config{Clock: engclock.NewClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mcSet(key, value string) []byte {
	b := tl.AppendString(tl.AppendUint32(nil, memcache.TagSet), key)
	b = tl.AppendInt32(tl.AppendInt32(b, 0), 0)
	return tl.AppendString(b, value)
}

func mcGetMulti(keys ...string) []byte {
	b := tl.AppendUint32(tl.AppendUint32(nil, memcache.TagGetMulti), uint32(len(keys)))
	for _, k := range keys {
		b = tl.AppendString(b, k)
	}
	return b
}

func strValue(v string) []byte {
	return tl.AppendInt32(tl.AppendString(tl.AppendUint32(nil, memcache.TagStrValue), v), 0)
}

func vectorOf(els ...[]byte) []byte {
	b := tl.AppendUint32(tl.AppendUint32(nil, tl.TagVector), uint32(len(els)))
	for _, e := range els {
		b = append(b, e...)
	}
	return b
}

// getMultiKeys decodes the keys of a getMulti call an engine received.
func getMultiKeys(t *testing.T, body []byte) []string {
	t.Helper()
	r, err := tl.ExpectTag(body, memcache.TagGetMulti)
	if err != nil {
		t.Fatal(err)
	}
	n, r, err := tl.ReadUint32(r)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for range n {
		var k string
		if k, r, err = tl.ReadString(r); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

func mustOK(t *testing.T, res rpc.ReqResult) []byte {
	t.Helper()
	if res.IsError() {
		t.Fatalf("error %d %s", res.ErrorCode, res.ErrorText)
	}
	return res.Body
}

// memcacheShards starts 4 engines serving memcache stores and returns a
// config with one cluster "mc" over them, placed by placement (TOML).
func memcacheShards(t *testing.T, placement string) (*configs.Config, []*enginetest.Server) {
	t.Helper()
	var eng []*enginetest.Server
	for range 4 {
		eng = append(eng, storeEngine(t, newMemcache(t).Funcs()))
	}
	return parseConfig(t, fanoutHeader("2s")+fmt.Sprintf(`
[[cluster]]
name = "mc"
functions = ["memcache.*"]
%s
shards = [{ replicas = [%q] }, { replicas = [%q] }, { replicas = [%q] }, { replicas = [%q] }]
`, placement, eng[0].Addr, eng[1].Addr, eng[2].Addr, eng[3].Addr)), eng
}

// TestFanoutGetMultiOrder: a getMulti over 4 shards sends each engine one
// sub-request with exactly its keys (in request order), and answers every
// key in the request's order, byte-equal to one engine holding every key.
func TestFanoutGetMultiOrder(t *testing.T) {
	all := newMemcache(t)
	cfg, eng := memcacheShards(t, `sharding = "hash"`)
	p := startProxy(t, cfg, Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, mainListen))
	qid := int64(0)
	call := func(body []byte, extra rpc.InvokeReqExtra) rpc.ReqResult {
		qid++
		return a.call(t, &rpc.InvokeReq{QueryID: qid, Body: body, Extra: extra})
	}
	for i := range 30 {
		k := fmt.Sprintf("photo%d", i)
		mustOK(t, call(mcSet(k, "value of "+k), rpc.InvokeReqExtra{}))
		if _, err := runFuncs(all.Funcs(), mcSet(k, "value of "+k)); err != nil {
			t.Fatal(err)
		}
	}
	before := make([]int, 4)
	for i, e := range eng {
		before[i] = len(e.Invokes())
	}
	keys := []string{"photo17", "photo3", "nope", "photo29", "photo3", "photo0", "photo11", "photo22", "x", "photo8"}
	got := mustOK(t, call(mcGetMulti(keys...), rpc.InvokeReqExtra{}))
	want, _ := runFuncs(all.Funcs(), mcGetMulti(keys...))
	if !bytes.Equal(got, want) {
		t.Fatalf("getMulti through the proxy\n%x\nwant (one engine)\n%x", got, want)
	}
	// The whole plan: shard i got one getMulti with its keys, in order.
	c := p.Table().Cluster("mc")
	for i, e := range eng {
		var wantKeys []string
		for _, k := range keys {
			if s, _ := c.Picker.Pick([]byte(k)); s == i {
				wantKeys = append(wantKeys, k)
			}
		}
		var gotPlan [][]string
		for _, r := range e.Invokes()[before[i]:] {
			gotPlan = append(gotPlan, getMultiKeys(t, r.Req.Body))
		}
		var wantPlan [][]string
		if wantKeys != nil {
			wantPlan = [][]string{wantKeys}
		}
		if fmt.Sprint(gotPlan) != fmt.Sprint(wantPlan) {
			t.Errorf("shard %d got %q, want %q", i, gotPlan, wantPlan)
		}
	}
	// Forward keys win: the whole call goes to the one shard they name.
	sk, _ := c.Picker.Pick([]byte("photo3"))
	n := len(eng[sk].Invokes())
	mustOK(t, call(mcGetMulti("photo3", "photo0"), rpc.InvokeReqExtra{Flags: rpc.FlagStringForward, StringForward: []byte("photo3")}))
	inv := eng[sk].Invokes()
	if len(inv) != n+1 || fmt.Sprint(getMultiKeys(t, inv[n].Req.Body)) != "[photo3 photo0]" {
		t.Fatalf("forward key: shard %d did not get the whole call alone", sk)
	}
}

// TestFanoutHashTag: with hash_tag = "{}", keys that share a tag share a
// shard, so a getMulti of them reaches one engine in one sub-request, the
// engine a single get of any of them reaches; an untagged key is placed
// whole.
func TestFanoutHashTag(t *testing.T) {
	cfg, eng := memcacheShards(t, "sharding = \"ketama\"\nhash_tag = \"{}\"")
	p := startProxy(t, cfg, Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, mainListen))
	c := p.Table().Cluster("mc")
	spec := cfg.Clusters[0].Spec()
	spec.HashTag = ""
	plain, err := sharding.NewPicker(spec)
	if err != nil {
		t.Fatal(err)
	}
	var tag string // a tag whose shard differs from its keys' whole-key shards, so placement by tag shows
	for i := 0; tag == ""; i++ {
		if i == 1000 {
			t.Fatal("every tag in 0..999 lands where its keys land whole: nothing would show placement by tag")
		}
		s, _ := c.Picker.Pick([]byte(strconv.Itoa(i)))
		w1, _ := plain.Pick([]byte(fmt.Sprintf("user:{%d}:photos", i)))
		w2, _ := plain.Pick([]byte(fmt.Sprintf("user:{%d}:likes", i)))
		if w1 != s || w2 != s {
			tag = strconv.Itoa(i)
		}
	}
	want, _ := c.Picker.Pick([]byte(tag))
	keys := []string{"user:{" + tag + "}:photos", "user:{" + tag + "}:likes", "user:{" + tag + "}:friends"}
	for i, k := range keys {
		mustOK(t, a.call(t, &rpc.InvokeReq{QueryID: int64(i + 1), Body: mcSet(k, "value of "+k)}))
	}
	before := make([]int, 4)
	for i, e := range eng {
		before[i] = len(e.Invokes())
		if i != want && before[i] != 0 {
			t.Fatalf("shard %d got %d sets, want all on shard %d (the tag's)", i, before[i], want)
		}
	}
	got := mustOK(t, a.call(t, &rpc.InvokeReq{QueryID: 10, Body: mcGetMulti(keys...)}))
	if w := vectorOf(strValue("value of "+keys[0]), strValue("value of "+keys[1]), strValue("value of "+keys[2])); !bytes.Equal(got, w) {
		t.Fatalf("getMulti: %x, want %x", got, w)
	}
	for i, e := range eng {
		var plan [][]string
		for _, r := range e.Invokes()[before[i]:] {
			plan = append(plan, getMultiKeys(t, r.Req.Body))
		}
		wantPlan := "[]"
		if i == want {
			wantPlan = fmt.Sprint([][]string{keys})
		}
		if fmt.Sprint(plan) != wantPlan {
			t.Errorf("shard %d got %q, want %s", i, plan, wantPlan)
		}
	}
}

// eventText renders an events answer (Vector or Maybe events.Event)
// without ids: they differ between the shards and the reference store.
func eventText(t *testing.T, resp []byte) []string {
	t.Helper()
	evs, err := events.ReadAnswer(resp)
	if err != nil {
		t.Fatalf("answer %x: %v", resp, err)
	}
	if tag, _, _ := tl.ReadUint32(resp); tag == tl.TagMaybeFalse {
		return []string{"nothing"}
	}
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%d %s %q", e.TS, e.Key, e.Text))
	}
	return out
}

func eventsRules() string {
	var b strings.Builder
	for _, m := range events.Merges() {
		fmt.Fprintf(&b, "[[cluster.function]]\nname = %q\nmerge = %q\n", m.Function, m.Strategy)
		if m.Strategy == "sorted" {
			fmt.Fprintf(&b, "sort_field = %q\ndescending = %v\nlimit_arg = %q\n", m.Field, m.Descending, m.LimitArg)
		}
	}
	return b.String()
}

func evQuery(tag uint32, q string) []byte { return tl.AppendString(tl.AppendUint32(nil, tag), q) }

// TestFanoutMergesEqualOneEngine: every merge strategy of events.tl,
// through the proxy over 4 shards, answers what one engine holding every
// event answers (ids aside; concat as a set, since it keeps shard order).
func TestFanoutMergesEqualOneEngine(t *testing.T) {
	all := newEvents(t)
	var eng []*enginetest.Server
	for range 4 {
		eng = append(eng, storeEngine(t, newEvents(t).Funcs()))
	}
	cfg := parseConfig(t, fanoutHeader("2s")+fmt.Sprintf(`
[[cluster]]
name = "events"
functions = ["events.*"]
sharding = "hash"
shards = [{ replicas = [%q] }, { replicas = [%q] }, { replicas = [%q] }, { replicas = [%q] }]
%s`, eng[0].Addr, eng[1].Addr, eng[2].Addr, eng[3].Addr, eventsRules()))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, mainListen))
	qid := int64(0)
	call := func(body []byte, extra rpc.InvokeReqExtra) rpc.ReqResult {
		qid++
		return a.call(t, &rpc.InvokeReq{QueryID: qid, Body: body, Extra: extra})
	}
	texts := []string{"red apple", "green apple", "red car", "blue car", "red", "apple pie", "green", "pie", "green car", "yellow"}
	var keys [4][]string
	for s := range 4 {
		keys[s] = keysFor(t, p, "events", s, 3)
	}
	for i, text := range texts {
		key := keys[i%4][i/4]
		add := tl.AppendString(tl.AppendInt64(tl.AppendString(tl.AppendUint32(nil, events.TagAdd), key), int64(1000+37*((i*5)%11))), text)
		mustOK(t, call(add, rpc.InvokeReqExtra{})) // routed by key
		if _, err := runFuncs(all.Funcs(), add); err != nil {
			t.Fatal(err)
		}
	}
	for i, e := range eng {
		if len(e.Invokes()) == 0 {
			t.Fatalf("shard %d holds no event: the test would not merge", i)
		}
	}
	search := func(q string, limit int32) []byte { return tl.AppendInt32(evQuery(events.TagSearch, q), limit) }
	tests := []struct {
		name string
		call []byte
	}{
		{"sorted", search("apple", 10)},
		{"sorted limit", search("", 3)},
		{"sorted default limit", search("", 0)},
		{"concat", tl.AppendInt32(tl.AppendUint32(nil, events.TagListAll), 0)},
		{"sum", evQuery(events.TagCount, "red")},
		{"sum long", evQuery(events.TagTextBytes, "")},
		{"min", evQuery(events.TagMinTs, "car")},
		{"min none", evQuery(events.TagMinTs, "zzz")},
		{"max", evQuery(events.TagMaxTs, "apple")},
		{"or", evQuery(events.TagHas, "blue")},
		{"or false", evQuery(events.TagHas, "zzz")},
		{"and", evQuery(events.TagAllMatch, "")},
		{"and false", evQuery(events.TagAllMatch, "e")},
		{"first", evQuery(events.TagFirstMatch, "yellow")},
		{"first none", evQuery(events.TagFirstMatch, "zzz")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mustOK(t, call(tc.call, rpc.InvokeReqExtra{}))
			want, err := runFuncs(all.Funcs(), tc.call)
			if err != nil {
				t.Fatal(err)
			}
			switch tag := binary.LittleEndian.Uint32(want); {
			case tc.name == "concat":
				g, w := eventText(t, got), eventText(t, want)
				slices.Sort(g)
				slices.Sort(w)
				if !slices.Equal(g, w) {
					t.Fatalf("merged %q\nwant   %q", g, w)
				}
			case tag == tl.TagVector || tag == tl.TagMaybeTrue || tag == tl.TagMaybeFalse:
				if g, w := eventText(t, got), eventText(t, want); !slices.Equal(g, w) {
					t.Fatalf("merged %q\nwant   %q", g, w)
				}
			default:
				if !bytes.Equal(got, want) {
					t.Fatalf("merged %x, want %x", got, want)
				}
			}
		})
	}
}

// faultCluster is 4 shards: 0 and 1 serve stores, 2 is down (nothing
// listens), 3 holds every request (never answers before the deadline).
func faultCluster(t *testing.T, funcs0, funcs1 []engines.Func) (addrs [4]string, slow *enginetest.Server) {
	t.Helper()
	addrs[0] = storeEngine(t, funcs0).Addr
	addrs[1] = storeEngine(t, funcs1).Addr
	addrs[2] = deadAddr(t)
	slow = startEngines(t, 1)[0]
	slow.Handler = func(r *enginetest.Request) enginetest.Reply {
		if r.Function() == enginetest.TagEnginePid {
			return enginetest.Reply{}
		}
		return enginetest.Reply{Hold: true}
	}
	addrs[3] = slow.Addr
	return addrs, slow
}

const faultHealth = `
[cluster.health]
probe_interval = "1h"
probe_max_interval = "1h"
max_down_share = 1.0
`

// TestFanoutFaults: with one shard down and one silent, a split getMulti
// and merges fail with the first failed shard's error (fail) or answer
// from the shards that answered with failed_subqueries (partial); a
// diagonal answers Nothing for both; the down engine is never dialled.
func TestFanoutFaults(t *testing.T) {
	mc0, mc1 := newMemcache(t), newMemcache(t)
	ev0, ev1 := newEvents(t), newEvents(t)
	mcAddrs, _ := faultCluster(t, mc0.Funcs(), mc1.Funcs())
	evAddrs, _ := faultCluster(t, ev0.Funcs(), ev1.Funcs())
	shards := func(a [4]string) string {
		return fmt.Sprintf("shards = [{ replicas = [%q] }, { replicas = [%q] }, { replicas = [%q] }, { replicas = [%q] }]", a[0], a[1], a[2], a[3])
	}
	cfg := parseConfig(t, fanoutHeader("300ms")+`
[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "hash"
`+shards(mcAddrs)+faultHealth+`
[[cluster]]
name = "mcpartial"
actor_id = 5
sharding = "hash"
`+shards(mcAddrs)+faultHealth+`
[[cluster.function]]
name = "memcache.getMulti"
on_error = "partial"
missing = "memcache.not_found"

[[cluster]]
name = "events"
functions = ["events.*"]
sharding = "hash"
`+shards(evAddrs)+faultHealth+`
[[cluster.function]]
name = "events.count"
merge = "sum"
on_error = "partial"
[[cluster.function]]
name = "events.has"
merge = "or"
`)
	p := startProxy(t, cfg, Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, mainListen))
	// Keys: two per shard, values stored directly in the two live stores.
	var keys []string
	want := map[string][]byte{}
	for s := range 4 {
		for _, k := range keysFor(t, p, "mc", s, 2) {
			keys = append(keys, k)
			want[k] = tl.AppendUint32(nil, memcache.TagNotFound)
			if s < 2 {
				if _, err := runFuncs([]*memcache.Store{mc0, mc1}[s].Funcs(), mcSet(k, "v"+k)); err != nil {
					t.Fatal(err)
				}
				want[k] = strValue("v" + k)
			}
		}
	}
	slices.Reverse(keys) // request order differs from shard order
	var wantVec [][]byte
	for _, k := range keys {
		wantVec = append(wantVec, want[k])
	}
	for _, st := range []*events.Store{ev0, ev1} {
		for i := range 3 {
			add := tl.AppendString(tl.AppendInt64(tl.AppendString(tl.AppendUint32(nil, events.TagAdd), "k"), int64(10+i)), "red")
			if _, err := runFuncs(st.Funcs(), add); err != nil {
				t.Fatal(err)
			}
		}
	}
	dead := mcAddrs[2]
	dialsBefore := p.dials.count(dead)
	askFailed := rpc.InvokeReqExtra{Flags: rpc.FlagReturnFailedSubqueries}
	diag := func(inner []byte) []byte { return append(tl.AppendUint32(nil, rpc.TagProxyDiagonal), inner...) }
	get := func(k string) []byte { return tl.AppendString(tl.AppendUint32(nil, memcache.TagGet), k) }
	mk := func(els ...[]byte) []byte { return vectorOf(els...) }
	maybe := func(b []byte) []byte { return append(tl.AppendUint32(nil, tl.TagMaybeTrue), b...) }
	nothing := tl.AppendUint32(nil, tl.TagMaybeFalse)
	tests := []struct {
		name       string
		actor      int64
		body       []byte
		extra      rpc.InvokeReqExtra
		wantCode   int32
		wantErr    string
		want       []byte
		wantFailed int32 // -1: no result extra expected
	}{
		{"getMulti fail: the down shard's error", 0, mcGetMulti(keys...), rpc.InvokeReqExtra{}, rpc.CodeNoConnections, "engine " + dead, nil, -1},
		{"getMulti partial: missing keys, in order", 5, mcGetMulti(keys...), askFailed, 0, "", vectorOf(wantVec...), 2},
		{"getMulti partial without asking: no extra", 5, mcGetMulti(keys...), rpc.InvokeReqExtra{}, 0, "", vectorOf(wantVec...), -1},
		{"getMulti of live shards only: nothing failed", 5, mcGetMulti(keys[4:]...), askFailed, 0, "", vectorOf(wantVec[4:]...), 0},
		{"diagonal: Nothing for down and silent", 0, diag(get(keys[7])), askFailed, 0, "",
			mk(maybe(want[keys[7]]), maybe(tl.AppendUint32(nil, memcache.TagNotFound)), nothing, nothing), 2},
		{"merge sum partial", 0, evQuery(events.TagCount, "red"), askFailed, 0, "", tl.AppendInt32(tl.AppendUint32(nil, tl.TagInt), 6), 2},
		{"merge or fail", 0, evQuery(events.TagHas, "red"), rpc.InvokeReqExtra{}, rpc.CodeNoConnections, "is down", nil, -1},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := a.call(t, &rpc.InvokeReq{QueryID: int64(i + 1), ActorID: tc.actor, Body: tc.body, Extra: tc.extra})
			if tc.wantCode != 0 {
				wantError(t, res, tc.wantCode, tc.wantErr)
				return
			}
			if got := mustOK(t, res); !bytes.Equal(got, tc.want) {
				t.Fatalf("answer\n%x\nwant\n%x", got, tc.want)
			}
			switch {
			case tc.wantFailed < 0 && res.HasExtra:
				t.Fatalf("unexpected result extra %+v", res.Extra)
			case tc.wantFailed >= 0 && (!res.HasExtra || res.Extra.Flags&rpc.ResultFlagFailedSubqueries == 0 || res.Extra.FailedSubqueries != tc.wantFailed):
				t.Fatalf("result extra %v %+v, want failed_subqueries %d", res.HasExtra, res.Extra, tc.wantFailed)
			}
		})
	}
	if n := p.dials.count(dead) - dialsBefore; n != 0 {
		t.Fatalf("%d dials to the down engine during fan-outs; want none (fail fast)", n)
	}
}

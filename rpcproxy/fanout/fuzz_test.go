package fanout

import (
	"bytes"
	"hash/fnv"
	"testing"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/engines/events"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// hashPlacer places keys by FNV-1a with a seed, for random shard maps.
type hashPlacer struct {
	n    int
	seed byte
}

func (p hashPlacer) Pick(key []byte) (int, error) {
	h := fnv.New32a()
	h.Write([]byte{p.seed})
	h.Write(key)
	return int(h.Sum32() % uint32(p.n)), nil
}

func (p hashPlacer) PickInt(key int64) int { return int(uint64(key) % uint64(p.n)) }

// FuzzSplitMerge splits a getMulti of random keys (data cut at zero
// bytes) over a random shard map, runs it on memcache engines where some
// keys are stored and one shard may be down, and checks the whole plan
// (each shard got exactly its keys, in order) and the answer (every key in
// order: its value, or not_found when absent or on the down shard).
func FuzzSplitMerge(f *testing.F) {
	f.Add([]byte("a\x00b\x00c\x00d\x00e"), uint8(4), uint8(0), uint8(0))
	f.Add([]byte("photo1\x00photo2\x00photo1\x00\x00x"), uint8(3), uint8(7), uint8(0x81))
	f.Add([]byte(""), uint8(1), uint8(0), uint8(0))
	fo, sc := newFanout(f)
	partial := compile(f, sc, configs.FunctionRule{Name: "memcache.getMulti", OnError: "partial", Missing: "memcache.not_found"}, "keys")
	failRule := compile(f, sc, configs.FunctionRule{Name: "memcache.getMulti"}, "keys")
	f.Fuzz(func(t *testing.T, data []byte, nshards, seed, faults uint8) {
		n := int(nshards%16) + 1
		keys := bytes.Split(data, []byte{0})
		if len(keys) > 64 {
			keys = keys[:64]
		}
		var ks []string
		for _, k := range keys {
			ks = append(ks, string(k[:min(len(k), 200)])) // memcache keys are at most 1 KiB
		}
		pl := hashPlacer{n: n, seed: seed}
		es, _ := memcacheShards(t, n)
		down := -1
		if faults&0x80 != 0 {
			down = int(faults) % n
			es[down].down = true
		}
		stored := map[string]bool{}
		for i, k := range ks {
			if (i+int(seed))%3 != 0 {
				s, _ := pl.Pick([]byte(k))
				mustRun(t, es[s].funcs, set(k, "v"+k))
				stored[k] = true
			}
		}
		rule := failRule
		if faults&1 != 0 {
			rule = partial
		}
		c := &cluster{t: t, w: fo.w, shards: es}
		out, failed, err := c.split(fo, rule, getMulti(ks...), pl)
		// The plan: shard order, each shard's keys in request order.
		var plan []string
		for s := range n {
			var mine []string
			for _, k := range ks {
				if p, _ := pl.Pick([]byte(k)); p == s {
					mine = append(mine, k)
				}
			}
			if len(mine) > 0 || (len(ks) == 0 && s == 0) {
				plan = append(plan, c.describe(getMulti(mine...)))
			}
		}
		if len(plan) != len(c.log) {
			t.Fatalf("plan %q, want %q", c.log, plan)
		}
		for i := range plan {
			if want := plan[i]; !bytes.HasSuffix([]byte(c.log[i]), []byte(want)) {
				t.Fatalf("plan %q, want %q", c.log, plan)
			}
		}
		downAsked := false
		for _, k := range ks {
			if s, _ := pl.Pick([]byte(k)); s == down {
				downAsked = true
			}
		}
		if len(ks) == 0 && down == 0 {
			downAsked = true
		}
		if downAsked && (failed != 1) {
			t.Fatalf("failed %d with shard %d down", failed, down)
		}
		if downAsked && (rule == failRule || len(c.log) == 1) {
			if err == nil || err.Code != rpc.CodeNoConnections {
				t.Fatalf("err %v, want NO_CONNECTIONS", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var want [][]byte
		for _, k := range ks {
			s, _ := pl.Pick([]byte(k))
			if stored[k] && s != down {
				want = append(want, strValue("v"+k))
			} else {
				want = append(want, notFound())
			}
		}
		if !bytes.Equal(out, vector(want...)) {
			t.Fatalf("answer %x\nwant %x", out, vector(want...))
		}
	})
}

// FuzzMerge merges random per-shard answers with every strategy: no panic,
// and a merged answer is always a valid answer to the call (malformed
// shard answers are failures, never passed on).
func FuzzMerge(f *testing.F) {
	f.Add(uint8(0), []byte{}, []byte{}, []byte{}, false)
	f.Add(uint8(6), vector(), vector(), []byte{0x15, 0xc4, 0xb5, 0x1c, 1, 0, 0, 0}, true)
	f.Add(uint8(2), []byte{0xba, 0x6c, 0x07, 0x22, 1, 0, 0, 0, 0, 0, 0, 0}, []byte{0xba, 0x6c, 0x07, 0x22, 2, 0, 0, 0, 0, 0, 0, 0}, []byte{1}, false)
	fo, sc := newFanout(f)
	type fn struct {
		rule *Rule
		call []byte
	}
	var fns []fn
	for _, m := range events.Merges() {
		for _, partial := range []bool{false, true} {
			r := configs.FunctionRule{Name: m.Function, Merge: m.Strategy, SortField: m.Field, Descending: m.Descending, LimitArg: m.LimitArg}
			if partial {
				r.OnError = "partial"
			}
			rule := compile(f, sc, r, "")
			call := queryCall(rule.Tag, "q")
			switch rule.Tag {
			case events.TagSearch:
				call = search("q", 3)
			case events.TagListAll:
				call = listAll(0)
			}
			fns = append(fns, fn{rule, call})
		}
	}
	split := compile(f, sc, configs.FunctionRule{Name: "memcache.getMulti", OnError: "partial", Missing: "memcache.not_found"}, "keys")
	f.Fuzz(func(t *testing.T, which uint8, a0, a1, a2 []byte, down bool) {
		bodies := [][]byte{a0, a1, a2}
		answers := make([]Answer, 3)
		for i, b := range bodies {
			answers[i] = Answer{Status: OK, Body: b}
		}
		if down {
			answers[1] = Answer{Status: Failed, Err: &rpc.Error{Code: rpc.CodeNoConnections}}
		}
		if int(which) == len(fns) {
			p, err := fo.Split(split, getMulti("a", "b", "c", "d"), hashPlacer{n: 3}, 3)
			if err != nil {
				t.Fatal(err)
			}
			defer fo.Release(p)
			for s := range answers {
				if p.Asked(s) {
					p.Answers[s] = answers[s]
				}
			}
			out, _, merr := fo.MergeSplit(nil, split, p)
			if merr == nil {
				if err := fo.w.CheckResult(getMulti("a", "b", "c", "d"), out); err != nil {
					t.Fatalf("merged split answer %x is invalid: %v", out, err)
				}
			}
			return
		}
		x := fns[int(which)%len(fns)]
		out, _, merr := fo.Merge(nil, x.rule, x.call, answers)
		if merr != nil {
			return
		}
		if err := fo.w.CheckResult(x.call, out); err != nil {
			t.Fatalf("%s merged %x into invalid %x: %v", x.rule.Strategy, bodies, out, err)
		}
	})
}

package fanout

import (
	"bytes"
	"slices"
	"testing"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// placer4 is the placement of every split test: 4 shards.
var placer4 = tablePlacer{n: 4, table: map[string]int{
	"a": 0, "b": 1, "c": 0, "d": 2, "e": 1, "f": 0, "g": 3, "h": 2,
}}

func TestSplitPlan(t *testing.T) {
	f, sc := newFanout(t)
	rule := compile(t, sc, configs.FunctionRule{Name: "memcache.getMulti"}, "keys")
	tests := []struct {
		name string
		keys []string
		plan []string // the whole fan-out: every sub-request in shard order
	}{
		{"spread", []string{"a", "b", "c", "d", "e"}, []string{
			"shard 0: memcache.getMulti [a c]",
			"shard 1: memcache.getMulti [b e]",
			"shard 2: memcache.getMulti [d]",
		}},
		{"one shard", []string{"g"}, []string{"shard 3: memcache.getMulti [g]"}},
		{"duplicates kept", []string{"a", "a", "g", "a"}, []string{
			"shard 0: memcache.getMulti [a a a]",
			"shard 3: memcache.getMulti [g]",
		}},
		{"every shard", []string{"h", "g", "f", "e"}, []string{
			"shard 0: memcache.getMulti [f]",
			"shard 1: memcache.getMulti [e]",
			"shard 2: memcache.getMulti [h]",
			"shard 3: memcache.getMulti [g]",
		}},
		{"no keys: shard 0 answers the empty vector", nil, []string{"shard 0: memcache.getMulti []"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es, _ := memcacheShards(t, 4)
			c := &cluster{t: t, w: f.w, shards: es}
			out, failed, err := c.split(f, rule, getMulti(tc.keys...), placer4)
			if err != nil || failed != 0 {
				t.Fatalf("failed %d, err %v", failed, err)
			}
			if !slices.Equal(c.log, tc.plan) {
				t.Fatalf("plan:\n%q\nwant:\n%q", c.log, tc.plan)
			}
			var want [][]byte
			for range tc.keys {
				want = append(want, notFound())
			}
			if !bytes.Equal(out, vector(want...)) {
				t.Fatalf("answer %x, want %x", out, vector(want...))
			}
		})
	}
}

// TestSplitOrder: values come back in the order of the request's keys,
// byte-equal to one engine holding every key.
func TestSplitOrder(t *testing.T) {
	f, sc := newFanout(t)
	rule := compile(t, sc, configs.FunctionRule{Name: "memcache.getMulti"}, "keys")
	es, _ := memcacheShards(t, 4)
	all, _ := memcacheShards(t, 1)
	keys := []string{"h", "a", "zz", "b", "g", "c", "missing", "d", "e", "f"}
	for _, k := range keys {
		if k == "missing" {
			continue
		}
		s, _ := placer4.Pick([]byte(k))
		mustRun(t, es[s].funcs, set(k, "value of "+k))
		mustRun(t, all[0].funcs, set(k, "value of "+k))
	}
	c := &cluster{t: t, w: f.w, shards: es}
	out, _, err := c.split(f, rule, getMulti(keys...), placer4)
	if err != nil {
		t.Fatal(err)
	}
	want := mustRun(t, all[0].funcs, getMulti(keys...))
	if !bytes.Equal(out, want) {
		t.Fatalf("split answer\n%x\nwant (one engine)\n%x", out, want)
	}
}

func TestSplitPartialFailure(t *testing.T) {
	f, sc := newFanout(t)
	engineErr := &rpc.Error{Code: -2004, Description: "value not in range"}
	tests := []struct {
		name       string
		rule       configs.FunctionRule
		down       []int
		errShard   int // -1: none
		wantCode   int32
		wantFailed int
		want       []string // per key: value or "" for not_found
	}{
		{"fail: down shard fails the request", configs.FunctionRule{Name: "memcache.getMulti"},
			[]int{2}, -1, rpc.CodeNoConnections, 1, nil},
		{"fail: first failed shard by shard order", configs.FunctionRule{Name: "memcache.getMulti"},
			[]int{2}, 1, -2004, 2, nil},
		{"partial: failed shards' keys are missing", configs.FunctionRule{Name: "memcache.getMulti", OnError: "partial", Missing: "memcache.not_found"},
			[]int{2}, 1, 0, 2, []string{"value of a", "", "value of c", "", "", "value of g"}},
		{"partial: every shard failed is the first error", configs.FunctionRule{Name: "memcache.getMulti", OnError: "partial", Missing: "memcache.not_found"},
			[]int{0, 1, 2, 3}, -1, rpc.CodeNoConnections, 4, nil},
		{"partial: nothing failed", configs.FunctionRule{Name: "memcache.getMulti", OnError: "partial", Missing: "memcache.not_found"},
			nil, -1, 0, 0, []string{"value of a", "value of b", "value of c", "value of d", "value of e", "value of g"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rule := compile(t, sc, tc.rule, "keys")
			es, _ := memcacheShards(t, 4)
			keys := []string{"a", "b", "c", "d", "e", "g"}
			for _, k := range keys {
				s, _ := placer4.Pick([]byte(k))
				mustRun(t, es[s].funcs, set(k, "value of "+k))
			}
			for _, s := range tc.down {
				es[s].down = true
			}
			if tc.errShard >= 0 {
				es[tc.errShard].err = engineErr
			}
			c := &cluster{t: t, w: f.w, shards: es}
			out, failed, err := c.split(f, rule, getMulti(keys...), placer4)
			if failed != tc.wantFailed {
				t.Errorf("failed %d, want %d", failed, tc.wantFailed)
			}
			if tc.wantCode != 0 {
				if err == nil || err.Code != tc.wantCode {
					t.Fatalf("err %v, want code %d", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want [][]byte
			for _, v := range tc.want {
				if v == "" {
					want = append(want, notFound())
				} else {
					want = append(want, strValue(v))
				}
			}
			if !bytes.Equal(out, vector(want...)) {
				t.Fatalf("answer %x\nwant %x", out, vector(want...))
			}
		})
	}
}

// TestSplitMalformedAnswer: an engine answering the wrong number of
// elements is a failed shard (PROXY_INVALID_RESPONSE), never misaligned.
func TestSplitMalformedAnswer(t *testing.T) {
	f, sc := newFanout(t)
	for _, partial := range []bool{false, true} {
		r := configs.FunctionRule{Name: "memcache.getMulti"}
		if partial {
			r.OnError, r.Missing = "partial", "memcache.not_found"
		}
		rule := compile(t, sc, r, "keys")
		p, err := f.Split(rule, getMulti("a", "b", "c"), placer4, 4)
		if err != nil {
			t.Fatal(err)
		}
		p.Answers[0] = Answer{Status: OK, Body: vector(strValue("x"))} // 1 element for a, c
		p.Answers[1] = Answer{Status: OK, Body: vector(strValue("y"))}
		out, failed, merr := f.MergeSplit(nil, rule, p)
		f.Release(p)
		switch {
		case failed != 1:
			t.Errorf("partial=%v: failed %d, want 1", partial, failed)
		case !partial && (merr == nil || merr.Code != rpc.CodeProxyInvalidResponse):
			t.Errorf("fail mode: err %v, want PROXY_INVALID_RESPONSE", merr)
		case partial && !bytes.Equal(out, vector(notFound(), strValue("y"), notFound())):
			t.Errorf("partial: %x", out)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	_, sc := newFanout(t)
	tests := []struct {
		name     string
		rule     configs.FunctionRule
		splitArg string
		want     string
	}{
		{"positional partial needs missing", configs.FunctionRule{Name: "memcache.getMulti", OnError: "partial"}, "keys", "needs missing"},
		{"missing with fields", configs.FunctionRule{Name: "memcache.getMulti", OnError: "partial", Missing: "memcache.strvalue"}, "keys", "has fields"},
		{"missing of another type", configs.FunctionRule{Name: "memcache.getMulti", OnError: "partial", Missing: "events.event"}, "keys", "not a constructor of memcache.Value"},
		{"dictionary align on a vector", configs.FunctionRule{Name: "memcache.getMulti", Align: "dictionary"}, "keys", "not a dictionary"},
		{"no vector key", configs.FunctionRule{Name: "memcache.get"}, "", "no vector key"},
		{"sum of a vector", configs.FunctionRule{Name: "events.search", Merge: "sum"}, "", "needs Int or Long"},
		{"and of a Long", configs.FunctionRule{Name: "events.minTs", Merge: "and"}, "", "needs Bool"},
		{"sorted by a missing field", configs.FunctionRule{Name: "events.search", Merge: "sorted", SortField: "when"}, "", `no field "when"`},
		{"sorted limit not an int", configs.FunctionRule{Name: "events.search", Merge: "sorted", SortField: "ts", LimitArg: "query"}, "", "not an unconditional int"},
		{"concat of a Long", configs.FunctionRule{Name: "events.minTs", Merge: "concat"}, "", "needs a vector"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.rule
			if r.OnError == "" {
				r.OnError = "fail"
			}
			_, err := Compile(sc.Function(r.Name), r, tc.splitArg)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestMergeSplitKnownLayouts: answers that carry their layout
// (Answer.Cut, the parts of coalesced calls) merge to the same bytes as
// answers the merge walks; a layout that does not fit its answer fails
// that shard with PROXY_INVALID_RESPONSE, never a slice out of range.
func TestMergeSplitKnownLayouts(t *testing.T) {
	fx := newSplitFixture(t)
	walked := fx.run(t, nil, false)
	if known := fx.run(t, nil, true); !bytes.Equal(known, walked) {
		t.Fatalf("merged with known layouts %x, walked %x", known, walked)
	}
	s := slices.IndexFunc(fx.cuts, func(c []int32) bool { return len(c) > 2 })
	good := fx.cuts[s]
	for _, tc := range []struct {
		name string
		cut  []int32
	}{
		{"one element short", good[:len(good)-1]},
		{"end past the answer", append(slices.Clone(good[:len(good)-1]), int32(len(fx.answers[s])+1))},
		{"ends out of order", append([]int32{good[0], good[2], good[1]}, good[3:]...)},
		{"count word elsewhere", append([]int32{good[0] + 1}, good[1:]...)},
	} {
		p, err := fx.f.Split(fx.rule, fx.call, hashPlacer{n: 4}, 4)
		if err != nil {
			t.Fatal(err)
		}
		for i := range p.Answers {
			if p.Asked(i) {
				p.Answers[i] = Answer{Status: OK, Body: fx.answers[i], Cut: fx.cuts[i]}
			}
		}
		p.Answers[s].Cut = tc.cut
		_, failed, merr := fx.f.MergeSplit(nil, fx.rule, p)
		if failed != 1 || merr == nil || merr.Code != rpc.CodeProxyInvalidResponse {
			t.Errorf("%s (%v): failed %d, err %v; want shard %d failed with PROXY_INVALID_RESPONSE", tc.name, tc.cut, failed, merr, s)
		}
		fx.f.Release(p)
	}
}

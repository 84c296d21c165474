package fanout

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/engines/events"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/walk"
)

// eventsCluster is 4 events engines holding events placed by key (key
// length mod 4), and one engine holding them all: the reference.
func eventsCluster(t *testing.T, w *walk.Walker) (*cluster, *engine) {
	t.Helper()
	c := &cluster{t: t, w: w}
	for range 4 {
		c.shards = append(c.shards, &engine{funcs: eventsStore(t).Funcs()})
	}
	all := &engine{funcs: eventsStore(t).Funcs()}
	// Distinct ts, so sorted orders do not depend on ids.
	for i, e := range []struct{ key, text string }{
		{"a", "red apple"}, {"bb", "green apple"}, {"a", "red car"}, {"ccc", "blue car"},
		{"bb", "red"}, {"dddd", "apple pie"}, {"a", "green"}, {"ccc", "pie"}, {"dddd", "green car"},
	} {
		call := eventsAdd(e.key, int64(1000+37*((i*5)%9)), e.text)
		s, _ := placer4.Pick([]byte(e.key))
		mustRun(t, c.shards[s].funcs, call)
		mustRun(t, all.funcs, call)
	}
	return c, all
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

// TestMergeEqualsOneEngine: for every strategy, merging 4 shards' answers
// gives what one engine holding every event answers (ids aside; concat
// compared as a set, since it keeps shard order).
func TestMergeEqualsOneEngine(t *testing.T) {
	f, sc := newFanout(t)
	c, all := eventsCluster(t, f.w)
	rules := map[uint32]*Rule{}
	for _, m := range events.Merges() {
		rule := compile(t, sc, configs.FunctionRule{Name: m.Function, Merge: m.Strategy, SortField: m.Field, Descending: m.Descending, LimitArg: m.LimitArg}, "")
		rules[rule.Tag] = rule
	}
	tests := []struct {
		name string
		call []byte
	}{
		{"sorted apple 10", search("apple", 10)},
		{"sorted all 3", search("", 3)},
		{"sorted default limit", search("", 0)},
		{"sorted none", search("zzz", 5)},
		{"concat", listAll(0)},
		{"sum count", queryCall(events.TagCount, "red")},
		{"sum textBytes", queryCall(events.TagTextBytes, "")},
		{"min car", queryCall(events.TagMinTs, "car")},
		{"min none", queryCall(events.TagMinTs, "zzz")},
		{"max apple", queryCall(events.TagMaxTs, "apple")},
		{"max none", queryCall(events.TagMaxTs, "zzz")},
		{"or true", queryCall(events.TagHas, "blue")},
		{"or false", queryCall(events.TagHas, "zzz")},
		{"and true", queryCall(events.TagAllMatch, "")},
		{"and false", queryCall(events.TagAllMatch, "e")},
		{"first one match", queryCall(events.TagFirstMatch, "blue")},
		{"first none", queryCall(events.TagFirstMatch, "zzz")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.log = nil
			rule := rules[binary.LittleEndian.Uint32(tc.call)]
			got, failed, err := c.merge(f, rule, tc.call)
			if err != nil || failed != 0 {
				t.Fatalf("failed %d, err %v", failed, err)
			}
			if len(c.log) != 4 {
				t.Fatalf("plan %q: want every shard asked", c.log)
			}
			if err := f.w.CheckResult(tc.call, got); err != nil {
				t.Fatalf("merged answer %x: %v", got, err)
			}
			want := mustRun(t, all.funcs, tc.call)
			switch tag := binary.LittleEndian.Uint32(want); {
			case rule.Strategy == Concat:
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

// TestMergeFirstShardOrder: first takes the first non-empty answer by
// shard order, skipping empty ones, not the oldest event overall.
func TestMergeFirstShardOrder(t *testing.T) {
	f, sc := newFanout(t)
	c, _ := eventsCluster(t, f.w)
	rule := compile(t, sc, configs.FunctionRule{Name: "events.firstMatch", Merge: "first"}, "")
	// "car" matches on shard 0 (keys a and dddd: its oldest is "red car")
	// and shard 3 (ccc: "blue car"); shards 1 and 2 answer nothing.
	got, _, err := c.merge(f, rule, queryCall(events.TagFirstMatch, "car"))
	if err != nil {
		t.Fatal(err)
	}
	if g := eventText(t, got); !slices.Equal(g, []string{`1037 a "red car"`}) {
		t.Fatalf("first = %q", g)
	}
	c.shards[0].down = true
	_, failed, err := c.merge(f, rule, queryCall(events.TagFirstMatch, "car"))
	if err == nil || err.Code != rpc.CodeNoConnections || failed != 1 {
		t.Fatalf("fail mode with shard 0 down: %v, failed %d", err, failed)
	}
	rule.Partial = true
	got, failed, err = c.merge(f, rule, queryCall(events.TagFirstMatch, "car"))
	if err != nil || failed != 1 {
		t.Fatalf("partial: %v, failed %d", err, failed)
	}
	if g := eventText(t, got); !slices.Equal(g, []string{`1222 ccc "blue car"`}) {
		t.Fatalf("first without shard 0 = %q", g)
	}
}

// TestMergePolicies: fail vs partial over fabricated answers, per strategy.
func TestMergePolicies(t *testing.T) {
	f, sc := newFanout(t)
	long := func(v int64) []byte { return tl.AppendInt64(tl.AppendUint32(nil, tl.TagLong), v) }
	boolean := func(v bool) []byte { return tl.AppendBool(nil, v) }
	down := Answer{Status: Failed, Err: &rpc.Error{Code: rpc.CodeNoConnections, Description: "down"}}
	timeout := Answer{Status: Failed, Err: &rpc.Error{Code: rpc.CodeQueryTimeout, Description: "timeout"}}
	ok := func(b []byte) Answer { return Answer{Status: OK, Body: b} }
	tests := []struct {
		name       string
		fn, merge  string
		partial    bool
		call       []byte
		answers    []Answer
		want       []byte
		wantCode   int32
		wantFailed int
	}{
		{"min partial", "events.minTs", "min", true, queryCall(events.TagMinTs, ""),
			[]Answer{ok(long(5)), down, ok(long(3)), timeout}, long(3), 0, 2},
		{"min fail: first error by shard order", "events.minTs", "min", false, queryCall(events.TagMinTs, ""),
			[]Answer{ok(long(5)), timeout, ok(long(3)), down}, nil, rpc.CodeQueryTimeout, 2},
		{"max", "events.maxTs", "max", false, queryCall(events.TagMaxTs, ""),
			[]Answer{ok(long(-5)), ok(long(7)), ok(long(3))}, long(7), 0, 0},
		{"or partial", "events.has", "or", true, queryCall(events.TagHas, ""),
			[]Answer{ok(boolean(false)), down, ok(boolean(true))}, boolean(true), 0, 1},
		{"and", "events.allMatch", "and", false, queryCall(events.TagAllMatch, ""),
			[]Answer{ok(boolean(true)), ok(boolean(false))}, boolean(false), 0, 0},
		{"sum of Int overflows", "events.count", "sum", false, queryCall(events.TagCount, ""),
			[]Answer{ok(tl.AppendInt32(tl.AppendUint32(nil, tl.TagInt), 1<<30)), ok(tl.AppendInt32(tl.AppendUint32(nil, tl.TagInt), 1<<30))}, nil, rpc.CodeValueNotInRange, 0},
		{"malformed answer is a failed shard (partial)", "events.minTs", "min", true, queryCall(events.TagMinTs, ""),
			[]Answer{ok(boolean(true)), ok(long(9))}, long(9), 0, 1},
		{"malformed answer fails the request", "events.minTs", "min", false, queryCall(events.TagMinTs, ""),
			[]Answer{ok(long(9)), ok([]byte{1, 2, 3})}, nil, rpc.CodeProxyInvalidResponse, 1},
		{"partial, all down", "events.minTs", "min", true, queryCall(events.TagMinTs, ""),
			[]Answer{down, timeout}, nil, rpc.CodeNoConnections, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := configs.FunctionRule{Name: tc.fn, Merge: tc.merge}
			if tc.partial {
				r.OnError = "partial"
			}
			rule := compile(t, sc, r, "")
			got, failed, err := f.Merge(nil, rule, tc.call, tc.answers)
			if failed != tc.wantFailed {
				t.Errorf("failed %d, want %d", failed, tc.wantFailed)
			}
			if tc.wantCode != 0 {
				if err == nil || err.Code != tc.wantCode {
					t.Fatalf("err %v, want code %d", err, tc.wantCode)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %x %v, want %x", got, err, tc.want)
			}
		})
	}
}

func TestSortedTiesKeepShardOrder(t *testing.T) {
	f, sc := newFanout(t)
	rule := compile(t, sc, configs.FunctionRule{Name: "events.search", Merge: "sorted", SortField: "ts", Descending: true, LimitArg: "limit"}, "")
	ev := func(id, ts int64, text string) []byte {
		b := tl.AppendInt64(tl.AppendInt64(tl.AppendUint32(nil, events.TagEvent), id), ts)
		return tl.AppendString(tl.AppendString(b, "k"), text)
	}
	answers := []Answer{
		{Status: OK, Body: vector(ev(1, 30, "s0a"), ev(2, 20, "s0b"))},
		{Status: OK, Body: vector(ev(1, 30, "s1a"), ev(2, 10, "s1b"))},
		{Status: Idle},
		{Status: OK, Body: vector()},
	}
	tests := []struct {
		limit int32
		want  []byte
	}{
		{10, vector(ev(1, 30, "s0a"), ev(1, 30, "s1a"), ev(2, 20, "s0b"), ev(2, 10, "s1b"))},
		{2, vector(ev(1, 30, "s0a"), ev(1, 30, "s1a"))},
		{1, vector(ev(1, 30, "s0a"))},
		{0, vector(ev(1, 30, "s0a"), ev(1, 30, "s1a"), ev(2, 20, "s0b"), ev(2, 10, "s1b"))}, // default 100
	}
	for _, tc := range tests {
		got, _, err := f.Merge(nil, rule, search("", tc.limit), answers)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("limit %d: %x %v\nwant %x", tc.limit, got, err, tc.want)
		}
	}
}

func TestDiagonal(t *testing.T) {
	long := func(v int64) []byte { return tl.AppendInt64(tl.AppendUint32(nil, tl.TagLong), v) }
	answers := []Answer{
		{Status: OK, Body: long(1)},
		{Status: Failed, Err: &rpc.Error{Code: rpc.CodeNoConnections}},
		{Status: OK, Body: long(3)},
	}
	got, failed := Diagonal(nil, answers)
	want := tl.AppendUint32(tl.AppendUint32(nil, tl.TagVector), 3)
	want = append(tl.AppendUint32(want, tl.TagMaybeTrue), long(1)...)
	want = tl.AppendUint32(want, tl.TagMaybeFalse)
	want = append(tl.AppendUint32(want, tl.TagMaybeTrue), long(3)...)
	if failed != 1 || !bytes.Equal(got, want) {
		t.Fatalf("diagonal %x (failed %d)\nwant %x", got, failed, want)
	}
}

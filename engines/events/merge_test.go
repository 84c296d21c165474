package events

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
	"github.com/rpcproxy/rpcproxy/tl/walk"
)

// This file checks that events.tl suits the proxy's merges: each read is
// sent to two shards, the answers are merged at the byte level with
// tl/walk as the schema comments say, and the result must equal what one
// engine holding every event answers. The merges here are the test's own
// reference, not the proxy's code.

func newWalker(t *testing.T) *walk.Walker {
	t.Helper()
	sc, err := schema.LoadWithPrelude("events.tl", filepath.Join("..", "memcache", "memcache.tl"), filepath.Join("..", "engine.tl"))
	if err != nil {
		t.Fatal(err)
	}
	return walk.New(sc)
}

// shardedStores places events by the walker's default key of events.add
// (its first string argument, key) on one of two shards, and every event
// on a reference store too.
type shardedStores struct {
	w      *walk.Walker
	keys   *walk.Keys
	shards [2]*Store
	all    *Store
}

func (ss *shardedStores) add(t *testing.T, key string, ts int64, text string) {
	t.Helper()
	req := add(key, ts, text)
	k, err := ss.keys.Key(req)
	if err != nil || k.Kind != walk.KindString || string(k.Bytes) != key {
		t.Fatalf("key of %x: %+v %v", req, k, err)
	}
	shard := ss.shards[len(k.Bytes)%2] // a readable placement
	mustCall(t, shard, req)
	mustCall(t, ss.all, req)
}

// tsOf reads the ts field of the current element.
func tsOf(t *testing.T, it *walk.Elems, b []byte) int64 {
	t.Helper()
	s, e, err := it.Field("ts")
	if err != nil || e-s != 8 {
		t.Fatalf("ts: %d..%d %v", s, e, err)
	}
	return int64(binary.LittleEndian.Uint64(b[s:e]))
}

// elems returns the element bytes of a vector answer and their ts.
func elems(t *testing.T, w *walk.Walker, call, resp []byte) (els [][]byte, ts []int64) {
	t.Helper()
	it, err := w.ResultElems(call, resp)
	if err != nil {
		t.Fatalf("ResultElems %x: %v", resp, err)
	}
	for it.Next() {
		els = append(els, it.Bytes())
		ts = append(ts, tsOf(t, &it, resp))
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	return els, ts
}

func vectorOf(els [][]byte) []byte {
	b := tl.AppendUint32(tl.AppendUint32(nil, tl.TagVector), uint32(len(els)))
	for _, e := range els {
		b = append(b, e...)
	}
	return b
}

// merge merges the two shards' answers to call by strategy.
func merge(t *testing.T, w *walk.Walker, strategy string, call []byte, answers [2][]byte) []byte {
	t.Helper()
	switch strategy {
	case "concat":
		var all [][]byte
		for _, a := range answers {
			els, _ := elems(t, w, call, a)
			all = append(all, els...)
		}
		return vectorOf(all)
	case "sorted ts desc":
		type el struct {
			b  []byte
			ts int64
		}
		var all []el
		for _, a := range answers {
			els, ts := elems(t, w, call, a)
			for i := range els {
				all = append(all, el{els[i], ts[i]})
			}
		}
		slices.SortStableFunc(all, func(a, b el) int { return -cmpInt(a.ts, b.ts) })
		lim, _, err := w.Arg(call, "limit")
		if err != nil {
			t.Fatal(err)
		}
		limit := int(int32(binary.LittleEndian.Uint32(call[lim:])))
		if limit <= 0 {
			limit = DefaultLimit
		}
		var out [][]byte
		for _, e := range all[:min(limit, len(all))] {
			out = append(out, e.b)
		}
		return vectorOf(out)
	case "sum", "min", "max", "and", "or":
		var vals [2]walk.Value
		for i, a := range answers {
			v, err := w.ResultValue(call, a)
			if err != nil {
				t.Fatalf("ResultValue %x: %v", a, err)
			}
			vals[i] = v
		}
		a, b := vals[0].Int, vals[1].Int
		var r int64
		switch strategy {
		case "sum":
			r = a + b
		case "min":
			r = min(a, b)
		case "max":
			r = max(a, b)
		case "and":
			r = a & b
		case "or":
			r = a | b
		}
		switch vals[0].Kind {
		case walk.KindInt:
			return int32v(int32(r))
		case walk.KindLong:
			return long(r)
		case walk.KindBool:
			return boolean(r == 1)
		}
		t.Fatalf("%s over %v", strategy, vals[0].Kind)
	case "first":
		for _, a := range answers {
			_, _, err := w.ResultField(call, a, "result")
			switch {
			case err == nil:
				return a
			case !errors.Is(err, walk.ErrAbsent):
				t.Fatalf("ResultField %x: %v", a, err)
			}
		}
		return answers[1]
	}
	t.Fatalf("strategy %q", strategy)
	return nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// eventText renders a Vector events.Event or Maybe events.Event without
// ids, which differ between the shards and the reference store.
func eventText(t *testing.T, w *walk.Walker, call, resp []byte) string {
	t.Helper()
	var sb strings.Builder
	render := func(b []byte) {
		e, r, err := ReadEvent(b)
		if err != nil || len(r) != 0 {
			t.Fatalf("event %x: %v", b, err)
		}
		fmt.Fprintf(&sb, "%d %q %q; ", e.TS, e.Key, e.Text)
	}
	if tag, _, _ := tl.ReadUint32(resp); tag == tl.TagVector {
		els, _ := elems(t, w, call, resp)
		for _, e := range els {
			render(e)
		}
		return sb.String()
	}
	s, e, err := w.ResultField(call, resp, "result")
	if errors.Is(err, walk.ErrAbsent) {
		return "nothing"
	}
	if err != nil {
		t.Fatal(err)
	}
	render(resp[s:e])
	return sb.String()
}

// TestMergeStrategies: for every read and its merge strategy, merging two
// shards' answers gives one engine's answer (ids aside).
func TestMergeStrategies(t *testing.T) {
	w := newWalker(t)
	keys, err := w.Keys(nil)
	if err != nil {
		t.Fatal(err)
	}
	ss := &shardedStores{w: w, keys: keys}
	for i := range ss.shards {
		ss.shards[i], _ = newStore(t, Config{})
	}
	ss.all, _ = newStore(t, Config{})
	strategies := map[uint32]string{} // tag -> Merges' strategy
	for _, m := range Merges() {
		for _, f := range ss.all.Funcs() {
			if f.Name == m.Function {
				strategies[f.Tag] = m.Strategy
			}
		}
	}
	// Distinct ts, so sorted orders do not depend on ids.
	for i, e := range []struct{ key, text string }{
		{"a", "red apple"}, {"bb", "green apple"}, {"a", "red car"}, {"ccc", "blue car"},
		{"bb", "red"}, {"dddd", "apple pie"}, {"a", "green"}, {"ccc", "pie"},
	} {
		ss.add(t, e.key, int64(1000+37*((i*5)%8)), e.text)
	}
	if ss.shards[0].Len() == 0 || ss.shards[1].Len() == 0 {
		t.Fatal("the placement left a shard empty")
	}
	for _, tc := range []struct {
		strategy string
		call     []byte
	}{
		{"sorted ts desc", search("apple", 10)},
		{"sorted ts desc", search("", 3)},
		{"sorted ts desc", search("", 0)},
		{"sorted ts desc", search("zzz", 5)},
		{"concat", listAll(0)},
		{"sum", byQuery(TagCount, "red")},
		{"sum", byQuery(TagTextBytes, "")},
		{"min", byQuery(TagMinTs, "car")},
		{"min", byQuery(TagMinTs, "pie")},
		{"min", byQuery(TagMinTs, "zzz")},
		{"max", byQuery(TagMaxTs, "apple")},
		{"max", byQuery(TagMaxTs, "zzz")},
		{"or", byQuery(TagHas, "blue")},
		{"or", byQuery(TagHas, "zzz")},
		{"and", byQuery(TagAllMatch, "")},
		{"and", byQuery(TagAllMatch, "e")},
		{"first", byQuery(TagFirstMatch, "blue")},
		{"first", byQuery(TagFirstMatch, "zzz")},
	} {
		name := fmt.Sprintf("%s/%x", tc.strategy, tc.call[:4])
		t.Run(name, func(t *testing.T) {
			if want := strings.Fields(tc.strategy)[0]; strategies[binary.LittleEndian.Uint32(tc.call)] != want {
				t.Fatalf("Merges has %q for this function, the test %q", strategies[binary.LittleEndian.Uint32(tc.call)], want)
			}
			if err := w.Check(tc.call); err != nil {
				t.Fatalf("walker refuses the call: %v", err)
			}
			var answers [2][]byte
			for i, s := range ss.shards {
				answers[i] = mustCall(t, s, tc.call)
				if err := w.CheckResult(tc.call, answers[i]); err != nil {
					t.Fatalf("walker refuses shard %d's answer %x: %v", i, answers[i], err)
				}
			}
			got := merge(t, w, tc.strategy, tc.call, answers)
			want := mustCall(t, ss.all, tc.call)
			if tc.strategy == "concat" {
				// Concatenation keeps shard order; compare as sets.
				g, wa := strings.Split(eventText(t, w, tc.call, got), "; "), strings.Split(eventText(t, w, tc.call, want), "; ")
				slices.Sort(g)
				slices.Sort(wa)
				if !slices.Equal(g, wa) {
					t.Fatalf("merged %q\nwant   %q", g, wa)
				}
				return
			}
			if tag, _, _ := tl.ReadUint32(want); tag == tl.TagVector || tag == tl.TagMaybeTrue || tag == tl.TagMaybeFalse {
				if g, wa := eventText(t, w, tc.call, got), eventText(t, w, tc.call, want); g != wa {
					t.Fatalf("merged %s\nwant   %s", g, wa)
				}
				return
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("merged %x, want %x", got, want)
			}
		})
	}
}

// TestDefaultKey: with no key configuration, the walker routes add,
// delete and list by key (their first string argument).
func TestDefaultKey(t *testing.T) {
	w := newWalker(t)
	keys, err := w.Keys(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range [][]byte{add("user7", 1, "x"), del("user7"), list("user7", 5)} {
		k, err := keys.Key(call)
		if err != nil || k.Kind != walk.KindString || string(k.Bytes) != "user7" {
			t.Errorf("%x: key %+v %v", call[:4], k, err)
		}
	}
}

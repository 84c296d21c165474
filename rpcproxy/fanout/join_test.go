package fanout

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/walk"
)

// TestJoinedCallAnswersEachPart: the sub-calls several requests' splits
// make for one shard, joined by their Layout (head, the sum of the
// counts, every part's keys, tail), get one answer from the engine, and
// CutAnswer cuts it into each part's answer byte-equal to what that
// part's own sub-call gets.
func TestJoinedCallAnswersEachPart(t *testing.T) {
	f, sc := newFanout(t)
	rule := compile(t, sc, configs.FunctionRule{Name: "memcache.getMulti", Coalesce: true}, "keys")
	if !rule.Coalesce {
		t.Fatal("rule.Coalesce not set from the config")
	}
	es, _ := memcacheShards(t, 1)
	for _, k := range []string{"a", "c", "f"} {
		if _, err := run(es[0].funcs, set(k, "value of "+k)); err != nil {
			t.Fatal(err)
		}
	}
	requests := [][]string{{"a", "b", "c"}, {"g", "f"}, {"x", "a", "a", "d", "c"}}
	var plans []*Plan
	var joined []byte
	var counts []int
	var head, tail []byte
	for i, keys := range requests {
		p, err := f.Split(rule, getMulti(keys...), placer4, 4)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Release(p)
		plans = append(plans, p)
		h, k, tt, ok := p.Layout(0)
		if !ok {
			t.Fatalf("request %d: no layout for shard 0", i)
		}
		if i == 0 {
			head, tail = h, tt
			joined = append(append(joined, h...), 0, 0, 0, 0)
		} else if !bytes.Equal(h, head) || !bytes.Equal(tt, tail) {
			t.Fatalf("request %d: head %x tail %x, want the first's %x %x", i, h, tt, head, tail)
		}
		joined = append(joined, k...)
		counts = append(counts, p.Keys[0])
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	joined = append(tl.AppendUint32(joined[:len(head)], uint32(total)), joined[len(head)+4:]...)
	joined = append(joined, tail...)
	// The joined call is a getMulti of every part's shard-0 keys in order.
	if want := getMulti("a", "c", "f", "a", "a", "c"); !bytes.Equal(joined, want) {
		t.Fatalf("joined call %x, want %x", joined, want)
	}
	answer, err := run(es[0].funcs, joined)
	if err != nil {
		t.Fatal(err)
	}
	cuts, ends, ah, at, err := f.CutAnswer(rule, joined, answer, counts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ends) != total {
		t.Fatalf("%d element ends for %d keys", len(ends), total)
	}
	first := 0
	for i, p := range plans {
		part := append(tl.AppendUint32(append([]byte(nil), ah...), uint32(counts[i])), answer[cuts[i]:cuts[i+1]]...)
		part = append(part, at...)
		own, err := run(es[0].funcs, p.Subs[0])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(part, own) {
			t.Errorf("part %d: cut answer %x, want its own sub-call's %x", i, part, own)
		}
		// Its layout, as the merge reads it, is what a walk finds.
		sameElems(t, f, p.Subs[0], part, PartCut(nil, ah, cuts, ends, i, first, counts[i]))
		first += counts[i]
	}
	// A shard a plan does not ask has no layout.
	if _, _, _, ok := plans[1].Layout(1); ok {
		t.Error("Layout of a shard without keys: ok")
	}
	// An answer with another element count is refused.
	short := vector(notFound(), notFound())
	if _, _, _, _, err := f.CutAnswer(rule, joined, short, counts, nil, nil); err == nil || !strings.Contains(err.Error(), "2 elements for 6 keys") {
		t.Errorf("short answer: err %v, want \"2 elements for 6 keys\"", err)
	}
	if _, _, _, _, err := f.CutAnswer(rule, joined, []byte{1, 2, 3}, counts, nil, nil); err == nil {
		t.Error("garbage answer: no error")
	}
}

// FuzzCutAnswer: whatever an engine answers to a joined call (garbage,
// a vector of another length, valid values), CutAnswer either refuses it
// or returns cuts that split its elements into the parts' counts exactly:
// each part's rebuilt answer has its count's elements, the cuts never go
// backwards or past the answer, and nothing panics.
func FuzzCutAnswer(f *testing.F) {
	f.Add([]byte{}, uint8(2), uint8(1))
	f.Add(vector(notFound(), strValue("x"), notFound()), uint8(2), uint8(1))
	f.Add(vector(strValue("a"), strValue("b")), uint8(1), uint8(1))
	f.Add(append(vector(notFound()), 0xff), uint8(1), uint8(0))
	f.Add([]byte{0x15, 0xc4, 0xb5, 0x1c, 0xff, 0xff, 0xff, 0x7f}, uint8(3), uint8(3))
	fo, sc := newFanout(f)
	rule := compile(f, sc, configs.FunctionRule{Name: "memcache.getMulti", Coalesce: true}, "keys")
	f.Fuzz(func(t *testing.T, answer []byte, a, b uint8) {
		counts := []int{int(a % 8), int(b % 8)}
		var keys []string
		for i := range counts[0] + counts[1] {
			keys = append(keys, string(rune('a'+i)))
		}
		call := getMulti(keys...)
		cuts, ends, head, tail, err := fo.CutAnswer(rule, call, answer, counts, nil, nil)
		if err != nil {
			return
		}
		if len(cuts) != len(counts)+1 || len(head) > len(answer) || len(tail) > len(answer) {
			t.Fatalf("cuts %v head %d tail %d for a %d-byte answer", cuts, len(head), len(tail), len(answer))
		}
		for j := range counts {
			if cuts[j] > cuts[j+1] || cuts[j+1] > len(answer)-len(tail) || cuts[j] < len(head)+4 {
				t.Fatalf("cuts %v out of order or bounds (head %d, tail %d, answer %d)", cuts, len(head), len(tail), len(answer))
			}
			part := append(tl.AppendUint32(append([]byte(nil), head...), uint32(counts[j])), answer[cuts[j]:cuts[j+1]]...)
			part = append(part, tail...)
			it, err := fo.w.ResultElems(getMulti(keys[:counts[j]]...), part)
			if err != nil || it.Len() != counts[j] {
				t.Fatalf("part %d (%x): %v, %d elements for %d keys", j, part, err, it.Len(), counts[j])
			}
			for it.Next() {
			}
			if it.Err() != nil || it.End() != len(part)-len(tail) {
				t.Fatalf("part %d (%x): elements end at %d of %d: %v", j, part, it.End(), len(part), it.Err())
			}
			it.Close()
			first := 0
			if j == 1 {
				first = counts[0]
			}
			sameElems(t, fo, getMulti(keys[:counts[j]]...), part, PartCut(nil, head, cuts, ends, j, first, counts[j]))
		}
	})
}

// sameElems checks that walk.KnownElems over part with cut steps through
// the same element ranges, count word and end as a walk of part.
func sameElems(t *testing.T, f *Fanout, call, part []byte, cut []int32) {
	t.Helper()
	want, err := f.w.ResultElems(call, part)
	if err != nil {
		t.Fatal(err)
	}
	got, err := walk.KnownElems(part, cut)
	if err != nil {
		t.Fatalf("cut %v of %x: %v", cut, part, err)
	}
	if got.Len() != want.Len() || got.CountPos() != want.CountPos() {
		t.Fatalf("cut %v: %d elements, count at %d; the walk: %d at %d", cut, got.Len(), got.CountPos(), want.Len(), want.CountPos())
	}
	for want.Next() {
		if !got.Next() {
			t.Fatalf("cut %v: ends before element %d", cut, want.Len())
		}
		ws, we := want.Range()
		if gs, ge := got.Range(); gs != ws || ge != we {
			t.Fatalf("cut %v: element [%d:%d], the walk's [%d:%d]", cut, gs, ge, ws, we)
		}
	}
	if got.Next() || got.End() != want.End() {
		t.Fatalf("cut %v: elements end at %d, the walk's at %d", cut, got.End(), want.End())
	}
}

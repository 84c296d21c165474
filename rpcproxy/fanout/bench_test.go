package fanout

import (
	"fmt"
	"testing"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/engines/events"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// splitFixture is a 10-key getMulti over 4 shards with every shard's
// answer computed once by real memcache engines.
type splitFixture struct {
	f       *Fanout
	rule    *Rule
	call    []byte
	answers [][]byte
	cuts    [][]int32 // the answers' layouts, as a joined call's parts carry them
}

func newSplitFixture(tb testing.TB) *splitFixture {
	f, sc := newFanout(tb)
	rule := compile(tb, sc, configs.FunctionRule{Name: "memcache.getMulti"}, "keys")
	es, _ := memcacheShards(tb, 4)
	pl := hashPlacer{n: 4}
	var keys []string
	for i := range 10 {
		k := fmt.Sprintf("photo%d_%d", i, i*7)
		keys = append(keys, k)
		s, _ := pl.Pick([]byte(k))
		mustRun(tb, es[s].funcs, set(k, "some value of "+k))
	}
	fx := &splitFixture{f: f, rule: rule, call: getMulti(keys...), answers: make([][]byte, 4), cuts: make([][]int32, 4)}
	p, err := f.Split(rule, fx.call, pl, 4)
	if err != nil {
		tb.Fatal(err)
	}
	for s := range 4 {
		if p.Asked(s) {
			fx.answers[s] = mustRun(tb, es[s].funcs, p.Subs[s])
			it, err := f.w.ResultElems(p.Subs[s], fx.answers[s])
			if err != nil {
				tb.Fatal(err)
			}
			fx.cuts[s] = append(fx.cuts[s], int32(it.CountPos()))
			for it.Next() {
				_, end := it.Range()
				fx.cuts[s] = append(fx.cuts[s], int32(end))
			}
		}
	}
	f.Release(p)
	return fx
}

// run is the split and merge path of one request; known: the answers
// carry their layout (Answer.Cut), as the parts of a joined call do.
func (fx *splitFixture) run(tb testing.TB, dst []byte, known bool) []byte {
	p, err := fx.f.Split(fx.rule, fx.call, hashPlacer{n: 4}, 4)
	if err != nil {
		tb.Fatal(err)
	}
	for s := range p.Answers {
		if p.Asked(s) {
			p.Answers[s] = Answer{Status: OK, Body: fx.answers[s]}
			if known {
				p.Answers[s].Cut = fx.cuts[s]
			}
		}
	}
	out, _, merr := fx.f.MergeSplit(dst[:0], fx.rule, p)
	if merr != nil {
		tb.Fatal(merr)
	}
	fx.f.Release(p)
	return out
}

// sortedFixture is 16 shards' answers of 1,000 events each to a search.
type sortedFixture struct {
	f       *Fanout
	rule    *Rule
	call    []byte
	answers []Answer
}

func newSortedFixture(tb testing.TB, shards, per int) *sortedFixture {
	f, sc := newFanout(tb)
	rule := compile(tb, sc, configs.FunctionRule{Name: "events.search", Merge: "sorted", SortField: "ts", Descending: true}, "")
	fx := &sortedFixture{f: f, rule: rule, call: search("", 0)}
	for s := range shards {
		els := make([][]byte, 0, per)
		for i := range per {
			ts := int64((per-i)*shards + s) // descending, interleaved across shards
			b := tl.AppendInt64(tl.AppendInt64(tl.AppendUint32(nil, events.TagEvent), int64(i)), ts)
			els = append(els, tl.AppendString(tl.AppendString(b, fmt.Sprintf("key%d", i)), "an event text"))
		}
		fx.answers = append(fx.answers, Answer{Status: OK, Body: vector(els...)})
	}
	return fx
}

func TestSplitMergeAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts need a build without -race")
	}
	fx := newSplitFixture(t)
	dst := make([]byte, 0, 4096)
	for _, known := range []bool{false, true} {
		fx.run(t, dst, known)
		if n := testing.AllocsPerRun(100, func() { fx.run(t, dst, known) }); n != 0 {
			t.Fatalf("split + merge of a 10-key getMulti (layouts known: %v): %v allocs, want 0", known, n)
		}
	}
}

func TestMergeAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts need a build without -race")
	}
	fx := newSortedFixture(t, 4, 50)
	dst := make([]byte, 0, 1<<16)
	tests := []struct {
		name string
		fn   func()
	}{
		{"sorted", func() { _, _, _ = fx.f.Merge(dst[:0], fx.rule, fx.call, fx.answers) }},
		{"concat", func() {
			r := *fx.rule
			r.Strategy = Concat
			_, _, _ = fx.f.Merge(dst[:0], &r, fx.call, fx.answers)
		}},
		{"diagonal", func() { _, _ = Diagonal(dst[:0], fx.answers) }},
	}
	for _, tc := range tests {
		tc.fn()
		if n := testing.AllocsPerRun(50, tc.fn); n != 0 {
			t.Errorf("%s: %v allocs, want 0", tc.name, n)
		}
	}
}

// BenchmarkSplitMerge10Keys is the fan-out CPU of a 10-key getMulti over 4
// shards: plan, sub-calls, and the merge back into key order; "walked"
// validates each shard's answer with a walk, "known" takes the layouts
// the answers carry (the parts of coalesced calls).
func BenchmarkSplitMerge10Keys(b *testing.B) {
	for _, bc := range []struct {
		name  string
		known bool
	}{{"walked", false}, {"known", true}} {
		b.Run(bc.name, func(b *testing.B) {
			fx := newSplitFixture(b)
			dst := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				dst = fx.run(b, dst, bc.known)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10, "ns/key")
		})
	}
}

// BenchmarkSortedMerge16x1000 merges 16 shards' sorted answers of 1,000
// events each (no limit: 16,000 elements out) and reports ns per element.
func BenchmarkSortedMerge16x1000(b *testing.B) {
	fx := newSortedFixture(b, 16, 1000)
	dst := make([]byte, 0, 2<<20)
	b.ReportAllocs()
	for b.Loop() {
		var err *rpc.Error
		if dst, _, err = fx.f.Merge(dst[:0], fx.rule, fx.call, fx.answers); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/16000, "ns/element")
}

// BenchmarkDiagonal16x1000 wraps 16 shards' 1,000-event answers.
func BenchmarkDiagonal16x1000(b *testing.B) {
	fx := newSortedFixture(b, 16, 1000)
	dst := make([]byte, 0, 2<<20)
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = Diagonal(dst[:0], fx.answers)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/16000, "ns/element")
}

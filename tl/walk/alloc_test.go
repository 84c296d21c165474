package walk

import (
	"errors"
	"fmt"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
)

// TestZeroAllocs pins the hot-path promise of doc.go: no allocation per
// call once the walker's state pool is warm.
func TestZeroAllocs(t *testing.T) {
	w := memcacheWalker(t)
	keys, err := w.Keys(nil)
	if err != nil {
		t.Fatal(err)
	}
	get := enc(nil).tag(tagOf(t, w, "memcache.get")).str("user:1")
	multi := benchGetMulti(t, w, 100)
	resp := vectorAnswer(t, w, 100)
	var keep []int
	for i := 0; i < 100; i += 3 {
		keep = append(keep, i)
	}
	dst := make([]byte, 0, len(multi))
	dsts := [][]byte{make([]byte, 0, len(multi)), make([]byte, 0, len(multi)), make([]byte, 0, len(multi))}
	shardOf := make([]int, 100)
	var ends []int32 // grown by the first run, reused after
	for i := range shardOf {
		shardOf[i] = i % 3
	}
	strvalue := enc(nil).tag(tagOf(t, w, "memcache.strvalue")).str("v").i32(1)
	set := tltest.Unhex(t, hexSetFoo)
	boolTrue := tltest.Unhex(t, hexBoolTrue)
	tests := []struct {
		name string
		f    func() error
	}{
		{"Key", func() error { _, err := keys.Key(get); return err }},
		{"Key vector", func() error { _, err := keys.Key(multi); return err }},
		{"Check", func() error { return w.Check(multi) }},
		{"Arg", func() error { _, _, err := w.Arg(get, "key"); return err }},
		{"KeyElems", func() error {
			it, err := keys.KeyElems(multi)
			for it.Next() {
				it.Value()
			}
			return err
		}},
		{"Split", func() error {
			var err error
			dst, err = w.Split(dst[:0], multi, "keys", keep)
			return err
		}},
		{"SplitBy", func() error {
			for i := range dsts {
				dsts[i] = dsts[i][:0]
			}
			return w.SplitBy(dsts, multi, "keys", shardOf)
		}},
		{"CheckResult", func() error { return w.CheckResult(multi, resp) }},
		{"ResultElems", func() error {
			it, err := w.ResultElems(multi, resp)
			for it.Next() {
			}
			return err
		}},
		{"ResultElemsInto", func() error {
			it, err := w.ResultElemsInto(multi, resp, &ends)
			for it.Next() {
			}
			return err
		}},
		// A merge asks this of every answer (fanout's first strategy):
		// the error names the type without allocating.
		{"ResultElems of an object", func() error {
			if _, err := w.ResultElems(get, strvalue); !errors.Is(err, ErrNotVector) {
				return fmt.Errorf("got %v, want ErrNotVector", err)
			}
			return nil
		}},
		{"ResultElems of a scalar", func() error {
			if _, err := w.ResultElems(set, boolTrue); !errors.Is(err, ErrNotVector) {
				return fmt.Errorf("got %v, want ErrNotVector", err)
			}
			return nil
		}},
		{"ResultField", func() error { _, _, err := w.ResultField(get, strvalue, "value"); return err }},
		{"ResultValue", func() error { _, err := w.ResultValue(set, boolTrue); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.f(); err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(100, func() { _ = tc.f() }); n != 0 {
				t.Fatalf("%v allocs per run", n)
			}
		})
	}
}

package walk

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func tenKeys() []string {
	keys := make([]string, 10)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%d%s", i, string(make([]byte, i)))
	}
	return keys
}

func TestSplitGetMulti(t *testing.T) {
	w := memcacheWalker(t)
	keys := tenKeys()
	call := enc(nil).tag(tagOf(t, w, "memcache.getMulti")).strs(keys...)
	sets := []struct {
		name string
		keep []int
	}{
		{"none", nil},
		{"first", []int{0}},
		{"last", []int{9}},
		{"all", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"odd", []int{1, 3, 5, 7, 9}},
		{"runs", []int{0, 1, 2, 7, 8}},
	}
	for _, tc := range sets {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := w.Split(nil, call, "keys", tc.keep)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Check(sub); err != nil {
				t.Fatalf("sub-call does not validate: %v", err)
			}
			want := make([]string, 0, len(tc.keep))
			for _, i := range tc.keep {
				want = append(want, keys[i])
			}
			it, err := w.ArgElems(sub, "keys")
			if err != nil {
				t.Fatal(err)
			}
			if got := keyStrings(t, it); !slices.Equal(got, want) {
				t.Fatalf("keys %q, want %q", got, want)
			}
			// Byte-exact: the same as encoding the chosen keys directly.
			if direct := enc(nil).tag(tagOf(t, w, "memcache.getMulti")).strs(want...); string(direct) != string(sub) {
				t.Fatalf("sub-call\n% x\nwant\n% x", sub, direct)
			}
		})
	}
	for _, keep := range [][]int{{1, 1}, {2, 1}, {10}, {-1}} {
		if _, err := w.Split(nil, call, "keys", keep); !errors.Is(err, ErrIndex) {
			t.Fatalf("keep %v: %v", keep, err)
		}
	}
}

func TestSplitShapes(t *testing.T) {
	w := srcWalker(t, diagonalSrc)
	tag := func(n string) enc { return enc(nil).tag(tagOf(t, w, n)) }
	tests := []struct {
		name string
		call []byte
		arg  string
		keep []int
		want []byte
		err  error
	}{
		{
			name: "shared n cuts both arrays",
			call: tag("test.multi").u32(4).i32(10).i32(11).i32(12).i32(13).str("a").str("b").str("c").str("d").i32(99),
			arg:  "ids", keep: []int{1, 3},
			want: tag("test.multi").u32(2).i32(11).i32(13).str("b").str("d").i32(99),
		},
		{
			name: "shared n by the other array",
			call: tag("test.multi").u32(3).i32(10).i32(11).i32(12).str("a").str("b").str("c").i32(99),
			arg:  "names", keep: []int{0},
			want: tag("test.multi").u32(1).i32(10).str("a").i32(99),
		},
		{
			name: "boxed vector between fields",
			call: tag("test.boxedVec").i32(1).tag(0x1cb5c415).u32(3).tag(0x22076cba).i64(1).tag(0x22076cba).i64(2).tag(0x22076cba).i64(3).str("z"),
			arg:  "keys", keep: []int{0, 2},
			want: tag("test.boxedVec").i32(1).tag(0x1cb5c415).u32(2).tag(0x22076cba).i64(1).tag(0x22076cba).i64(3).str("z"),
		},
		{
			name: "dictionary argument",
			call: tag("test.dictArg").u32(2).str("a").i32(1).str("b").i32(2),
			arg:  "d", keep: []int{1},
			want: tag("test.dictArg").u32(1).str("b").i32(2),
		},
		{
			name: "result depends on n",
			call: tag("test.points").u32(1).u32(3).i64(7).i64(8).i64(9),
			arg:  "ids", keep: []int{2},
			want: tag("test.points").u32(1).u32(1).i64(9),
		},
		{name: "n is also a mask", call: tag("test.masked").u32(1).i32(5).i32(6), arg: "ids", keep: []int{0}, err: ErrUnsupported},
		{name: "n is also a tuple size", call: tag("test.tupleArg").u32(1).i32(5).i32(6), arg: "ids", keep: []int{0}, err: ErrUnsupported},
		{name: "tuple has no count", call: tag("test.tupleArg").u32(1).i32(5).i32(6), arg: "t", keep: []int{0}, err: ErrUnsupported},
		{name: "not a vector", call: tag("test.byId").i64(1).str("x"), arg: "name", keep: nil, err: ErrNotVector},
		{name: "bad call", call: tag("test.byId").i64(1), arg: "name", keep: nil, err: errTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := w.Split([]byte("prefix"), tc.call, tc.arg, tc.keep)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if string(got[:6]) != "prefix" {
				t.Fatal("dst prefix lost")
			}
			got = got[6:]
			if string(got) != string(tc.want) {
				t.Fatalf("got\n% x\nwant\n% x", got, tc.want)
			}
			if err := w.Check(got); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSplitResultCount: after a split, each answer is decoded with its own
// sub-call, so a result sized by the request's n follows the cut.
func TestSplitResultCount(t *testing.T) {
	w := srcWalker(t, diagonalSrc)
	call := enc(nil).tag(tagOf(t, w, "test.points")).u32(1).u32(3).i64(7).i64(8).i64(9)
	sub, err := w.Split(nil, call, "ids", []int{0, 2})
	if err != nil {
		t.Fatal(err)
	}
	pt := tagOf(t, w, "test.point")
	resp := enc(nil).tag(0x9770768a).tag(pt).i32(1).tag(pt).i32(2)
	it, err := w.ResultElems(sub, resp)
	if err != nil || it.Len() != 2 {
		t.Fatalf("len %d err %v", it.Len(), err)
	}
	it.Close()
	if err := w.CheckResult(call, resp); err == nil {
		t.Fatal("the original call wants 3 points")
	}
}

// TestSplitBy checks the one-pass split against Split, shard by shard.
func TestSplitBy(t *testing.T) {
	w := srcWalker(t, diagonalSrc)
	keys := tenKeys()
	getMulti := enc(nil).tag(tagOf(t, w, "memcache.getMulti")).strs(keys...)
	multi := enc(nil).tag(tagOf(t, w, "test.multi")).u32(4).i32(10).i32(11).i32(12).i32(13).str("a").str("b").str("c").str("d").i32(99)
	tests := []struct {
		name    string
		call    []byte
		arg     string
		shardOf []int
		shards  int
		err     error
	}{
		{"getMulti 3 shards", getMulti, "keys", []int{0, 1, 2, 0, 1, 2, 0, 0, 0, 2}, 3, nil},
		{"getMulti one empty shard", getMulti, "keys", []int{1, 1, 1, 1, 1, 0, 0, 0, 0, 0}, 3, nil},
		{"shared n", multi, "ids", []int{1, 0, 1, 1}, 2, nil},
		{"too few assignments", getMulti, "keys", []int{0}, 2, ErrIndex},
		{"shard out of range", multi, "ids", []int{0, 1, 2, 0}, 2, ErrIndex},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dsts := make([][]byte, tc.shards)
			err := w.SplitBy(dsts, tc.call, tc.arg, tc.shardOf)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			for s := range dsts {
				var keep []int
				for i, x := range tc.shardOf {
					if x == s {
						keep = append(keep, i)
					}
				}
				want, err := w.Split(nil, tc.call, tc.arg, keep)
				if err != nil {
					t.Fatal(err)
				}
				if string(dsts[s]) != string(want) {
					t.Fatalf("shard %d\n% x\nwant\n% x", s, dsts[s], want)
				}
			}
		})
	}
}

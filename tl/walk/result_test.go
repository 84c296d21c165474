package walk

import (
	"errors"
	"slices"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
)

func TestElemsField(t *testing.T) {
	w := memcacheWalker(t)
	call := benchGetMulti(t, w, 5)
	resp := vectorAnswer(t, w, 5) // element 4 is not_found
	it, err := w.ResultElems(call, resp)
	if err != nil {
		t.Fatal(err)
	}
	var flags []int32
	for it.Next() {
		s, e, err := it.Field("flags")
		if errors.Is(err, ErrAbsent) {
			flags = append(flags, -1)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		v, _, err := tl.ReadInt32(resp[s:e])
		if err != nil || e-s != 4 {
			t.Fatalf("flags %d..%d: %v", s, e, err)
		}
		flags = append(flags, v)
	}
	if len(flags) != 5 || flags[0] != 0 || flags[3] != 3 || flags[4] != -1 || it.Err() != nil {
		t.Fatalf("flags %v err %v", flags, it.Err())
	}

	eng := engineWalker(t)
	prefixes := enc(nil).tag(tagOf(t, eng, "engine.getBinlogPrefixes"))
	ans := enc(nil).tag(tl.TagVector).u32(2).str("b1").str("s1").str("b2").str("s22")
	it, err = eng.ResultElems(prefixes, ans)
	if err != nil {
		t.Fatal(err)
	}
	var snaps []string
	for it.Next() {
		s, e, err := it.Field("snapshot_prefix")
		if err != nil {
			t.Fatal(err)
		}
		v, _, _ := tl.ReadString(ans[s:e])
		snaps = append(snaps, v)
	}
	if len(snaps) != 2 || snaps[0] != "s1" || snaps[1] != "s22" {
		t.Fatalf("snapshots %q", snaps)
	}
	// Scalar elements have no fields.
	it, err = w.ArgElems(call, "keys")
	if err != nil || !it.Next() {
		t.Fatal(err)
	}
	if _, _, err := it.Field("x"); !errors.Is(err, ErrNotObject) {
		t.Fatalf("scalar element field: %v", err)
	}
}

func TestResultErrors(t *testing.T) {
	w := memcacheWalker(t)
	get := tltest.Unhex(t, hexGetFoo)
	multi := benchGetMulti(t, w, 2)
	tests := []struct {
		name string
		f    func() error
		err  error
	}{
		{"elems of object", func() error { _, err := w.ResultElems(get, tltest.Unhex(t, hexStrvalue)); return err }, ErrNotVector},
		{"elems truncated", func() error { _, err := w.ResultElems(multi, enc(nil).tag(tl.TagVector).u32(2)); return err }, tl.ErrTruncated},
		{"field of vector", func() error { _, _, err := w.ResultField(multi, enc(nil).tag(tl.TagVector).u32(0), "x"); return err }, ErrAbsent},
		{"value of vector", func() error { _, err := w.ResultValue(multi, enc(nil).tag(tl.TagVector).u32(0)); return err }, ErrType},
		{"unknown call", func() error { return w.CheckResult(enc(nil).tag(5), tltest.Unhex(t, hexBoolTrue)) }, ErrUnknownFunction},
		{"empty answer", func() error { return w.CheckResult(get, nil) }, tl.ErrTruncated},
	}
	for _, want := range []struct {
		call, resp []byte
		msg        string
	}{
		{get, tltest.Unhex(t, hexStrvalue), "walk: not a vector: memcache.strvalue"},
		{tltest.Unhex(t, hexSetFoo), tltest.Unhex(t, hexBoolTrue), "walk: not a vector: boolTrue"},
	} {
		if _, err := w.ResultElems(want.call, want.resp); err == nil || err.Error() != want.msg {
			t.Errorf("ResultElems: %v, want %q", err, want.msg)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.f(); !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
	// Iterating a closed iterator is an error, not a panic.
	it, err := w.ResultElems(multi, vectorAnswer(t, w, 2))
	if err != nil {
		t.Fatal(err)
	}
	it.Close()
	if it.Next() || it.Err() == nil {
		t.Fatal("closed iterator advanced")
	}
}

// TestVectorTotal: the elements of vectorTotal's vector field, and its
// total_count field, for a merge that sums totals and concatenates.
func TestVectorTotal(t *testing.T) {
	w := srcWalker(t, diagonalSrc)
	call := enc(nil).tag(tagOf(t, w, "test.list")).i32(10)
	resp := enc(nil).tag(tl.TagVectorTotal).i32(57).u32(3).i32(1).i32(2).i32(3)
	s, e, err := w.ResultField(call, resp, "total_count")
	if err != nil || s != 4 || e != 8 {
		t.Fatalf("total_count %d..%d %v", s, e, err)
	}
	it, err := w.ResultElems(call, resp)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for it.Next() {
		sum += it.Int()
	}
	if it.Len() != 3 || sum != 6 || it.CountPos() != 8 || it.Err() != nil {
		t.Fatalf("len %d sum %d countPos %d err %v", it.Len(), sum, it.CountPos(), it.Err())
	}
}

// TestKnownElems: an iterator over a layout given by the caller steps
// through exactly the given ranges; a layout that does not fit the buffer
// (count word, order, bounds) is an error, never a slice out of range.
func TestKnownElems(t *testing.T) {
	// head (4 bytes), count 3, elements of 4, 0 and 8 bytes, tail (4 bytes).
	b := []byte{9, 9, 9, 9, 3, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 7, 7, 7, 7}
	it, err := KnownElems(b, []int32{4, 12, 12, 20})
	if err != nil {
		t.Fatal(err)
	}
	if it.Len() != 3 || it.CountPos() != 4 {
		t.Fatalf("len %d, count at %d; want 3 at 4", it.Len(), it.CountPos())
	}
	var got [][2]int
	for it.Next() {
		s, e := it.Range()
		got = append(got, [2]int{s, e})
	}
	if want := [][2]int{{8, 12}, {12, 12}, {12, 20}}; !slices.Equal(got, want) || it.End() != 20 || it.Err() != nil {
		t.Fatalf("ranges %v, end %d, err %v; want %v ending at 20", got, it.End(), it.Err(), want)
	}
	empty := []byte{0, 0, 0, 0, 7}
	if it, err := KnownElems(empty, []int32{0}); err != nil || it.Len() != 0 || it.Next() || it.End() != 4 {
		t.Fatalf("empty vector: %v, len %d, end %d", err, it.Len(), it.End())
	}
	for _, tc := range []struct {
		name string
		cut  []int32
	}{
		{"no cut", nil},
		{"count differs", []int32{4, 12, 20}},
		{"count word past the end", []int32{22, 24}},
		{"negative count offset", []int32{-4, 0, 4, 8}},
		{"element before the count", []int32{4, 6, 12, 20}},
		{"ends out of order", []int32{4, 12, 10, 20}},
		{"end past the buffer", []int32{4, 12, 12, 25}},
	} {
		if _, err := KnownElems(b, tc.cut); err == nil {
			t.Errorf("%s (%v): no error", tc.name, tc.cut)
		}
	}
}

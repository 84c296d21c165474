package walk

import (
	"errors"
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

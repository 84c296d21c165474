package walk

import (
	"errors"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
)

// Golden vectors of tl.md §5.8.
const (
	hexGetFoo    = "ae133bd3 03666f6f"
	hexSetFoo    = "c454ebee 03666f6f 00000000 00000000 03626172"
	hexStrvalue  = "1abbbea6 03626172 01000000"
	hexNotFound  = "2224c432"
	hexBoolTrue  = "b5757299"
	hexDictAB    = "8f614c1f 01000000 01610000 01620000"
	hexSetTagBad = "c454ebee 03666f6f 00000000 00000000 03626172 00000000"
)

func TestGoldenIdentify(t *testing.T) {
	w := memcacheWalker(t)
	tests := []struct {
		name, hex, fn string
		err           error
	}{
		{"get", hexGetFoo, "memcache.get", nil},
		{"set", hexSetFoo, "memcache.set", nil},
		{"unknown", "01020304 00000000", "", ErrUnknownFunction},
		{"constructor tag", hexStrvalue, "", ErrUnknownFunction},
		{"short", "ae13", "", tl.ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := w.Function(tltest.Unhex(t, tc.hex))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && c.Name != tc.fn {
				t.Fatalf("function = %s, want %s", c.Name, tc.fn)
			}
		})
	}
	_, err := w.Function(tltest.Unhex(t, "01020304"))
	if err == nil || !strings.Contains(err.Error(), "0x04030201") {
		t.Fatalf("unknown tag error %v does not name the tag", err)
	}
}

func TestGoldenCheck(t *testing.T) {
	w := memcacheWalker(t)
	tests := []struct {
		name, hex string
		err       error
	}{
		{"get", hexGetFoo, nil},
		{"set", hexSetFoo, nil},
		{"trailing", hexSetTagBad, ErrTrailing},
		{"truncated string", "ae133bd3 03666f", tl.ErrTruncated},
		{"truncated set", "c454ebee 03666f6f 00000000", tl.ErrTruncated},
		{"non-canonical", "ae133bd3 fe030000 666f6f00", tl.ErrNonCanonical},
		{"padding", "ae133bd3 01610100", tl.ErrPadding},
		{"getMulti", "d978499b 02000000 01610000 01620000", nil},
		{"getMulti hostile count", "d978499b ffffffff 01610000", tl.ErrTruncated},
		{"getMulti short", "d978499b 03000000 01610000 01620000", tl.ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := w.Check(tltest.Unhex(t, tc.hex))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestGoldenArg(t *testing.T) {
	w := memcacheWalker(t)
	tests := []struct {
		name, hex, arg, want string
		err                  error
	}{
		{"get key", hexGetFoo, "key", "03666f6f", nil},
		{"set value", hexSetFoo, "value", "03626172", nil},
		{"set delay", hexSetFoo, "delay", "00000000", nil},
		{"no arg", hexGetFoo, "nope", "", ErrNoArg},
		{"getMulti keys", "d978499b 01000000 01610000", "keys", "01000000 01610000", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			call := tltest.Unhex(t, tc.hex)
			s, e, err := w.Arg(call, tc.arg)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && string(call[s:e]) != string(tltest.Unhex(t, tc.want)) {
				t.Fatalf("arg = % x, want %s", call[s:e], tc.want)
			}
		})
	}
}

func TestGoldenResults(t *testing.T) {
	w := memcacheWalker(t)
	get, set := tltest.Unhex(t, hexGetFoo), tltest.Unhex(t, hexSetFoo)
	tests := []struct {
		name      string
		call      []byte
		resp      string
		field     string
		wantField string
		err       error
	}{
		{"strvalue", get, hexStrvalue, "value", "03626172", nil},
		{"strvalue flags", get, hexStrvalue, "flags", "01000000", nil},
		{"not_found", get, hexNotFound, "value", "", ErrAbsent},
		{"bool is not object", set, hexBoolTrue, "x", "", ErrAbsent},
		{"bad tag", get, hexBoolTrue, "value", "", ErrUnknownConstructor},
		{"trailing", get, hexNotFound + " 00000000", "value", "", ErrTrailing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := tltest.Unhex(t, tc.resp)
			s, e, err := w.ResultField(tc.call, resp, tc.field)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && string(resp[s:e]) != string(tltest.Unhex(t, tc.wantField)) {
				t.Fatalf("field = % x, want %s", resp[s:e], tc.wantField)
			}
		})
	}
	v, err := w.ResultValue(set, tltest.Unhex(t, hexBoolTrue))
	if err != nil || v.Kind != KindBool || v.Int != 1 {
		t.Fatalf("Bool result = %+v, %v", v, err)
	}
	if _, err := w.ResultValue(get, tltest.Unhex(t, hexStrvalue)); !errors.Is(err, ErrType) {
		t.Fatalf("object as scalar: %v", err)
	}
}

func TestGoldenDictionary(t *testing.T) {
	w := srcWalker(t, `---functions---
test.dict = Dictionary string;
test.intDict = IntKeyDictionary Long;
`)
	call := enc(nil).tag(tagOf(t, w, "test.dict"))
	resp := tltest.Unhex(t, hexDictAB)
	if err := w.CheckResult(call, resp); err != nil {
		t.Fatal(err)
	}
	it, err := w.ResultElems(call, resp)
	if err != nil {
		t.Fatal(err)
	}
	if it.Len() != 1 || !it.Next() {
		t.Fatalf("len %d", it.Len())
	}
	if s, e := it.Range(); s != 8 || e != 16 {
		t.Fatalf("element range %d..%d, want 8..16", s, e)
	}
	if it.Next() || it.Err() != nil {
		t.Fatalf("extra element or error %v", it.Err())
	}
	// IntKeyDictionary Long: key int, boxed long value per element.
	call = enc(nil).tag(tagOf(t, w, "test.intDict"))
	resp = enc(nil).tag(tl.TagIntKeyDictionary).u32(2).i32(7).tag(tl.TagLong).i64(-1).i32(9).tag(tl.TagLong).i64(5)
	it, err = w.ResultElems(call, resp)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for it.Next() {
		if s, e := it.Range(); e-s != 16 {
			t.Fatalf("element %d is %d bytes", n, e-s)
		}
		n++
	}
	if n != 2 || it.Err() != nil {
		t.Fatalf("n=%d err=%v", n, it.Err())
	}
	bad := enc(nil).tag(tl.TagIntKeyDictionary).u32(1).i32(7).tag(tl.TagInt).i64(-1)
	if err := w.CheckResult(call, bad); !errors.Is(err, tl.ErrTag) {
		t.Fatalf("wrong boxed tag: %v", err)
	}
}

func TestArgTypeAndSkip(t *testing.T) {
	w := srcWalker(t, diagonalSrc)
	fn := w.Schema().Function("test.boxedVec")
	ref, err := ArgType(fn, "keys")
	if err != nil || ref.Type == nil || ref.Type.Name != "Vector" {
		t.Fatalf("ArgType = %+v, %v", ref, err)
	}
	if _, err := ArgType(fn, "nope"); !errors.Is(err, ErrNoArg) {
		t.Fatalf("missing arg: %v", err)
	}
	vec := enc(nil).tag(tl.TagVector).u32(1).tag(tl.TagLong).i64(3)
	if n, err := w.Skip(append(vec, 9, 9, 9, 9), ref); err != nil || n != len(vec) {
		t.Fatalf("Skip = %d, %v", n, err)
	}
	// A ref that needs its combinator's template params cannot be skipped
	// on its own.
	diag := w.Schema().Function("rpcProxy.diagonal")
	if _, err := w.Skip(enc(nil).tag(tl.TagVector).u32(1).tag(tl.TagMaybeTrue).u32(0), diag.Result); !errors.Is(err, ErrUnbound) {
		t.Fatalf("unbound X: %v", err)
	}
	for k, want := range map[Kind]string{KindInt: "int", KindLong: "long", KindString: "string", KindBool: "Bool", KindVector: "vector", KindNone: "none", KindNat: "#"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q", k, k.String())
		}
	}
}

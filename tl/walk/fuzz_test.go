package walk

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// fuzzTarget is one thing FuzzSkip walks random bytes as.
type fuzzTarget struct {
	w    *Walker
	ref  *schema.TypeRef // nil: the bytes are a whole call
	call []byte          // non-nil: the bytes are an answer to call
}

func fuzzTargets(t testing.TB) []fuzzTarget {
	eng := engineWalker(t)
	rpc := loadWalker(t, true, corpus+"rpc.tl")
	com := loadWalker(t, false, corpus+"common.tl")
	diag := srcWalker(t, diagonalSrc)
	boxed := func(w *Walker, name string) *schema.TypeRef {
		typ := w.Schema().Type(name)
		if typ == nil {
			t.Fatalf("no type %s", name)
		}
		return &schema.TypeRef{Kind: schema.RefType, Type: typ, Prim: typ.Prim}
	}
	result := func(w *Walker, fn string) *schema.TypeRef { return w.Schema().Function(fn).Result }
	return []fuzzTarget{
		{w: eng},
		{w: com},
		{w: diag},
		{w: memcacheWalker(t)},
		{w: eng, ref: result(eng, "engine.getExpectedMetafilesStats")},
		{w: eng, ref: result(eng, "engine.getBinlogPrefixes")},
		{w: eng, ref: result(eng, "engine.getReindexStatus")},
		{w: eng, ref: boxed(eng, "engine.HttpQueryResponse")},
		{w: rpc, ref: boxed(rpc, "netUdpPacket.UnencHeader")},
		{w: rpc, ref: boxed(rpc, "netUdpPacket.EncHeader")},
		{w: rpc, ref: boxed(rpc, "RpcInvokeReqExtra")},
		{w: eng, call: enc(nil).tag(tagOf(t, eng, "engine.getReadWriteMode")).u32(3)},
		{w: com, call: append(enc(nil).tag(tagOf(t, com, "rpcInvokeReq")).i64(1), enc(nil).tag(tagOf(t, com, "kphp.pingRpcCluster")).i32(1)...)},
		{w: diag, call: append(enc(nil).tag(0xbceb94c3), enc(nil).tag(tagOf(t, diag, "memcache.get")).str("k")...)},
		{w: diag, call: enc(nil).tag(tagOf(t, diag, "test.points")).u32(3).u32(2).i64(1).i64(2)},
	}
}

func FuzzSkip(f *testing.F) {
	targets := fuzzTargets(f)
	f.Add([]byte(tltest.Unhex(f, hexGetFoo)), uint8(3))
	f.Add([]byte(tltest.Unhex(f, hexDictAB)), uint8(4))
	var ends []int32 // reused across inputs, as a merge's scratch is
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		tg := targets[int(which)%len(targets)]
		switch {
		case tg.ref != nil:
			n, err := tg.w.Skip(data, tg.ref)
			if err != nil {
				return
			}
			if n <= 0 || n > len(data) || n%4 != 0 {
				t.Fatalf("Skip consumed %d of %d", n, len(data))
			}
			if n2, err := tg.w.Skip(data[:n], tg.ref); err != nil || n2 != n {
				t.Fatalf("second pass: %d, %v; first %d", n2, err, n)
			}
			if n3, err := tg.w.Skip(append(slices.Clip(data[:n]), 1, 2, 3, 4), tg.ref); err != nil || n3 != n {
				t.Fatalf("with trailing bytes: %d, %v; want %d", n3, err, n)
			}
		case tg.call != nil:
			err := tg.w.CheckResult(tg.call, data)
			for _, name := range []string{"result", "read_enabled", "write_enabled"} {
				if s, e, ferr := tg.w.ResultField(tg.call, data, name); ferr == nil && (err != nil || s < 0 || e > len(data) || e < s) {
					t.Fatalf("field %s %d..%d of %d bytes, check error %v", name, s, e, len(data), err)
				}
			}
			if _, verr := tg.w.ResultValue(tg.call, data); verr == nil && err != nil {
				t.Fatalf("ResultValue accepted what CheckResult refused: %v", err)
			}
			if err == nil {
				if err := tg.w.CheckResult(tg.call, append(slices.Clip(data), 0, 0, 0, 0)); !errors.Is(err, ErrTrailing) {
					t.Fatalf("trailing word accepted: %v", err)
				}
			}
			if it, err := tg.w.ResultElems(tg.call, data); err == nil {
				// The one-pass iterator must agree element by element.
				one, err := tg.w.ResultElemsInto(tg.call, data, &ends)
				if err != nil {
					t.Fatalf("ResultElemsInto refused what ResultElems accepted: %v", err)
				}
				end := 0
				for it.Next() {
					s, e := it.Range()
					if s < end || e < s || e > len(data) {
						t.Fatalf("element %d..%d after %d", s, e, end)
					}
					if !one.Next() {
						t.Fatalf("one-pass iterator stopped before %d..%d: %v", s, e, one.Err())
					}
					if s1, e1 := one.Range(); s1 != s || e1 != e {
						t.Fatalf("one-pass element %d..%d, walked %d..%d", s1, e1, s, e)
					}
					end = e
					for _, name := range []string{"result", "value", "x"} {
						if fs, fe, err := it.Field(name); err == nil && (fs < s || fe > e || fe < fs) {
							t.Fatalf("field %s %d..%d outside element %d..%d", name, fs, fe, s, e)
						}
					}
				}
				if it.Err() != nil {
					t.Fatalf("validated answer failed to iterate: %v", it.Err())
				}
				if one.Next() || one.End() != it.End() {
					t.Fatalf("one-pass iterator ends at %d, walked %d", one.End(), it.End())
				}
			}
		default:
			err := tg.w.Check(data)
			if err != nil {
				return
			}
			fn, _ := tg.w.Function(data)
			end := 4
			for i := range fn.Fields {
				s, e, err := tg.w.Arg(data, fn.Fields[i].Name)
				if errors.Is(err, ErrAbsent) || fn.Fields[i].Name == "" {
					continue
				}
				if err != nil || s != end || e < s {
					t.Fatalf("arg %s: %d..%d %v, want start %d", fn.Fields[i].Name, s, e, err, end)
				}
				end = e
			}
			if err := tg.w.Check(append(slices.Clip(data), 0, 0, 0, 0)); !errors.Is(err, ErrTrailing) {
				t.Fatalf("trailing word accepted: %v", err)
			}
		}
	})
}

// FuzzSplit builds a getMulti and a test.multi (two arrays sharing n)
// from random keys, splits them by a random index set, and checks the
// sub-calls validate and hold exactly the chosen elements in order. Raw
// data is also split as a call, which must never panic and, when it
// succeeds, produce a valid call.
func FuzzSplit(f *testing.F) {
	w := srcWalker(f, diagonalSrc)
	getMulti, multi := tagOf(f, w, "memcache.getMulti"), tagOf(f, w, "test.multi")
	f.Add([]byte("a|bb|ccc|dddd"), uint64(0b1011))
	f.Add([]byte(""), uint64(0))
	f.Add([]byte(enc(nil).tag(getMulti).strs("x", "y")), uint64(2))
	f.Fuzz(func(t *testing.T, data []byte, mask uint64) {
		var keep []int
		keys := bytes.Split(data, []byte("|"))
		if len(keys) > 64 {
			keys = keys[:64]
		}
		for i := range keys {
			if mask>>i&1 != 0 {
				keep = append(keep, i)
			}
		}
		call := enc(nil).tag(getMulti).u32(uint32(len(keys)))
		shared := enc(nil).tag(multi).u32(uint32(len(keys)))
		for i, k := range keys {
			call = call.str(string(k))
			shared = shared.i32(int32(i))
		}
		for _, k := range keys {
			shared = shared.str(string(k))
		}
		shared = shared.i32(-1)
		for _, c := range []struct {
			call []byte
			arg  string
		}{{call, "keys"}, {shared, "names"}, {shared, "ids"}} {
			sub, err := w.Split(nil, c.call, c.arg, keep)
			if err != nil {
				t.Fatalf("split %s: %v", c.arg, err)
			}
			if err := w.Check(sub); err != nil {
				t.Fatalf("sub-call invalid: %v\n% x", err, sub)
			}
			arg := "keys"
			if c.arg != "keys" {
				arg = "names"
			}
			it, err := w.ArgElems(sub, arg)
			if err != nil {
				t.Fatal(err)
			}
			j := 0
			for it.Next() {
				v, _ := it.Value()
				if j >= len(keep) || !bytes.Equal(v.Bytes, keys[keep[j]]) {
					t.Fatalf("element %d = %q", j, v.Bytes)
				}
				j++
			}
			if j != len(keep) {
				t.Fatalf("%d elements, want %d", j, len(keep))
			}
		}
		if sub, err := w.Split(nil, data, "keys", keep); err == nil {
			if err := w.Check(sub); err != nil {
				t.Fatalf("split of raw call invalid: %v", err)
			}
		}
	})
}

// TestFuzzSkipSeedsValid keeps the committed FuzzSkip seeds meaningful:
// each must be a valid value for its target, so fuzzing starts deep.
func TestFuzzSkipSeedsValid(t *testing.T) {
	targets := fuzzTargets(t)
	files, err := filepath.Glob("testdata/fuzz/FuzzSkip/*")
	if err != nil || len(files) < len(targets) {
		t.Fatalf("%d seed files, want at least %d: %v", len(files), len(targets), err)
	}
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(src)), "\n")
		if len(lines) != 3 {
			t.Fatalf("%s: %d lines", name, len(lines))
		}
		data, err1 := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		which, err2 := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[2], "byte("), ")"))
		if err1 != nil || err2 != nil || len(which) != 1 {
			t.Fatalf("%s: %v %v", name, err1, err2)
		}
		tg := targets[int(which[0])%len(targets)]
		b := []byte(data)
		switch {
		case tg.ref != nil:
			_, err = tg.w.Skip(b, tg.ref)
		case tg.call != nil:
			err = tg.w.CheckResult(tg.call, b)
		default:
			err = tg.w.Check(b)
		}
		if err != nil {
			t.Errorf("%s (target %d): %v", name, which[0], err)
		}
	}
}

// FuzzKnownElems: whatever the buffer and the layout claimed for it,
// KnownElems refuses it or iterates exactly len(cut)-1 ranges, in order,
// within the buffer, after the count word; nothing panics.
func FuzzKnownElems(f *testing.F) {
	f.Add([]byte{3, 0, 0, 0, 1, 1, 1, 1, 2, 2}, []byte{0, 8, 8, 10})
	f.Add([]byte{0, 0, 0, 0}, []byte{0})
	f.Add([]byte{1, 0, 0, 0, 5}, []byte{0, 200})
	f.Add([]byte{2, 0, 0, 0, 5, 5}, []byte{0, 6, 5})
	f.Fuzz(func(t *testing.T, b, raw []byte) {
		cut := make([]int32, len(raw))
		for i, v := range raw {
			cut[i] = int32(int8(v)) // small offsets, negative ones too
		}
		it, err := KnownElems(b, cut)
		if err != nil {
			return
		}
		prev, n := int(cut[0])+4, 0
		for it.Next() {
			s, e := it.Range()
			if s != prev || e < s || e > len(b) || !bytes.Equal(it.Bytes(), b[s:e]) {
				t.Fatalf("element %d at [%d:%d] after %d, buffer of %d", n, s, e, prev, len(b))
			}
			prev = e
			n++
		}
		if n != len(cut)-1 || it.Err() != nil || it.End() != prev {
			t.Fatalf("%d elements of %d, err %v, end %d", n, len(cut)-1, it.Err(), it.End())
		}
	})
}

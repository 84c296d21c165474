package walk

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
)

// fastSrc has every shape the fast paths of plan.go take, and neighbours
// they must leave to the interpreter.
const fastSrc = `
memcache.not_found = memcache.Value;
memcache.strvalue value:string flags:int = memcache.Value;
memcache.longvalue value:long flags:int = memcache.Value;
test.pt x:int y:long = test.Pt;
test.ev id:long name:string ts:Long = test.Ev;
---functions---
memcache.getMulti keys:%(Vector string) = Vector memcache.Value;
test.ints pre:int ids:(Vector Long) post:string = Vector int;
test.pts ids:%(Vector int) = Vector %test.Pt;
test.ctors ids:%(Vector Int) = Vector test.pt;
test.evs names:(Vector %String) = Vector test.Ev;
test.maybes ids:%(Vector long) = Vector (Maybe int);
test.masked fm:# keys:fm.0?%(Vector string) = Vector int;
`

// interpreter returns a walker over w's schema with the fast paths off.
func interpreter(w *Walker) *Walker {
	wi := New(w.s)
	for _, fi := range wi.funcs {
		fi.args, fi.result = nil, nil
	}
	return wi
}

// transcript records everything the walker's entry points say about call
// (and resp, when not nil): results, element ranges, fields and errors.
func transcript(w *Walker, call, resp []byte) string {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format+"\n", args...) }
	p("check %v", w.Check(call))
	fn, err := w.Function(call)
	if err != nil {
		p("function %v", err)
		return sb.String()
	}
	for i := range fn.Fields {
		name := fn.Fields[i].Name
		s, e, err := w.Arg(call, name)
		p("arg %s %d..%d %v", name, s, e, err)
		it, err := w.ArgElems(call, name)
		p("argElems %s len %d count@%d %v", name, it.Len(), it.CountPos(), err)
		if err != nil {
			continue
		}
		for it.Next() {
			s, e := it.Range()
			v, ok := it.Value()
			p("  %d..%d %v %d %q %v", s, e, v.Kind, v.Int, v.Bytes, ok)
		}
		p("  end %d %v", it.End(), it.Err())
		shardOf := make([]int, it.Len())
		for k := range shardOf {
			shardOf[k] = k * 7 % 3
		}
		dsts := make([][]byte, 3)
		err = w.SplitBy(dsts, call, name, shardOf)
		p("splitBy %x %v", dsts, err)
	}
	if resp == nil {
		return sb.String()
	}
	p("checkResult %v", w.CheckResult(call, resp))
	it, err := w.ResultElems(call, resp)
	elems(p, "resultElems", &it, err)
	// One pass: the ends the scan records (into a buffer holding stale
	// offsets) must iterate exactly as the walk does.
	ends := []int32{99, 98, 97}
	it, err = w.ResultElemsInto(call, resp, &ends)
	elems(p, "resultElemsInto", &it, err)
	return sb.String()
}

// elems records an element iterator's length, ranges and fields.
func elems(p func(string, ...any), name string, it *Elems, err error) {
	p("%s len %d count@%d %v", name, it.Len(), it.CountPos(), err)
	if err != nil {
		return
	}
	for it.Next() {
		s, e := it.Range()
		p("  %d..%d", s, e)
		for _, name := range []string{"value", "flags", "y", "name", "ts", "nope"} {
			fs, fe, err := it.Field(name)
			p("    %s %d..%d %v", name, fs, fe, err)
		}
	}
	p("  end %d %v", it.End(), it.Err())
}

// mutations returns b, every prefix of b, b with each byte set to 0x00,
// 0xfe and 0xff in turn, and b with a trailing word.
func mutations(b []byte) [][]byte {
	out := [][]byte{b, append(b[:len(b):len(b)], 0, 0, 0, 0)}
	for k := range len(b) {
		out = append(out, b[:k])
		for _, v := range []byte{0, 0x01, 0xfe, 0xff} {
			m := append([]byte(nil), b...)
			m[k] = v
			out = append(out, m)
		}
	}
	return out
}

// TestFastPathMatchesInterpreter runs the fast paths and the interpreter
// on the same valid, truncated and corrupted calls and answers and wants
// the same transcript, error text included.
func TestFastPathMatchesInterpreter(t *testing.T) {
	w := srcWalker(t, fastSrc)
	wi := interpreter(w)
	tag := func(name string) uint32 { return tagOf(t, w, name) }
	long := strings.Repeat("x", 300)
	strv := enc(nil).tag(tag("memcache.strvalue")).str("v1").i32(7)
	longv := enc(nil).tag(tag("memcache.longvalue")).i64(-5).i32(1)
	nf := enc(nil).tag(tag("memcache.not_found"))
	values := append(append(append(enc(nil).tag(tl.TagVector).u32(4), strv...), nf...), longv...)
	values = append(values, enc(nil).tag(tag("memcache.strvalue")).str(long).i32(2)...)
	ev := func(id int64, name string, ts int64) enc {
		return enc(nil).tag(tag("test.ev")).i64(id).str(name).tag(0x22076cba).i64(ts)
	}
	tests := []struct {
		name       string
		call, resp []byte
		args, res  bool // the function has a call / result plan
	}{
		{"getMulti", enc(nil).tag(tag("memcache.getMulti")).strs("a", "bb", "ccc", long, ""), values, true, true},
		{"getMulti empty", enc(nil).tag(tag("memcache.getMulti")).u32(0), enc(nil).tag(tl.TagVector).u32(0), true, true},
		{"boxed Long keys", enc(nil).tag(tag("test.ints")).i32(1).tag(tl.TagVector).u32(2).tag(0x22076cba).i64(5).tag(0x22076cba).i64(6).str("p"),
			enc(nil).tag(tl.TagVector).u32(2).i32(1).i32(2), true, true},
		{"bare elements", enc(nil).tag(tag("test.pts")).u32(1).i32(3),
			enc(nil).tag(tl.TagVector).u32(2).i32(1).i64(2).i32(3).i64(4), true, true},
		{"ctor elements", enc(nil).tag(tag("test.ctors")).u32(2).tag(0xa8509bda).i32(3).tag(0xa8509bda).i32(4),
			enc(nil).tag(tl.TagVector).u32(1).i32(1).i64(2), true, true},
		{"boxed one-ctor elements", enc(nil).tag(tag("test.evs")).tag(tl.TagVector).strs("a", "b"),
			append(append(enc(nil).tag(tl.TagVector).u32(2), ev(1, "first", 10)...), ev(2, long, 20)...), true, true},
		{"Maybe elements (interpreter)", enc(nil).tag(tag("test.maybes")).u32(1).i64(9),
			enc(nil).tag(tl.TagVector).u32(2).tag(tl.TagMaybeTrue).i32(1).tag(tl.TagMaybeFalse), true, false},
		{"masked keys (interpreter)", enc(nil).tag(tag("test.masked")).u32(1).strs("k"),
			enc(nil).tag(tl.TagVector).u32(1).i32(1), false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fi, err := w.lookup(tc.call)
			if err != nil {
				t.Fatal(err)
			}
			if (fi.args != nil) != tc.args || (fi.result != nil) != tc.res {
				t.Fatalf("plans: args %v result %v, want %v %v", fi.args != nil, fi.result != nil, tc.args, tc.res)
			}
			if err := w.Check(tc.call); err != nil {
				t.Fatalf("call invalid: %v", err)
			}
			if err := w.CheckResult(tc.call, tc.resp); err != nil {
				t.Fatalf("answer invalid: %v", err)
			}
			for _, call := range mutations(tc.call) {
				if got, want := transcript(w, call, nil), transcript(wi, call, nil); got != want {
					t.Fatalf("call %x:\nfast:\n%s\ninterpreter:\n%s", call, got, want)
				}
			}
			for _, resp := range mutations(tc.resp) {
				if got, want := transcript(w, tc.call, resp), transcript(wi, tc.call, resp); got != want {
					t.Fatalf("answer %x:\nfast:\n%s\ninterpreter:\n%s", resp, got, want)
				}
			}
		})
	}
}

// TestShortString: the 1-byte-length reader agrees with tl.ReadBytes
// wherever it answers, and answers for every canonical short string.
func TestShortString(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"empty input", nil, false},
		{"empty string", []byte{0, 0, 0, 0}, true},
		{"one byte", []byte{1, 'a', 0, 0}, true},
		{"three bytes", []byte{3, 'a', 'b', 'c'}, true},
		{"four bytes", []byte{4, 'a', 'b', 'c', 'd', 0, 0, 0}, true},
		{"short padding", []byte{1, 'a', 0}, false},
		{"dirty padding", []byte{1, 'a', 0, 1}, false},
		{"truncated", []byte{9, 'a', 0, 0}, false},
		{"253 bytes", append([]byte{253}, make([]byte, 255)...), true},
		{"medium form", append([]byte{0xfe, 0, 1, 0}, make([]byte, 256)...), false},
		{"medium form too short", append([]byte{0xfe, 5, 0, 0}, make([]byte, 8)...), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, end, ok := shortString(tc.b, 0)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			want, rest, err := tl.ReadBytes(tc.b)
			if ok && (err != nil || string(data) != string(want) || end != len(tc.b)-len(rest) || cap(data) != len(data)) {
				t.Fatalf("short %q end %d; ReadBytes %q %d %v", data, end, want, len(tc.b)-len(rest), err)
			}
		})
	}
}

// FuzzFastPath compares the fast paths with the interpreter on random
// calls (which even) and on random answers to fixed calls (which odd).
func FuzzFastPath(f *testing.F) {
	w := srcWalker(f, fastSrc)
	wi := interpreter(w)
	calls := [][]byte{
		enc(nil).tag(tagOf(f, w, "memcache.getMulti")).strs("a"),
		enc(nil).tag(tagOf(f, w, "test.pts")).u32(0),
		enc(nil).tag(tagOf(f, w, "test.evs")).tag(tl.TagVector).u32(0),
		enc(nil).tag(tagOf(f, w, "test.ints")).i32(1).tag(tl.TagVector).u32(0).str(""),
	}
	f.Add(calls[0], uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		if which%2 == 0 {
			if got, want := transcript(w, data, nil), transcript(wi, data, nil); got != want {
				t.Fatalf("call %x:\nfast:\n%s\ninterpreter:\n%s", data, got, want)
			}
			return
		}
		call := calls[int(which/2)%len(calls)]
		if got, want := transcript(w, call, data), transcript(wi, call, data); got != want {
			t.Fatalf("answer %x to %x:\nfast:\n%s\ninterpreter:\n%s", data, call, got, want)
		}
	})
}

package walk

import (
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

const corpus = "../../../shared/tl/"

func loadWalker(t testing.TB, prelude bool, paths ...string) *Walker {
	t.Helper()
	var s *schema.Schema
	var err error
	if prelude {
		s, err = schema.LoadWithPrelude(paths...)
	} else {
		s, err = schema.Load(paths...)
	}
	if err != nil {
		t.Fatalf("load %v: %v", paths, err)
	}
	return New(s)
}

func memcacheWalker(t testing.TB) *Walker {
	return loadWalker(t, true, "../../engines/memcache/memcache.tl")
}

func engineWalker(t testing.TB) *Walker { return loadWalker(t, true, corpus+"engine.tl") }

// srcWalker resolves an inline schema against the prelude.
func srcWalker(t testing.TB, src string) *Walker {
	t.Helper()
	f, err := schema.Parse("test.tl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema.Resolve(schema.Prelude(), f)
	if err != nil {
		t.Fatal(err)
	}
	return New(s)
}

// enc is a tiny test-only TL encoder.
type enc []byte

func (e enc) tag(v uint32) enc { return tl.AppendUint32(e, v) }
func (e enc) u32(v uint32) enc { return tl.AppendUint32(e, v) }
func (e enc) i32(v int32) enc  { return tl.AppendInt32(e, v) }
func (e enc) i64(v int64) enc  { return tl.AppendInt64(e, v) }
func (e enc) str(s string) enc { return tl.AppendString(e, s) }
func (e enc) strs(ss ...string) enc {
	e = e.u32(uint32(len(ss)))
	for _, s := range ss {
		e = e.str(s)
	}
	return e
}

func tagOf(t testing.TB, w *Walker, name string) uint32 {
	t.Helper()
	c := w.Schema().Combinator(name)
	if c == nil {
		t.Fatalf("no %s", name)
	}
	return c.Tag
}

func keyStrings(t testing.TB, it Elems) []string {
	t.Helper()
	var out []string
	for it.Next() {
		v, ok := it.Value()
		if !ok || v.Kind != KindString {
			t.Fatalf("element %d: not a string (%v)", len(out), v.Kind)
		}
		out = append(out, string(v.Bytes))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var errTruncated = tl.ErrTruncated

package schema

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestCorpusResolve pins which shared files resolve on their own, which need
// the prelude, and which conflict when combined.
func TestCorpusResolve(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		prelude bool
		wantErr error  // nil: resolves
		count   int    // expected number of errors when wantErr != nil
		first   string // substring of the first error
	}{
		{name: "common alone", files: []string{"common.tl"}},
		{name: "common with prelude", files: []string{"common.tl"}, prelude: true},
		{name: "rpc alone lacks int long double", files: []string{"rpc.tl"}, wantErr: ErrUnknownType, count: 41, first: "rpc.tl:27:30: unknown constructor long"},
		{name: "rpc with prelude", files: []string{"rpc.tl"}, prelude: true},
		{name: "engine alone lacks builtins Vector Dictionary True", files: []string{"engine.tl"}, wantErr: ErrUnknownType, count: 50, first: "engine.tl:3:34: unknown constructor int"},
		{name: "engine with prelude", files: []string{"engine.tl"}, prelude: true},
		{name: "engine with common duplicates", files: []string{"common.tl", "engine.tl"}, wantErr: ErrDuplicate, count: 18, first: "engine.tl:3:1: vectorTotal already declared at common.tl:24:1"},
		{name: "common with rpc duplicates", files: []string{"common.tl", "rpc.tl"}, wantErr: ErrDuplicate, first: "rpc.tl:6:1: vector already declared at common.tl:22:1"},
		{name: "telegram alone: tdlib-local Prefix functions reuse tags", files: []string{"telegram_api.tl"}, wantErr: ErrDuplicate, count: 4,
			first: "telegram_api.tl:2289:1: tag dd289f8e of invokeWithBusinessConnection already used by invokeWithBusinessConnectionPrefix at telegram_api.tl:31:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var paths []string
			for _, n := range tc.files {
				paths = append(paths, filepath.Join(corpusDir, n))
			}
			load := Load
			if tc.prelude {
				load = LoadWithPrelude
			}
			s, err := load(paths...)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				checkSchemaInvariants(t, s)
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %T is not an ErrorList", err)
			}
			if tc.count != 0 && len(list) != tc.count {
				t.Errorf("%d errors, want %d:\n%v", len(list), tc.count, err)
			}
			if !strings.Contains(list[0].Error(), tc.first) {
				t.Errorf("first error %q, want %q", list[0], tc.first)
			}
		})
	}
}

// checkSchemaInvariants walks the whole model and checks the invariants
// stated in doc.go.
func checkSchemaInvariants(t testing.TB, s *Schema) {
	t.Helper()
	for _, c := range s.Combinators {
		if c.Default {
			if s.ByTag(c.Tag) == c {
				t.Errorf("%s: default constructor reachable by tag", c.Name)
			}
		} else if s.ByTag(c.Tag) != c || s.Combinator(c.Name) != c {
			t.Errorf("%s: not found by tag %08x or name", c.Name, c.Tag)
		}
		if c.Function == (c.Result == nil) || c.Function == (c.Type != nil) {
			t.Errorf("%s: function=%v result=%v type=%v", c.Name, c.Function, c.Result, c.Type)
		}
		checkFields(t, c, c.Fields)
		if c.Result != nil {
			checkRef(t, c, c.Fields, len(c.Fields), c.Result)
			if c.Result.Bare {
				t.Errorf("%s: bare result", c.Name)
			}
		}
	}
	for _, ty := range s.Types {
		if s.Type(ty.Name) != ty || len(ty.Constructors) == 0 {
			t.Errorf("type %s: lookup or constructors broken", ty.Name)
		}
		for _, c := range ty.Constructors {
			if c.Type != ty || len(c.TypeParams) != len(ty.Params) {
				t.Errorf("type %s: constructor %s inconsistent", ty.Name, c.Name)
			}
		}
	}
}

func checkFields(t testing.TB, c *Combinator, fs []Field) {
	t.Helper()
	for i, f := range fs {
		if f.Cond != nil {
			checkNat(t, c, fs, i, f.Cond.Mask)
			if f.Cond.Mask.Kind == NatConst || f.Cond.Bit > 31 {
				t.Errorf("%s.%s: bad cond %+v", c.Name, f.Name, f.Cond)
			}
		}
		checkRef(t, c, fs, i, &f.Type)
	}
}

func checkNat(t testing.TB, c *Combinator, fs []Field, i int, n NatRef) {
	t.Helper()
	switch n.Kind {
	case NatConst:
	case NatField:
		if n.Index >= i || fs[n.Index].Type.Kind != RefNat {
			t.Errorf("%s: nat field ref %d at %d", c.Name, n.Index, i)
		}
	case NatParam:
		if n.Index >= len(c.Params) || !c.Params[n.Index].Nat {
			t.Errorf("%s: nat param ref %d", c.Name, n.Index)
		}
	default:
		t.Errorf("%s: unresolved nat ref at %d", c.Name, i)
	}
}

func checkRef(t testing.TB, c *Combinator, fs []Field, i int, r *TypeRef) {
	t.Helper()
	switch r.Kind {
	case RefNat:
		if r.Prim != PrimNat {
			t.Errorf("%s: nat without PrimNat", c.Name)
		}
	case RefType, RefCtor:
		if r.Type == nil || r.Prim != r.Type.Prim || len(r.Args) != len(r.Type.Params) {
			t.Errorf("%s: bad ref %+v", c.Name, r)
			return
		}
		if r.Kind == RefCtor && (r.Ctor == nil || r.Ctor.Type != r.Type || len(r.Type.Constructors) != 1 && r.Ctor.Name == "" || !r.Bare) {
			t.Errorf("%s: bad bare ref %+v", c.Name, r)
		}
		for k, a := range r.Args {
			if a.Nat != r.Type.Params[k].Nat {
				t.Errorf("%s: arg %d kind mismatch", c.Name, k)
			}
			if a.Nat {
				checkNat(t, c, fs, i, a.NatVal)
			} else {
				checkRef(t, c, fs, i, a.Type)
			}
		}
	case RefParam:
		if r.Param >= len(c.Params) || c.Params[r.Param].Nat {
			t.Errorf("%s: bad param ref %d", c.Name, r.Param)
		}
	case RefArray:
		checkNat(t, c, fs, i, r.Scale)
		checkFields(t, c, r.Elem)
	default:
		t.Errorf("%s: unresolved type ref", c.Name)
	}
}

package walk

import (
	"fmt"
	"sync"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// Walker interprets TL1 bytes against one resolved schema. Build it once
// with New; it is immutable afterwards (its state pool is internally
// synchronised) and safe for concurrent use.
type Walker struct {
	s     *schema.Schema
	funcs map[uint32]*fnInfo
	pool  sync.Pool // *state; one walk state per in-flight call
}

// fnInfo is what New precomputes per function so the common calls need no
// interpretation at all.
type fnInfo struct {
	c *schema.Combinator
	// steps is non-nil when every field is an unconditional primitive
	// (bare or boxed); such calls are validated by a flat loop.
	steps []step
	// args is non-nil when every field is an unconditional primitive or a
	// closed vector, at least one a vector (plan.go); result is set when
	// the result is a closed vector decoded without the request.
	args   []argPlan
	result *vecPlan
	// excl is the index of the !X field, or -1.
	excl int
	// transparent marks a wrapper whose result is the inner call's result
	// (rpcDestActor {X:Type} actor_id:long query:!X = X).
	transparent bool
	// needsReq is set when decoding the result needs the request's nat
	// values or !X bindings.
	needsReq bool
	// key is the default key argument: the first unconditional top-level
	// int, long or string (bare or boxed), or -1. A conditional argument is
	// never a default key: the shard would then depend on a mask bit.
	key int
	// vecKey is the first vector-like argument, or -1; Keys falls back to it
	// when there is no scalar key.
	vecKey int
}

// step is one primitive field of a flat call: tag is the boxed tag, or 0
// for a bare value.
type step struct {
	prim schema.PrimKind
	tag  uint32
}

// New precomputes per-function plans for s.
func New(s *schema.Schema) *Walker {
	w := &Walker{s: s, funcs: make(map[uint32]*fnInfo)}
	w.pool.New = func() any { return new(state) }
	for _, c := range s.Combinators {
		if !c.Function || c.Default {
			continue
		}
		if s.ByTag(c.Tag) != c {
			continue
		}
		w.funcs[c.Tag] = plan(c)
	}
	return w
}

func plan(c *schema.Combinator) *fnInfo {
	fi := &fnInfo{c: c, excl: -1, key: -1, vecKey: -1}
	flat := true
	steps := make([]step, 0, len(c.Fields))
	for i := range c.Fields {
		f := &c.Fields[i]
		if f.Excl {
			if fi.excl < 0 {
				fi.excl = i
			}
			flat = false
			continue
		}
		st, ok := primStep(&f.Type)
		if !ok || f.Cond != nil {
			flat = false
		}
		steps = append(steps, st)
		if fi.key < 0 && ok && f.Cond == nil && (st.prim == schema.PrimInt || st.prim == schema.PrimLong || st.prim == schema.PrimString) {
			fi.key = i
		}
		if fi.vecKey < 0 && f.Cond == nil && isVectorRef(&f.Type) {
			fi.vecKey = i
		}
	}
	if flat {
		fi.steps = steps
	}
	if fi.excl >= 0 {
		r := c.Result
		fi.transparent = r.Kind == schema.RefParam && r.Param == c.Fields[fi.excl].Type.Param
	}
	fi.needsReq = fi.excl >= 0 || refUsesFields(c.Result)
	fi.args = callPlan(c)
	if !fi.needsReq {
		fi.result = vectorPlan(c.Result)
	}
	return fi
}

// primStep reports whether ref is a primitive read without interpretation.
func primStep(ref *schema.TypeRef) (step, bool) {
	switch ref.Kind {
	case schema.RefNat:
		return step{prim: schema.PrimNat}, true
	case schema.RefCtor:
		if ref.Prim != schema.PrimNone {
			return step{prim: ref.Prim}, true
		}
	case schema.RefType:
		if ref.Prim != schema.PrimNone && len(ref.Type.Constructors) == 1 {
			return step{prim: ref.Prim, tag: ref.Type.Constructors[0].Tag}, true
		}
	}
	return step{}, false
}

// isVectorRef reports whether ref is spelled as a vector or an n*[...]
// array, the shapes Keys iterates when a call has no scalar key.
func isVectorRef(ref *schema.TypeRef) bool {
	switch ref.Kind {
	case schema.RefArray:
		return true
	case schema.RefType, schema.RefCtor:
		if ref.Prim != schema.PrimNone {
			return false
		}
		var c *schema.Combinator
		if ref.Kind == schema.RefCtor {
			c = ref.Ctor
		} else if len(ref.Type.Constructors) == 1 {
			c = ref.Type.Constructors[0]
		}
		return c != nil && vectorShaped(c)
	}
	return false
}

// vectorShaped reports whether c is laid out like vector: a count field
// followed by an array counted by it.
func vectorShaped(c *schema.Combinator) bool {
	if len(c.Fields) != 2 {
		return false
	}
	n, a := &c.Fields[0], &c.Fields[1]
	return n.Cond == nil && a.Cond == nil && !a.Excl && n.Type.Kind == schema.RefNat &&
		a.Type.Kind == schema.RefArray && a.Type.Scale.Kind == schema.NatField && a.Type.Scale.Index == 0
}

// refUsesFields reports whether ref (a function result) takes nat
// arguments from the function's fields.
func refUsesFields(ref *schema.TypeRef) bool {
	if ref == nil {
		return false
	}
	for _, a := range ref.Args {
		if a.Nat && a.NatVal.Kind == schema.NatField {
			return true
		}
		if !a.Nat && refUsesFields(a.Type) {
			return true
		}
	}
	return false
}

// Schema returns the schema the walker interprets.
func (w *Walker) Schema() *schema.Schema { return w.s }

// Function identifies a call by its leading tag.
func (w *Walker) Function(call []byte) (*schema.Combinator, error) {
	fi, err := w.lookup(call)
	if err != nil {
		return nil, err
	}
	return fi.c, nil
}

func (w *Walker) lookup(call []byte) (*fnInfo, error) {
	tag, _, err := tl.ReadUint32(call)
	if err != nil {
		return nil, fmt.Errorf("walk: function tag: %w", err)
	}
	fi := w.funcs[tag]
	if fi == nil {
		return nil, unknownFunction(tag)
	}
	return fi, nil
}

func unknownFunction(tag uint32) error {
	return fmt.Errorf("%w %#08x", ErrUnknownFunction, tag)
}

func (w *Walker) get() *state {
	st := w.pool.Get().(*state)
	st.w = w
	return st
}

func (w *Walker) put(st *state) {
	st.b = nil
	w.pool.Put(st)
}

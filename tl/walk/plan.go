package walk

import (
	"encoding/binary"
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// Fast paths. New compiles, once per function, skip plans for the shapes
// the proxy meets on every request: a call whose arguments are primitives
// and closed vectors (memcache.getMulti keys:%(Vector string)), and a
// result that is a closed vector of scalars or of a type whose
// constructors are all flat (Vector memcache.Value). A plan only answers
// "valid, and here is where it ends"; whenever it cannot say so (bad tag,
// truncation, non-canonical string, a count larger than the input) the
// caller runs the interpreter on the same bytes, so errors, and the
// decision about what is valid, are always the interpreter's. The fast
// path accepts a subset of what the interpreter accepts (FuzzFastPath and
// TestFastPathMatchesInterpreter pin it).

// vecPlan is a closed vector type, Vector t or %(Vector t), whose
// elements are checked without the interpreter.
type vecPlan struct {
	tag  uint32 // the vector's boxing tag, or 0 when bare
	elem elemPlan
}

// elemPlan is a vector's element type: a scalar (prim, with its boxing tag
// or 0), or a type whose constructors are all flat (ctors; picked by tag
// when boxed, else the only one).
type elemPlan struct {
	prim  schema.PrimKind
	tag   uint32
	boxed bool
	ctors []ctorPlan
}

// ctorPlan is one flat constructor: its tag and its fields' steps.
type ctorPlan struct {
	c     *schema.Combinator
	steps []step
}

// argPlan is one top-level argument of a call plan: a primitive step, or a
// vector when vec is set.
type argPlan struct {
	step
	vec *vecPlan
}

// callPlan returns the plan of c's arguments when every argument is an
// unconditional primitive or closed vector and at least one is a vector
// (all-primitive calls have fnInfo.steps), else nil.
func callPlan(c *schema.Combinator) []argPlan {
	args := make([]argPlan, len(c.Fields))
	vec := false
	for i := range c.Fields {
		f := &c.Fields[i]
		if f.Cond != nil || f.Excl {
			return nil
		}
		if s, ok := primStep(&f.Type); ok {
			args[i].step = s
			continue
		}
		if args[i].vec = vectorPlan(&f.Type); args[i].vec == nil {
			return nil
		}
		vec = true
	}
	if !vec || len(c.Fields) > MaxTopFields {
		return nil
	}
	return args
}

// vectorPlan returns the plan of ref when it is a closed vector (no
// template parameter or field reference left) of scalars or of a type of
// flat constructors, else nil.
func vectorPlan(ref *schema.TypeRef) *vecPlan {
	if ref == nil || (ref.Kind != schema.RefType && ref.Kind != schema.RefCtor) || ref.Prim != schema.PrimNone {
		return nil
	}
	vp := &vecPlan{}
	c := ref.Ctor
	if ref.Kind == schema.RefType {
		if ref.Type.Default != nil || len(ref.Type.Constructors) != 1 {
			return nil
		}
		c = ref.Type.Constructors[0]
		vp.tag = c.Tag
	}
	if c == nil || !vectorShaped(c) || len(c.Params) != 1 || len(c.TypeParams) != 1 || len(ref.Args) < 1 || ref.Args[0].Nat {
		return nil
	}
	arr := &c.Fields[1].Type
	if len(arr.Elem) != 1 || arr.Elem[0].Cond != nil || arr.Elem[0].Excl {
		return nil
	}
	et := &arr.Elem[0].Type
	if et.Kind != schema.RefParam || et.Param != c.TypeParams[0] {
		return nil
	}
	ep, ok := elemPlanOf(ref.Args[0].Type, et.Bare)
	if !ok {
		return nil
	}
	vp.elem = ep
	return vp
}

// elemPlanOf plans a closed element type; bare is a %t spelling in the
// vector's element.
func elemPlanOf(ref *schema.TypeRef, bare bool) (elemPlan, bool) {
	if ref == nil || ref.Kind == schema.RefParam || len(ref.Args) != 0 {
		return elemPlan{}, false
	}
	if s, ok := primStep(ref); ok {
		if bare {
			s.tag = 0
		}
		return elemPlan{prim: s.prim, tag: s.tag}, true
	}
	if (ref.Kind != schema.RefType && ref.Kind != schema.RefCtor) || ref.Prim != schema.PrimNone {
		return elemPlan{}, false
	}
	var ctors []*schema.Combinator
	ep := elemPlan{}
	switch {
	case ref.Kind == schema.RefCtor:
		ctors = []*schema.Combinator{ref.Ctor}
	case bare:
		if len(ref.Type.Constructors) != 1 {
			return elemPlan{}, false
		}
		ctors = ref.Type.Constructors
	default:
		if ref.Type.Default != nil {
			return elemPlan{}, false
		}
		ctors, ep.boxed = ref.Type.Constructors, true
	}
	for _, c := range ctors {
		if len(c.Params) != 0 || !flatFields(c.Fields) || (!ep.boxed && len(c.Fields) == 0) {
			// Zero-size bare elements have the interpreter's count cap.
			return elemPlan{}, false
		}
		cp := ctorPlan{c: c}
		for i := range c.Fields {
			s, _ := primStep(&c.Fields[i].Type)
			cp.steps = append(cp.steps, s)
		}
		ep.ctors = append(ep.ctors, cp)
	}
	return ep, len(ep.ctors) > 0
}

// shortString reads a string at pos in the 1-byte length form, the
// form of nearly every key and value, with tl.ReadBytes' checks (whole
// padding present and zero); ok is false for anything else, which the
// caller then hands to tl.ReadBytes.
func shortString(b []byte, pos int) (data []byte, end int, ok bool) {
	if pos >= len(b) {
		return nil, pos, false
	}
	n := int(b[pos])
	end = pos + (1+n+3)&^3
	if n > 253 || end > len(b) {
		return nil, pos, false
	}
	for _, c := range b[pos+1+n : end] {
		if c != 0 {
			return nil, pos, false
		}
	}
	return b[pos+1 : pos+1+n : pos+1+n], end, true
}

// fastPrim skips one bare primitive, reporting false instead of an error.
func fastPrim(b []byte, pos int, p schema.PrimKind) (int, bool) {
	if p == schema.PrimString || p == schema.PrimBytes {
		if _, end, ok := shortString(b, pos); ok {
			return end, true
		}
		_, rest, err := tl.ReadBytes(b[pos:])
		return len(b) - len(rest), err == nil
	}
	n := primSize(p)
	if n == 0 || len(b)-pos < n {
		return pos, false
	}
	return pos + n, true
}

// fastStep skips one step (tag, then primitive).
func fastStep(b []byte, pos int, s step) (int, bool) {
	if s.tag != 0 {
		if len(b)-pos < 4 || binary.LittleEndian.Uint32(b[pos:]) != s.tag {
			return pos, false
		}
		pos += 4
	}
	return fastPrim(b, pos, s.prim)
}

// ctorAt picks the constructor of the element at pos; body is where its
// fields start.
func (ep *elemPlan) ctorAt(b []byte, pos int) (cp *ctorPlan, body int, ok bool) {
	if !ep.boxed {
		return &ep.ctors[0], pos, true
	}
	if len(b)-pos < 4 {
		return nil, pos, false
	}
	tag := binary.LittleEndian.Uint32(b[pos:])
	for i := range ep.ctors {
		if ep.ctors[i].c.Tag == tag {
			return &ep.ctors[i], pos + 4, true
		}
	}
	return nil, pos, false
}

// skip skips one element at pos.
func (ep *elemPlan) skip(b []byte, pos int) (int, bool) {
	if ep.prim != schema.PrimNone {
		return fastStep(b, pos, step{prim: ep.prim, tag: ep.tag})
	}
	cp, pos, ok := ep.ctorAt(b, pos)
	if !ok {
		return pos, false
	}
	for _, s := range cp.steps {
		if pos, ok = fastStep(b, pos, s); !ok {
			return pos, false
		}
	}
	return pos, true
}

// scan checks the vector at pos and returns its end.
func (vp *vecPlan) scan(b []byte, pos int) (int, bool) { return vp.scanEnds(b, pos, nil) }

// scanEnds is scan, appending to *ends (unless ends is nil) the offset
// just past each element.
func (vp *vecPlan) scanEnds(b []byte, pos int, ends *[]int32) (int, bool) {
	if vp.tag != 0 {
		if len(b)-pos < 4 || binary.LittleEndian.Uint32(b[pos:]) != vp.tag {
			return pos, false
		}
		pos += 4
	}
	if len(b)-pos < 4 {
		return pos, false
	}
	n := binary.LittleEndian.Uint32(b[pos:])
	pos += 4
	// Every element is at least a word, so no loop runs past the input.
	if uint64(n) > uint64(len(b)-pos)/4 {
		return pos, false
	}
	ok := true
	for range n {
		if pos, ok = vp.elem.skip(b, pos); !ok {
			return pos, false
		}
		if ends != nil {
			*ends = append(*ends, int32(pos))
		}
	}
	return pos, true
}

// elems iterates the vector at pos, which scan accepted.
func (vp *vecPlan) elems(w *Walker, b []byte, pos int) Elems {
	if vp.tag != 0 {
		pos += 4
	}
	e := Elems{w: w, b: b, countPos: pos, n: int(binary.LittleEndian.Uint32(b[pos:])), pos: pos + 4}
	if vp.elem.prim != schema.PrimNone {
		e.prim, e.tag = vp.elem.prim, vp.elem.tag
	} else {
		e.plan = &vp.elem
	}
	return e
}

// scanCall checks a call of a call plan after its tag, like runSteps:
// the end of argument want (or of the call when want < 0) and its start.
func scanCall(b []byte, args []argPlan, want int) (start, end int, ok bool) {
	pos := 4
	for i := range args {
		a := &args[i]
		if i == want {
			start = pos
		}
		if a.vec != nil {
			pos, ok = a.vec.scan(b, pos)
		} else {
			pos, ok = fastStep(b, pos, a.step)
		}
		if !ok {
			return 0, 0, false
		}
		if i == want {
			end = pos
		}
	}
	if pos != len(b) {
		return 0, 0, false
	}
	if want < 0 {
		return 0, pos, true
	}
	return start, end, true
}

// planField is Elems.Field for an element of a planned flat type.
func (e *Elems) planField(name string) (start, end int, err error) {
	cp, pos, ok := e.plan.ctorAt(e.b, int(e.cur.start))
	if !ok {
		return 0, 0, fmt.Errorf("%w: element at %d", ErrUnknownConstructor, e.cur.start)
	}
	fields := cp.c.Fields
	i, err := fieldIndex(fields, name)
	if err != nil {
		return 0, 0, err
	}
	for j := range i {
		if pos, ok = fastStep(e.b, pos, cp.steps[j]); !ok {
			return 0, 0, fmt.Errorf("walk: field %s at %d: %w", fields[j].Name, pos, tl.ErrTruncated)
		}
	}
	start = pos
	if end, ok = fastStep(e.b, pos, cp.steps[i]); !ok {
		return 0, 0, fmt.Errorf("walk: field %s at %d: %w", name, pos, tl.ErrTruncated)
	}
	return start, end, nil
}

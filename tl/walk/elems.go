package walk

import (
	"encoding/binary"
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// Kind is the kind of a scalar Value.
type Kind uint8

const (
	KindNone   Kind = iota
	KindInt         // int, Int, %Int: Value.Int
	KindLong        // long, Long: Value.Int
	KindString      // string, String: Value.Bytes
	KindNat         // #: Value.Int
	KindBool        // Bool: Value.Int is 1 or 0
	KindVector      // a vector argument used as a key list: iterate it
)

func (k Kind) String() string {
	switch k {
	case KindInt:
		return "int"
	case KindLong:
		return "long"
	case KindString:
		return "string"
	case KindNat:
		return "#"
	case KindBool:
		return "Bool"
	case KindVector:
		return "vector"
	}
	return "none"
}

// Value is a scalar read in place: Bytes aliases the walked buffer.
// Start and End are the byte range of the whole value (tag included when
// boxed).
type Value struct {
	Kind  Kind
	Int   int64
	Bytes []byte
	Start int
	End   int
}

// readScalar reads a primitive of kind p at pos (after any tag).
func readScalar(b []byte, pos int, p schema.PrimKind) (Value, int, error) {
	var v Value
	switch p {
	case schema.PrimInt, schema.PrimNat:
		if len(b)-pos < 4 {
			return v, pos, fmt.Errorf("walk: int at %d: %w", pos, tl.ErrTruncated)
		}
		u := binary.LittleEndian.Uint32(b[pos:])
		if p == schema.PrimNat {
			v.Kind, v.Int = KindNat, int64(u)
		} else {
			v.Kind, v.Int = KindInt, int64(int32(u))
		}
		return v, pos + 4, nil
	case schema.PrimLong:
		if len(b)-pos < 8 {
			return v, pos, fmt.Errorf("walk: long at %d: %w", pos, tl.ErrTruncated)
		}
		v.Kind, v.Int = KindLong, int64(binary.LittleEndian.Uint64(b[pos:]))
		return v, pos + 8, nil
	case schema.PrimString, schema.PrimBytes:
		data, rest, err := tl.ReadBytes(b[pos:])
		if err != nil {
			return v, pos, fmt.Errorf("walk: string at %d: %w", pos, err)
		}
		v.Kind, v.Bytes = KindString, data
		return v, len(b) - len(rest), nil
	}
	end, err := skipPrim(b, pos, p)
	return v, end, err
}

// Elems iterates the elements of a vector, tuple or n*[...] array in
// place, without a callback and without allocating:
//
//	it, err := w.ArgElems(call, "keys")
//	for it.Next() {
//		start, end := it.Range()
//		v, ok := it.Value() // for int/long/string elements
//	}
//	err = it.Err()
//
// The enclosing call or result is validated before the first element, so
// Next fails only on a bug. Iterators over non-scalar elements hold a walk
// state that Next returns to the pool at the end; call Close when stopping
// early (or not: the state is then simply garbage collected). Do not copy
// an Elems once iteration has started: two copies would share one state.
type Elems struct {
	w   *Walker
	st  *state
	b   []byte
	pos int
	n   int // elements in all
	i   int // elements returned so far
	cur span
	// countPos is the offset of the count word, or -1 (tuple, n*[...]).
	countPos int
	// scalar elements: prim != PrimNone, tag is the boxing tag or 0.
	prim schema.PrimKind
	tag  uint32
	// other elements: the element field list and its frame in st.
	elem  []schema.Field
	frame int32
	// plan, when set, skips elements of a flat type without a walk state
	// (the fast path of plan.go).
	plan *elemPlan
	// The current scalar element: str for strings, num for the others.
	str []byte
	num int64
	err error
	// borrowed marks a state owned by the caller (Split), never pooled here.
	borrowed bool
	// ends, when set, holds where each element ends, recorded by the scan
	// that validated the buffer (ResultElemsInto): Next skips nothing.
	ends []int32
}

// KnownElems returns an iterator over a vector in b whose layout is
// already known: cut[0] is the offset of its count word, cut[1+i] where
// element i ends (the first starts after the count). It is for a buffer
// assembled from a validated answer (a proxy cutting one engine answer
// into several, ResultElemsInto having recorded the ends): nothing of the
// elements is walked, only the layout checked against b (the count word
// and the ends in order within b), so a wrong cut is an error, never an
// out-of-range slice. Its elements are ranges only: Bytes and Range, not
// the scalar values.
func KnownElems(b []byte, cut []int32) (Elems, error) {
	if len(cut) == 0 {
		return Elems{}, fmt.Errorf("walk: known elements: empty cut")
	}
	pos := int(cut[0]) + 4
	if cut[0] < 0 || pos > len(b) || int(binary.LittleEndian.Uint32(b[cut[0]:])) != len(cut)-1 {
		return Elems{}, fmt.Errorf("walk: known elements: no count of %d at %d", len(cut)-1, cut[0])
	}
	prev := pos
	for _, end := range cut[1:] {
		if int(end) < prev || int(end) > len(b) {
			return Elems{}, fmt.Errorf("walk: known elements: end %d out of order or past %d bytes", end, len(b))
		}
		prev = int(end)
	}
	ends := cut[1:]
	if len(ends) == 0 {
		ends = nil
	}
	return Elems{b: b, pos: pos, n: len(cut) - 1, countPos: int(cut[0]), ends: ends}, nil
}

// Len returns the element count.
func (e *Elems) Len() int { return e.n }

// CountPos returns the offset of the count word in the walked buffer, or -1
// when the count is not on the wire at that place (tuples, n*[...]).
func (e *Elems) CountPos() int { return e.countPos }

// Next advances to the next element.
func (e *Elems) Next() bool {
	if e.i >= e.n || e.err != nil {
		e.Close()
		return false
	}
	start := e.pos
	var err error
	if e.ends != nil {
		e.pos = int(e.ends[e.i])
	} else if e.prim != schema.PrimNone {
		if e.tag != 0 {
			e.pos, err = expectTag(e.b, e.pos, e.tag)
		}
		if err == nil {
			e.pos, err = e.scalar(e.pos)
		}
	} else if e.plan != nil {
		var ok bool
		if e.pos, ok = e.plan.skip(e.b, e.pos); !ok {
			err = fmt.Errorf("walk: element at %d: %w", start, tl.ErrTruncated)
		}
	} else if e.st == nil {
		err = fmt.Errorf("%w: iterator used after Close", ErrUnsupported)
	} else {
		m := e.st.mark()
		e.pos, err = e.st.walkFields(e.pos, e.elem, e.frame)
		e.st.popTo(m)
	}
	if err != nil {
		e.err = err
		e.Close()
		return false
	}
	e.i++
	e.cur = span{int32(start), int32(e.pos)}
	return true
}

// Range returns the byte range of the current element.
func (e *Elems) Range() (start, end int) { return int(e.cur.start), int(e.cur.end) }

// Bytes returns the current element's bytes (aliasing the input).
func (e *Elems) Bytes() []byte { return e.b[e.cur.start:e.cur.end] }

// scalar reads the current scalar element at pos (after its tag).
func (e *Elems) scalar(pos int) (int, error) {
	b := e.b
	switch e.prim {
	case schema.PrimString, schema.PrimBytes:
		if data, end, ok := shortString(b, pos); ok {
			e.str = data
			return end, nil
		}
		data, rest, err := tl.ReadBytes(b[pos:])
		if err != nil {
			return pos, fmt.Errorf("walk: string at %d: %w", pos, err)
		}
		e.str = data
		return len(b) - len(rest), nil
	case schema.PrimInt, schema.PrimNat:
		if len(b)-pos < 4 {
			return pos, fmt.Errorf("walk: int at %d: %w", pos, tl.ErrTruncated)
		}
		u := binary.LittleEndian.Uint32(b[pos:])
		if e.prim == schema.PrimInt {
			e.num = int64(int32(u))
		} else {
			e.num = int64(u)
		}
		return pos + 4, nil
	case schema.PrimLong:
		if len(b)-pos < 8 {
			return pos, fmt.Errorf("walk: long at %d: %w", pos, tl.ErrTruncated)
		}
		e.num = int64(binary.LittleEndian.Uint64(b[pos:]))
		return pos + 8, nil
	}
	return skipPrim(b, pos, e.prim)
}

// Str returns the current element's data when elements are strings.
func (e *Elems) Str() []byte { return e.str }

// Int returns the current element's value when elements are int, long or
// #.
func (e *Elems) Int() int64 { return e.num }

// Value returns the current element's value when elements are int, long,
// string or # (bare or boxed).
func (e *Elems) Value() (Value, bool) {
	v := Value{Start: int(e.cur.start), End: int(e.cur.end)}
	switch e.prim {
	case schema.PrimString, schema.PrimBytes:
		v.Kind, v.Bytes = KindString, e.str
	case schema.PrimInt:
		v.Kind, v.Int = KindInt, e.num
	case schema.PrimLong:
		v.Kind, v.Int = KindLong, e.num
	case schema.PrimNat:
		v.Kind, v.Int = KindNat, e.num
	default:
		return Value{}, false
	}
	return v, true
}

// End returns the offset just past the last element once Next has
// returned false without error.
func (e *Elems) End() int { return e.pos }

// Err returns the error that stopped the iteration, if any.
func (e *Elems) Err() error { return e.err }

// Close releases the walk state; Next calls it at the end.
func (e *Elems) Close() {
	e.plan, e.ends = nil, nil
	if e.st != nil && !e.borrowed {
		e.w.put(e.st)
		e.st = nil
	}
}

// open sets e up over the value of type ref at pos of st.b in frame env.
// It accepts Vector t / vector t (bare or boxed), tuples, n*[...] arrays,
// single-field wrappers of those (Dictionary t, Stat) and constructors with
// exactly one unconditional vector field (VectorTotal t: the fields before
// it are walked, the ones after are left to the caller). On success e owns
// st.
func (e *Elems) open(st *state, pos int, ref *schema.TypeRef, env int32) error {
	e.w, e.st, e.b, e.countPos = st.w, st, st.b, -1
	for range MaxDepth {
		var bare bool
		var err error
		ref, env, bare, err = st.resolve(ref, env, false)
		if err != nil {
			return err
		}
		if ref.Kind == schema.RefArray {
			return e.array(pos, ref, env)
		}
		if (ref.Kind != schema.RefType && ref.Kind != schema.RefCtor) || ref.Prim != schema.PrimNone {
			return (*notVectorRef)(ref)
		}
		c, f, p, err := st.openCtor(pos, ref, env, bare)
		if err != nil {
			return err
		}
		pos = p
		switch {
		case vectorShaped(c):
			if len(st.b)-pos < 4 {
				return fmt.Errorf("walk: vector count at %d: %w", pos, tl.ErrTruncated)
			}
			e.countPos = pos
			st.slots[st.frames[f].slots] = binary.LittleEndian.Uint32(st.b[pos:])
			return e.array(pos+4, &c.Fields[1].Type, f)
		case len(c.Fields) == 1 && c.Fields[0].Cond == nil && !c.Fields[0].Excl:
			ref, env = &c.Fields[0].Type, f
		default:
			// vectorTotal total_count:int vector:%(Vector t): iterate the
			// one vector field after the fields before it.
			k := soleVectorField(c)
			if k < 0 {
				return (*notVectorCtor)(c)
			}
			if pos, err = st.walkFields(pos, c.Fields[:k], f); err != nil {
				return err
			}
			ref, env = &c.Fields[k].Type, f
		}
	}
	return ErrDepth
}

// soleVectorField returns the index of c's only unconditional vector or
// array field, or -1 when there is none or more than one.
func soleVectorField(c *schema.Combinator) int {
	k := -1
	for i := range c.Fields {
		f := &c.Fields[i]
		if f.Cond != nil || f.Excl || !isVectorRef(&f.Type) {
			continue
		}
		if k >= 0 {
			return -1
		}
		k = i
	}
	return k
}

func (e *Elems) array(pos int, ref *schema.TypeRef, env int32) error {
	st := e.st
	n := st.nat(ref.Scale, env)
	if uint64(n) > uint64(len(st.b)-pos)/4 && n > tl.MaxZeroSizeCount {
		return fmt.Errorf("walk: %w: count %d", tl.ErrTruncated, n)
	}
	e.n, e.pos = int(n), pos
	f, err := st.push(0, len(ref.Elem), env)
	if err != nil {
		return err
	}
	e.elem, e.frame = ref.Elem, f
	if len(ref.Elem) == 1 && ref.Elem[0].Cond == nil && !ref.Elem[0].Excl {
		r, _, bare, err := st.resolve(&ref.Elem[0].Type, f, false)
		if err != nil {
			return err
		}
		if s, ok := primStep(r); ok {
			e.prim = s.prim
			if !bare {
				e.tag = s.tag
			}
			// Scalar elements need no walk state.
			e.Close()
		}
	}
	return nil
}

func refName(ref *schema.TypeRef) string {
	switch {
	case ref.Kind == schema.RefNat:
		return "#"
	case ref.Ctor != nil:
		return ref.Ctor.Name
	case ref.Type != nil:
		return ref.Type.Name
	}
	return "value"
}

// ArgElems validates call and iterates the elements of its vector or array
// argument name.
func (w *Walker) ArgElems(call []byte, name string) (Elems, error) {
	fi, err := w.lookup(call)
	if err != nil {
		return Elems{}, err
	}
	i, err := argIndex(fi.c, name)
	if err != nil {
		return Elems{}, err
	}
	return w.argElems(call, fi, i)
}

func (w *Walker) argElems(call []byte, fi *fnInfo, i int) (Elems, error) {
	if fi.args != nil && fi.args[i].vec != nil {
		if start, _, ok := scanCall(call, fi.args, i); ok {
			return fi.args[i].vec.elems(w, call, start), nil
		}
	}
	st := w.get()
	st.reset(call)
	if _, err := st.walkCall(fi); err != nil {
		w.put(st)
		return Elems{}, err
	}
	sp := st.spans[i]
	if sp.start < 0 {
		w.put(st)
		return Elems{}, fmt.Errorf("%w: %s.%s", ErrAbsent, fi.c.Name, fi.c.Fields[i].Name)
	}
	var e Elems
	if err := e.open(st, int(sp.start), &fi.c.Fields[i].Type, 0); err != nil {
		e.Close()
		return Elems{}, err
	}
	return e, nil
}

// Field returns the byte range of the named field of the current element:
// a field of the element's constructor (Vector memcache.Value elements,
// Vector %engine.BinlogPrefix), or of an n*[...] element's own field list.
// A constructor without the field, or with its bit clear, is ErrAbsent;
// scalar elements are ErrNotObject. Merges sorted by a field use it.
func (e *Elems) Field(name string) (start, end int, err error) {
	if e.plan != nil && e.i > 0 {
		return e.planField(name)
	}
	st := e.st
	if st == nil || e.i == 0 {
		return 0, 0, fmt.Errorf("%w: element has no fields", ErrNotObject)
	}
	m := st.mark()
	defer st.popTo(m)
	pos := int(e.cur.start)
	fields, f := e.elem, e.frame
	if len(fields) == 1 && fields[0].Name == "" && fields[0].Cond == nil && !fields[0].Excl {
		ref, env, bare, err := st.resolve(&fields[0].Type, f, false)
		if err != nil {
			return 0, 0, err
		}
		if (ref.Kind != schema.RefType && ref.Kind != schema.RefCtor) || ref.Prim != schema.PrimNone {
			return 0, 0, fmt.Errorf("%w: %s", ErrNotObject, refName(ref))
		}
		c, cf, p, err := st.openCtor(pos, ref, env, bare)
		if err != nil {
			return 0, 0, err
		}
		fields, f, pos = c.Fields, cf, p
	}
	i, err := fieldIndex(fields, name)
	if err != nil {
		return 0, 0, err
	}
	saved := st.rec
	st.rec = f
	_, err = st.walkFields(pos, fields, f)
	st.rec = saved
	if err != nil {
		return 0, 0, err
	}
	sp := st.spans[i]
	if sp.start < 0 {
		return 0, 0, fmt.Errorf("%w: field %q", ErrAbsent, name)
	}
	return int(sp.start), int(sp.end), nil
}

// fieldIndex is the index of the field called name among an element's
// fields (the last one, if the name repeats), as Field looks it up.
func fieldIndex(fields []schema.Field, name string) (int, error) {
	i := -1
	for j := range fields {
		if fields[j].Name == name {
			i = j
		}
	}
	if i < 0 || i >= MaxTopFields {
		return 0, fmt.Errorf("%w: element has no field %q", ErrAbsent, name)
	}
	return i, nil
}

package walk

import (
	"encoding/binary"
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// primSize is the wire size of fixed-size primitives; 0 for strings.
func primSize(p schema.PrimKind) int {
	switch p {
	case schema.PrimNat, schema.PrimInt, schema.PrimFloat:
		return 4
	case schema.PrimLong, schema.PrimDouble:
		return 8
	case schema.PrimInt128:
		return 16
	case schema.PrimInt256:
		return 32
	}
	return 0
}

// skipPrim skips one bare primitive at pos of b.
func skipPrim(b []byte, pos int, p schema.PrimKind) (int, error) {
	if p == schema.PrimString || p == schema.PrimBytes {
		rest, err := tl.SkipString(b[pos:])
		if err != nil {
			return pos, fmt.Errorf("walk: string at %d: %w", pos, err)
		}
		return len(b) - len(rest), nil
	}
	n := primSize(p)
	if n == 0 {
		return pos, fmt.Errorf("%w: primitive %v", ErrUnsupported, p)
	}
	if len(b)-pos < n {
		return pos, fmt.Errorf("walk: %v at %d: %w", p, pos, tl.ErrTruncated)
	}
	return pos + n, nil
}

// expectTag consumes tag at pos.
func expectTag(b []byte, pos int, tag uint32) (int, error) {
	if len(b)-pos < 4 {
		return pos, fmt.Errorf("walk: tag at %d: %w", pos, tl.ErrTruncated)
	}
	if got := binary.LittleEndian.Uint32(b[pos:]); got != tag {
		return pos, fmt.Errorf("walk: at %d: %w: want %#08x, got %#08x", pos, tl.ErrTag, tag, got)
	}
	return pos + 4, nil
}

// runSteps validates a flat call (see fnInfo.steps) after its tag and
// returns the end of field want (or of the call when want < 0) and its
// start.
func runSteps(b []byte, steps []step, want int) (start, end int, err error) {
	pos := 4
	start = -1
	for i := range steps {
		s := &steps[i]
		if i == want {
			start = pos
		}
		if s.tag != 0 {
			if pos, err = expectTag(b, pos, s.tag); err != nil {
				return 0, 0, err
			}
		}
		if pos, err = skipPrim(b, pos, s.prim); err != nil {
			return 0, 0, err
		}
		if i == want {
			end = pos
		}
	}
	if pos != len(b) {
		return 0, 0, fmt.Errorf("%w: %d after the call", ErrTrailing, len(b)-pos)
	}
	if want < 0 {
		return 0, pos, nil
	}
	return start, end, nil
}

// skipRef skips one value of type ref interpreted in frame env; bare
// forces a boxed type to be read bare (a %X substitution).
func (st *state) skipRef(pos int, ref *schema.TypeRef, env int32, bare bool) (int, error) {
	var err error
	if ref.Kind == schema.RefParam {
		if ref, env, bare, err = st.resolve(ref, env, bare); err != nil {
			return pos, err
		}
	}
	switch ref.Kind {
	case schema.RefNat:
		return skipPrim(st.b, pos, schema.PrimNat)
	case schema.RefArray:
		return st.skipArray(pos, ref, env)
	case schema.RefCtor, schema.RefType:
		if ref.Prim != schema.PrimNone {
			if ref.Kind == schema.RefType && !bare {
				if pos, err = expectTag(st.b, pos, ref.Type.Constructors[0].Tag); err != nil {
					return pos, err
				}
			}
			return skipPrim(st.b, pos, ref.Prim)
		}
		if st.depth >= MaxDepth {
			return pos, ErrDepth
		}
		c, pos, err := st.pickCtor(pos, ref, bare)
		if err != nil {
			return pos, err
		}
		if len(c.Params) == 0 && flatFields(c.Fields) {
			return skipFlat(st.b, pos, c.Fields)
		}
		st.depth++
		m := st.mark()
		f, err := st.frameFor(c, ref, env)
		if err == nil {
			pos, err = st.walkFields(pos, c.Fields, f)
		}
		st.popTo(m)
		st.depth--
		return pos, err
	}
	return pos, fmt.Errorf("%w: type reference kind %d", ErrUnsupported, ref.Kind)
}

// openCtor reads the tag of a boxed (non-primitive, concrete) ref, picks
// the constructor (falling back to the default one without consuming the
// tag), pushes its frame and binds its params. The caller pops.
func (st *state) openCtor(pos int, ref *schema.TypeRef, env int32, bare bool) (*schema.Combinator, int32, int, error) {
	c, pos, err := st.pickCtor(pos, ref, bare)
	if err != nil {
		return nil, 0, pos, err
	}
	f, err := st.frameFor(c, ref, env)
	return c, f, pos, err
}

// frameFor pushes the frame of constructor c of ref and binds its params.
func (st *state) frameFor(c *schema.Combinator, ref *schema.TypeRef, env int32) (int32, error) {
	f, err := st.push(len(c.Params), len(c.Fields), -1)
	if err != nil {
		return 0, err
	}
	if err := st.bind(c, f, ref.Args, env); err != nil {
		return 0, err
	}
	return f, nil
}

// pickCtor chooses the constructor of a concrete non-primitive ref, reading
// its tag when boxed.
func (st *state) pickCtor(pos int, ref *schema.TypeRef, bare bool) (*schema.Combinator, int, error) {
	var c *schema.Combinator
	switch {
	case ref.Kind == schema.RefCtor:
		c = ref.Ctor
	case bare:
		if len(ref.Type.Constructors) != 1 {
			return nil, pos, fmt.Errorf("%w: bare %s has %d constructors", ErrUnsupported, ref.Type.Name, len(ref.Type.Constructors))
		}
		c = ref.Type.Constructors[0]
	default:
		if len(st.b)-pos < 4 {
			return nil, pos, fmt.Errorf("walk: %s tag at %d: %w", ref.Type.Name, pos, tl.ErrTruncated)
		}
		tag := binary.LittleEndian.Uint32(st.b[pos:])
		if c = ref.Type.ConstructorByTag(tag); c != nil {
			pos += 4
		} else if c = ref.Type.Default; c == nil {
			return nil, pos, fmt.Errorf("%w %#08x of %s at %d", ErrUnknownConstructor, tag, ref.Type.Name, pos)
		}
	}
	return c, pos, nil
}

// flatFields reports whether fields are all unconditional primitives, so a
// constructor made of them is skipped without a frame (memcache.strvalue,
// net.pid, the union members of most results).
func flatFields(fields []schema.Field) bool {
	for i := range fields {
		f := &fields[i]
		if f.Cond != nil || f.Excl {
			return false
		}
		if _, ok := primStep(&f.Type); !ok {
			return false
		}
	}
	return true
}

// skipFlat skips fields that flatFields accepted.
func skipFlat(b []byte, pos int, fields []schema.Field) (int, error) {
	var err error
	for i := range fields {
		s, _ := primStep(&fields[i].Type)
		if s.tag != 0 {
			if pos, err = expectTag(b, pos, s.tag); err != nil {
				return pos, err
			}
		}
		if pos, err = skipPrim(b, pos, s.prim); err != nil {
			return pos, err
		}
	}
	return pos, nil
}

// walkFields walks a field list in frame f, storing # values in its slots
// and recording spans when f is the recorded frame.
func (st *state) walkFields(pos int, fields []schema.Field, f int32) (int, error) {
	slots := st.frames[f].slots
	rec := f == st.rec
	var err error
	for i := range fields {
		fd := &fields[i]
		st.slots[slots+int32(i)] = 0
		if rec && i < MaxTopFields {
			st.spans[i] = span{-1, -1}
		}
		if fd.Cond != nil && st.nat(fd.Cond.Mask, f)>>fd.Cond.Bit&1 == 0 {
			continue
		}
		start := pos
		switch {
		case fd.Excl:
			pos, err = st.walkExcl(pos, f, fd.Type.Param)
		case fd.Type.Kind == schema.RefNat:
			if len(st.b)-pos < 4 {
				return pos, fmt.Errorf("walk: field %s at %d: %w", fd.Name, pos, tl.ErrTruncated)
			}
			st.slots[slots+int32(i)] = binary.LittleEndian.Uint32(st.b[pos:])
			pos += 4
		case fd.Type.Prim != schema.PrimNone && fd.Type.Kind == schema.RefCtor:
			pos, err = skipPrim(st.b, pos, fd.Type.Prim)
		default:
			pos, err = st.skipRef(pos, &fd.Type, f, false)
		}
		if err != nil {
			return pos, err
		}
		if rec && i < MaxTopFields {
			st.spans[i] = span{int32(start), int32(pos)}
		}
	}
	return pos, nil
}

// walkExcl walks the function call of a !X field and binds param X of
// frame f to its result. The inner call's frame stays pushed: the binding
// refers to it.
func (st *state) walkExcl(pos int, f int32, param int) (int, error) {
	if st.depth >= MaxDepth {
		return pos, ErrDepth
	}
	st.depth++
	pos, err := st.walkExclCall(pos, f, param)
	st.depth--
	return pos, err
}

func (st *state) walkExclCall(pos int, f int32, param int) (int, error) {
	if len(st.b)-pos < 4 {
		return pos, fmt.Errorf("walk: !X tag at %d: %w", pos, tl.ErrTruncated)
	}
	tag := binary.LittleEndian.Uint32(st.b[pos:])
	fi := st.w.funcs[tag]
	if fi == nil {
		if c := st.w.s.ByTag(tag); c != nil {
			return pos, fmt.Errorf("%w: %s (%#08x) in !X at %d", ErrNotFunction, c.Name, tag, pos)
		}
		return pos, fmt.Errorf("%w %#08x in !X at %d", ErrUnknownFunction, tag, pos)
	}
	inner, err := st.push(len(fi.c.Params), len(fi.c.Fields), -1)
	if err != nil {
		return pos, err
	}
	if pos, err = st.walkFields(pos+4, fi.c.Fields, inner); err != nil {
		return pos, err
	}
	b := st.param(f, param)
	b.ref, b.env = fi.c.Result, inner
	return pos, nil
}

// skipArray skips Scale copies of ref.Elem. Every non-empty TL1 value is
// at least one word, so after the first element the count is checked
// against the remaining input; zero-size elements are all alike (their
// masks and sizes can only come from the enclosing frame), so only the
// first is walked and the count is capped instead.
func (st *state) skipArray(pos int, ref *schema.TypeRef, env int32) (int, error) {
	n := st.nat(ref.Scale, env)
	if n == 0 {
		return pos, nil
	}
	if st.depth >= MaxDepth {
		return pos, ErrDepth
	}
	if len(ref.Elem) == 1 && ref.Elem[0].Cond == nil && !ref.Elem[0].Excl {
		// Vectors of scalars (string, Long, int...) need no frame.
		if r, _, bare, err := st.resolve(&ref.Elem[0].Type, env, false); err == nil {
			if s, ok := primStep(r); ok {
				if bare {
					s.tag = 0
				}
				return skipScalars(st.b, pos, s, n)
			}
		}
	}
	st.depth++
	m := st.mark()
	pos, err := st.skipElems(pos, ref, env, n)
	st.popTo(m)
	st.depth--
	return pos, err
}

// skipElems is skipArray's loop over n >= 1 elements that need a frame.
func (st *state) skipElems(pos int, ref *schema.TypeRef, env int32, n uint32) (int, error) {
	f, err := st.push(0, len(ref.Elem), env)
	if err != nil {
		return pos, err
	}
	inner := st.mark()
	start := pos
	if pos, err = st.walkFields(pos, ref.Elem, f); err != nil {
		return pos, err
	}
	if pos == start {
		if n > tl.MaxZeroSizeCount {
			return pos, fmt.Errorf("walk: %w: %d zero-size elements", tl.ErrLimit, n)
		}
		return pos, nil
	}
	if uint64(n-1) > uint64(len(st.b)-pos)/4 {
		return pos, fmt.Errorf("walk: %w: count %d, %d bytes remain", tl.ErrTruncated, n, len(st.b)-pos)
	}
	for k := uint32(1); k < n; k++ {
		st.popTo(inner)
		if pos, err = st.walkFields(pos, ref.Elem, f); err != nil {
			return pos, err
		}
	}
	return pos, nil
}

// walkCall walks a whole function call at the start of st.b, recording
// the spans of its top-level fields. The function's frame (index 0 after
// reset) stays pushed for result decoding.
func (st *state) walkCall(fi *fnInfo) (int, error) {
	f, err := st.push(len(fi.c.Params), len(fi.c.Fields), -1)
	if err != nil {
		return 0, err
	}
	st.rec = f
	st.depth = 1
	pos, err := st.walkFields(4, fi.c.Fields, f)
	st.rec = -1
	if err != nil {
		return pos, err
	}
	if pos != len(st.b) {
		return pos, fmt.Errorf("%w: %d after %s", ErrTrailing, len(st.b)-pos, fi.c.Name)
	}
	return pos, nil
}

// skipScalars skips n scalars of one kind; n is checked against the input
// first (every scalar is at least one word).
func skipScalars(b []byte, pos int, s step, n uint32) (int, error) {
	if uint64(n) > uint64(len(b)-pos)/4 {
		return pos, fmt.Errorf("walk: %w: count %d, %d bytes remain", tl.ErrTruncated, n, len(b)-pos)
	}
	if size := primSize(s.prim); size != 0 && s.tag == 0 {
		if uint64(n)*uint64(size) > uint64(len(b)-pos) {
			return pos, fmt.Errorf("walk: %w: %d %v elements, %d bytes remain", tl.ErrTruncated, n, s.prim, len(b)-pos)
		}
		return pos + int(n)*size, nil
	}
	var err error
	for range n {
		if s.tag != 0 {
			if pos, err = expectTag(b, pos, s.tag); err != nil {
				return pos, err
			}
		}
		if pos, err = skipPrim(b, pos, s.prim); err != nil {
			return pos, err
		}
	}
	return pos, nil
}

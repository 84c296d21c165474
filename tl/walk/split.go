package walk

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// Split appends to dst a copy of call whose vector or array argument name
// keeps only the elements at indexes keep (strictly increasing, in range).
// Nothing is re-encoded: the bytes before the count are copied, the count
// is rewritten, the chosen elements' bytes are copied in order, then the
// rest of the call.
//
// Supported shapes:
//   - name:%(Vector T), name:(Vector T), and single-field wrappers of them
//     (%(Dictionary T), Stat): the count word inside the value is
//     rewritten; boxing tags are copied.
//   - name:n*[...] where n is an earlier # argument of the function: n is
//     rewritten and every other top-level n*[...] argument is cut with the
//     same index set, as tl.md §10 requires. If n is also used as a fields
//     mask or a template argument of another argument it is ErrUnsupported.
//
// A result whose type depends on the count (= Tuple int n) needs nothing
// special: each sub-call carries its own count, so decode each answer with
// its own sub-call (Result*(subcall, answer)).
//
// Tuples (count not on the wire) and arrays counted by a template param are
// ErrUnsupported. With a dst of sufficient capacity Split does not allocate.
func (w *Walker) Split(dst, call []byte, name string, keep []int) ([]byte, error) {
	st := w.get()
	defer w.put(st)
	sh, err := w.prepareSplit(st, call, name)
	if err != nil {
		return dst, err
	}
	if err := checkKeep(keep, sh.total); err != nil {
		return dst, err
	}
	if sh.n < 0 {
		e := &sh.vec
		dst = append(dst, call[:e.countPos]...)
		dst = tl.AppendUint32(dst, uint32(len(keep)))
		if dst, err = copyElems(dst, e, keep); err != nil {
			return dst, err
		}
		return append(dst, call[e.pos:]...), nil
	}
	dst = append(dst, call[:4]...)
	fields := sh.fi.c.Fields
	for i := range fields {
		sp := st.spans[i]
		switch {
		case sp.start < 0:
		case i == sh.n:
			dst = tl.AppendUint32(dst, uint32(len(keep)))
		case sh.cut(i):
			m := st.mark()
			e := Elems{w: w, st: st, b: call, countPos: -1, borrowed: true}
			err := e.array(int(sp.start), &fields[i].Type, 0)
			if err == nil {
				dst, err = copyElems(dst, &e, keep)
			}
			st.popTo(m)
			if err != nil {
				return dst, err
			}
		default:
			dst = append(dst, call[sp.start:sp.end]...)
		}
	}
	return dst, nil
}

// splitShape is what Split and SplitBy learn about the argument they cut.
type splitShape struct {
	fi *fnInfo
	// n is the index of the # argument counting the n*[...] arrays to cut,
	// or -1 when vec is the vector to cut.
	n     int
	vec   Elems
	total int // elements before the cut
}

// cut reports whether top-level field i is an array counted by sh.n.
func (sh *splitShape) cut(i int) bool {
	t := &sh.fi.c.Fields[i].Type
	return t.Kind == schema.RefArray && t.Scale.Kind == schema.NatField && t.Scale.Index == sh.n
}

// prepareSplit validates call in st and finds how argument name is cut.
func (w *Walker) prepareSplit(st *state, call []byte, name string) (splitShape, error) {
	fi, err := w.lookup(call)
	if err != nil {
		return splitShape{}, err
	}
	ai, err := argIndex(fi.c, name)
	if err != nil {
		return splitShape{}, err
	}
	if fi.args != nil && fi.args[ai].vec != nil {
		if start, _, ok := scanCall(call, fi.args, ai); ok {
			// callPlan refuses functions of more than MaxTopFields fields.
			sh := splitShape{fi: fi, n: -1, vec: fi.args[ai].vec.elems(w, call, start)}
			sh.total = sh.vec.n
			return sh, nil
		}
	}
	st.reset(call)
	if _, err := st.walkCall(fi); err != nil {
		return splitShape{}, err
	}
	if st.spans[ai].start < 0 {
		return splitShape{}, fmt.Errorf("%w: %s.%s", ErrAbsent, fi.c.Name, name)
	}
	fields := fi.c.Fields
	if len(fields) > MaxTopFields {
		return splitShape{}, fmt.Errorf("%w: %s has %d fields", ErrUnsupported, fi.c.Name, len(fields))
	}
	sh := splitShape{fi: fi, n: -1}
	ref := &fields[ai].Type
	if ref.Kind != schema.RefArray {
		sh.vec.borrowed = true
		if err := sh.vec.open(st, int(st.spans[ai].start), ref, 0); err != nil {
			return splitShape{}, err
		}
		if sh.vec.countPos < 0 {
			return splitShape{}, fmt.Errorf("%w: %s.%s has no count on the wire", ErrUnsupported, fi.c.Name, name)
		}
		sh.total = sh.vec.n
		return sh, nil
	}
	if ref.Scale.Kind != schema.NatField {
		return splitShape{}, fmt.Errorf("%w: %s.%s is not counted by a # argument", ErrUnsupported, fi.c.Name, name)
	}
	sh.n = ref.Scale.Index
	if err := countOnlyScales(fi.c, sh.n); err != nil {
		return splitShape{}, err
	}
	sh.total = int(st.slots[st.frames[0].slots+int32(sh.n)])
	return sh, nil
}

func checkKeep(keep []int, n int) error {
	prev := -1
	for _, i := range keep {
		if i <= prev || i >= n {
			return fmt.Errorf("%w: %d of %d (indexes must increase)", ErrIndex, i, n)
		}
		prev = i
	}
	return nil
}

// copyElems appends the elements of e at indexes keep (checked), merging
// runs of adjacent elements into one copy.
func copyElems(dst []byte, e *Elems, keep []int) ([]byte, error) {
	k := 0
	runStart, runEnd := -1, -1
	for idx := 0; k < len(keep) && e.Next(); idx++ {
		if keep[k] != idx {
			continue
		}
		k++
		s, end := e.Range()
		if s != runEnd {
			if runStart >= 0 {
				dst = append(dst, e.b[runStart:runEnd]...)
			}
			runStart = s
		}
		runEnd = end
	}
	// Skip what is left so e.pos ends the vector.
	for e.Next() {
	}
	if e.err != nil {
		return dst, e.err
	}
	if runStart >= 0 {
		dst = append(dst, e.b[runStart:runEnd]...)
	}
	return dst, nil
}

// countOnlyScales checks that field n of c is used only as the scale of
// top-level arrays (so rewriting it changes nothing else).
func countOnlyScales(c *schema.Combinator, n int) error {
	for i := range c.Fields {
		f := &c.Fields[i]
		if f.Cond != nil && f.Cond.Mask.Kind == schema.NatField && f.Cond.Mask.Index == n {
			return fmt.Errorf("%w: %s.%s is also a fields mask", ErrUnsupported, c.Name, c.Fields[n].Name)
		}
		if refUsesField(&f.Type, n) {
			return fmt.Errorf("%w: %s.%s is also a template argument of %s", ErrUnsupported, c.Name, c.Fields[n].Name, f.Name)
		}
	}
	return nil
}

// refUsesField reports whether ref passes field n as a nat template
// argument (array scales are the supported use and are not counted).
func refUsesField(ref *schema.TypeRef, n int) bool {
	for _, a := range ref.Args {
		if a.Nat && a.NatVal.Kind == schema.NatField && a.NatVal.Index == n {
			return true
		}
		if !a.Nat && refUsesField(a.Type, n) {
			return true
		}
	}
	return false
}

// SplitBy is Split for every shard at once: element i of argument name goes
// to the sub-call appended to dsts[shardOf[i]], so the call is validated
// and its elements walked once instead of once per shard. Every dsts[s]
// receives a sub-call, with zero elements when no index maps to s. It
// supports the shapes Split does and does not allocate when each dsts[s]
// has the capacity.
func (w *Walker) SplitBy(dsts [][]byte, call []byte, name string, shardOf []int) error {
	for _, s := range shardOf {
		if s < 0 || s >= len(dsts) {
			return fmt.Errorf("%w: shard %d of %d", ErrIndex, s, len(dsts))
		}
	}
	st := w.get()
	defer w.put(st)
	sh, err := w.prepareSplit(st, call, name)
	if err != nil {
		return err
	}
	if len(shardOf) != sh.total {
		return fmt.Errorf("%w: %d shard assignments for %d elements", ErrIndex, len(shardOf), sh.total)
	}
	if sh.n < 0 {
		e := &sh.vec
		for s := range dsts {
			dsts[s] = tl.AppendUint32(append(dsts[s], call[:e.countPos]...), countOf(shardOf, s))
		}
		if err := distribute(dsts, e, shardOf); err != nil {
			return err
		}
		for s := range dsts {
			dsts[s] = append(dsts[s], call[e.pos:]...)
		}
		return nil
	}
	for s := range dsts {
		dsts[s] = append(dsts[s], call[:4]...)
	}
	fields := sh.fi.c.Fields
	for i := range fields {
		sp := st.spans[i]
		switch {
		case sp.start < 0:
		case i == sh.n:
			for s := range dsts {
				dsts[s] = tl.AppendUint32(dsts[s], countOf(shardOf, s))
			}
		case sh.cut(i):
			m := st.mark()
			e := Elems{w: w, st: st, b: call, countPos: -1, borrowed: true}
			err := e.array(int(sp.start), &fields[i].Type, 0)
			if err == nil {
				err = distribute(dsts, &e, shardOf)
			}
			st.popTo(m)
			if err != nil {
				return err
			}
		default:
			for s := range dsts {
				dsts[s] = append(dsts[s], call[sp.start:sp.end]...)
			}
		}
	}
	return nil
}

// countOf counts the elements assigned to shard s. Shard counts are small
// and calls hold few elements, so a scan per shard beats keeping a
// per-shard table that would have to be allocated.
func countOf(shardOf []int, s int) uint32 {
	n := uint32(0)
	for _, x := range shardOf {
		if x == s {
			n++
		}
	}
	return n
}

// distribute appends each element of e to dsts[shardOf[i]], merging runs
// of consecutive elements bound for the same shard into one copy.
func distribute(dsts [][]byte, e *Elems, shardOf []int) error {
	run, runStart, runEnd := -1, 0, 0
	for i := 0; e.Next(); i++ {
		s, end := e.Range()
		if d := shardOf[i]; d != run || s != runEnd {
			if run >= 0 {
				dsts[run] = append(dsts[run], e.b[runStart:runEnd]...)
			}
			run, runStart = d, s
		}
		runEnd = end
	}
	if e.err != nil {
		return e.err
	}
	if run >= 0 {
		dsts[run] = append(dsts[run], e.b[runStart:runEnd]...)
	}
	return nil
}

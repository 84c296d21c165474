package walk

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// Results are decoded in the context of their request: a result type may
// take nat arguments from the request's # fields (engine.getReadWriteMode
// fields_mask:# = engine.ReadWriteMode fields_mask), and a !X wrapper's
// result is its inner call's. Every Result* method therefore takes the call
// it answers. When neither applies (decided once, in New) the call is only
// identified, not walked.

// resultState sets st up to decode an answer of call: frame 0 is the
// function's, with its fields and !X bindings when the result needs them.
func (w *Walker) resultState(st *state, call, resp []byte) (*fnInfo, error) {
	fi, err := w.lookup(call)
	if err != nil {
		return nil, err
	}
	st.reset(call)
	if fi.needsReq {
		if _, err := st.walkCall(fi); err != nil {
			return nil, err
		}
	} else if _, err := st.push(len(fi.c.Params), len(fi.c.Fields), -1); err != nil {
		return nil, err
	}
	st.b = resp
	st.depth = 1
	return fi, nil
}

// checkResult validates resp as a whole answer of frame 0's function.
func (st *state) checkResult(fi *fnInfo) error {
	pos, err := st.skipRef(0, fi.c.Result, 0, false)
	if err != nil {
		return err
	}
	if pos != len(st.b) {
		return fmt.Errorf("%w: %d after the result of %s", ErrTrailing, len(st.b)-pos, fi.c.Name)
	}
	return nil
}

// CheckResult validates resp as the complete answer to call.
func (w *Walker) CheckResult(call, resp []byte) error {
	if fi, err := w.lookup(call); err == nil && fi.result != nil {
		if end, ok := fi.result.scan(resp, 0); ok && end == len(resp) {
			return nil
		}
	}
	st := w.get()
	defer w.put(st)
	fi, err := w.resultState(st, call, resp)
	if err != nil {
		return err
	}
	return st.checkResult(fi)
}

// ResultElems validates resp as the answer to call and iterates the
// elements of the vector it is (Vector T, Dictionary T, Tuple T n, Stat,
// or a single-field wrapper of those). Element ranges are offsets in resp.
func (w *Walker) ResultElems(call, resp []byte) (Elems, error) {
	return w.ResultElemsInto(call, resp, nil)
}

// ResultElemsInto is ResultElems that walks resp once where it can: when
// the elements are of a flat type (the fast path of plan.go), the scan
// that validates resp records where each element ends in *ends (reset
// first; the caller's buffer, reused across calls), and the iterator
// steps through those ends instead of skipping every element again. A nil
// ends is ResultElems.
func (w *Walker) ResultElemsInto(call, resp []byte, ends *[]int32) (Elems, error) {
	if fi, err := w.lookup(call); err == nil && fi.result != nil {
		rec := ends
		if rec != nil {
			*rec = (*rec)[:0]
			if fi.result.elem.prim != schema.PrimNone {
				rec = nil // scalars: Next reads the value anyway
			}
		}
		if end, ok := fi.result.scanEnds(resp, 0, rec); ok && end == len(resp) {
			e := fi.result.elems(w, resp, 0)
			if rec != nil {
				e.ends = *rec
			}
			return e, nil
		}
	}
	st := w.get()
	fi, err := w.resultState(st, call, resp)
	if err == nil {
		err = st.checkResult(fi)
	}
	if err != nil {
		w.put(st)
		return Elems{}, err
	}
	var e Elems
	if err := e.open(st, 0, fi.c.Result, 0); err != nil {
		e.Close()
		return Elems{}, err
	}
	return e, nil
}

// ResultField validates resp as the answer to call and returns the byte
// range resp[start:end] of the top-level field name of the result's
// constructor (for merging by a field, or summing one). A constructor
// without that field (memcache.not_found has no value) or with the field's
// bit clear is ErrAbsent.
func (w *Walker) ResultField(call, resp []byte, name string) (start, end int, err error) {
	st := w.get()
	defer w.put(st)
	fi, err := w.resultState(st, call, resp)
	if err == nil {
		err = st.checkResult(fi)
	}
	if err != nil {
		return 0, 0, err
	}
	ref, env, bare, err := st.resolve(fi.c.Result, 0, false)
	if err != nil {
		return 0, 0, err
	}
	if (ref.Kind != schema.RefType && ref.Kind != schema.RefCtor) || ref.Prim != schema.PrimNone {
		return 0, 0, fmt.Errorf("%w: %s answers %s", ErrNotObject, fi.c.Name, refName(ref))
	}
	c, f, pos, err := st.openCtor(0, ref, env, bare)
	if err != nil {
		return 0, 0, err
	}
	i := -1
	for j := range c.Fields {
		if c.Fields[j].Name == name {
			i = j
		}
	}
	if i < 0 || i >= MaxTopFields {
		return 0, 0, fmt.Errorf("%w: %s has no field %q", ErrAbsent, c.Name, name)
	}
	st.rec = f
	if _, err := st.walkFields(pos, c.Fields, f); err != nil {
		return 0, 0, err
	}
	sp := st.spans[i]
	if sp.start < 0 {
		return 0, 0, fmt.Errorf("%w: %s.%s", ErrAbsent, c.Name, name)
	}
	return int(sp.start), int(sp.end), nil
}

// ResultValue validates resp as the answer to call and reads it when it is
// a scalar: Int/Long/String (KindInt, KindLong, KindString) or Bool
// (KindBool, Int = 1 for true). Anything else is ErrType.
func (w *Walker) ResultValue(call, resp []byte) (Value, error) {
	st := w.get()
	defer w.put(st)
	fi, err := w.resultState(st, call, resp)
	if err == nil {
		err = st.checkResult(fi)
	}
	if err != nil {
		return Value{}, err
	}
	ref, _, bare, err := st.resolve(fi.c.Result, 0, false)
	if err != nil {
		return Value{}, err
	}
	if ref.Kind == schema.RefType && ref.Type.Name == "Bool" && ref.Prim == schema.PrimNone {
		v, _, err := tl.ReadBool(resp)
		if err != nil {
			return Value{}, fmt.Errorf("walk: %w", err)
		}
		out := Value{Kind: KindBool, End: 4}
		if v {
			out.Int = 1
		}
		return out, nil
	}
	s, ok := primStep(ref)
	if !ok {
		return Value{}, fmt.Errorf("%w: %s answers %s", ErrType, fi.c.Name, refName(ref))
	}
	pos := 0
	if s.tag != 0 && !bare {
		pos = 4
	}
	v, end, err := readScalar(resp, pos, s.prim)
	if err != nil {
		return Value{}, err
	}
	v.Start, v.End = 0, end
	return v, nil
}

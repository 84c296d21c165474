package walk

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// Check validates a whole boxed function call: known function tag, every
// field (templates, masks, arrays, nested !X calls), canonical strings, and
// no trailing bytes.
func (w *Walker) Check(call []byte) error {
	fi, err := w.lookup(call)
	if err != nil {
		return err
	}
	if fi.steps != nil {
		_, _, err = runSteps(call, fi.steps, -1)
		return err
	}
	if fi.args != nil {
		if _, _, ok := scanCall(call, fi.args, -1); ok {
			return nil
		}
	}
	st := w.get()
	defer w.put(st)
	st.reset(call)
	_, err = st.walkCall(fi)
	return err
}

// Skip skips one value of type ref at the start of b and returns its size.
// ref must be closed: it is read in an empty frame, so template parameters
// are unbound (ErrUnbound) and field-valued nats read as 0. Use it for
// types spelled in full (Vector string, %(Dictionary int), Bool).
func (w *Walker) Skip(b []byte, ref *schema.TypeRef) (int, error) {
	st := w.get()
	defer w.put(st)
	st.reset(b)
	f, err := st.push(maxParams/2, maxSlots/2, -1)
	if err != nil {
		return 0, err
	}
	return st.skipRef(0, ref, f, false)
}

// argIndex finds a top-level argument by name.
func argIndex(c *schema.Combinator, name string) (int, error) {
	for i := range c.Fields {
		if c.Fields[i].Name == name {
			if i >= MaxTopFields {
				return -1, fmt.Errorf("%w: %s.%s is field %d, past %d", ErrUnsupported, c.Name, name, i, MaxTopFields)
			}
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: %s has no argument %q", ErrNoArg, c.Name, name)
}

// ArgType returns the resolved type of fn's argument name (as declared: it
// may be a RefParam of fn or refer to fn's # fields).
func ArgType(fn *schema.Combinator, name string) (*schema.TypeRef, error) {
	i, err := argIndex(fn, name)
	if err != nil {
		return nil, err
	}
	return &fn.Fields[i].Type, nil
}

// Arg validates call and returns the byte range call[start:end] of its
// top-level argument name. A conditional argument whose bit is clear is
// ErrAbsent.
func (w *Walker) Arg(call []byte, name string) (start, end int, err error) {
	fi, err := w.lookup(call)
	if err != nil {
		return 0, 0, err
	}
	i, err := argIndex(fi.c, name)
	if err != nil {
		return 0, 0, err
	}
	return w.argAt(call, fi, i)
}

func (w *Walker) argAt(call []byte, fi *fnInfo, i int) (start, end int, err error) {
	if fi.steps != nil {
		return runSteps(call, fi.steps, i)
	}
	if fi.args != nil {
		if start, end, ok := scanCall(call, fi.args, i); ok {
			return start, end, nil
		}
	}
	st := w.get()
	defer w.put(st)
	st.reset(call)
	if _, err := st.walkCall(fi); err != nil {
		return 0, 0, err
	}
	sp := st.spans[i]
	if sp.start < 0 {
		return 0, 0, fmt.Errorf("%w: %s.%s", ErrAbsent, fi.c.Name, fi.c.Fields[i].Name)
	}
	return int(sp.start), int(sp.end), nil
}

// Unwrap validates a call of a !X wrapper (engine.sendResponseTo,
// rpcProxy.diagonal, rpcDest* written as functions) and returns the inner
// function and its call's byte range call[start:end]. A function without a
// !X field is ErrNotWrapper.
func (w *Walker) Unwrap(call []byte) (inner *schema.Combinator, start, end int, err error) {
	fi, err := w.lookup(call)
	if err != nil {
		return nil, 0, 0, err
	}
	if fi.excl < 0 {
		return nil, 0, 0, fmt.Errorf("%w: %s", ErrNotWrapper, fi.c.Name)
	}
	start, end, err = w.argAt(call, fi, fi.excl)
	if err != nil {
		return nil, 0, 0, err
	}
	in, err := w.lookup(call[start:end])
	if err != nil {
		return nil, 0, 0, err
	}
	return in.c, start, end, nil
}

// UnwrapTransparent follows wrappers whose result is exactly the inner
// call's (rpcDestActor ... query:!X = X) and returns the innermost call's
// range; a call that is not such a wrapper is returned whole. The proxy
// routes and shards by the real function, so keys are taken from it.
func (w *Walker) UnwrapTransparent(call []byte) (fn *schema.Combinator, start, end int, err error) {
	start, end = 0, len(call)
	for range MaxDepth {
		fi, err := w.lookup(call[start:end])
		if err != nil {
			return nil, 0, 0, err
		}
		if !fi.transparent {
			return fi.c, start, end, nil
		}
		_, s, e, err := w.Unwrap(call[start:end])
		if err != nil {
			return nil, 0, 0, err
		}
		start, end = start+s, start+e
	}
	return nil, 0, 0, ErrDepth
}

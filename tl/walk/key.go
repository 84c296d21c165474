package walk

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// Keys says which argument of each function is its sharding key
// (sharding.md §2): by default the first top-level int, long or string
// (bare or boxed); for functions named in the config, the named argument.
// A function with no scalar argument but a vector or array argument (for
// example memcache.getMulti keys:%(Vector string)) yields KindVector; the
// caller then iterates it with KeyElems. Keys is built at config time and is
// immutable.
type Keys struct {
	w     *Walker
	named map[uint32]int // function tag -> argument index
}

// Keys compiles a per-function key configuration: function name ->
// argument name. A nil map means defaults only. Unknown functions or
// arguments are errors, so a config typo fails at load time.
func (w *Walker) Keys(byFunction map[string]string) (*Keys, error) {
	k := &Keys{w: w, named: make(map[uint32]int, len(byFunction))}
	for fn, arg := range byFunction {
		c := w.s.Function(fn)
		if c == nil {
			return nil, fmt.Errorf("%w: %s", ErrUnknownFunction, fn)
		}
		i, err := argIndex(c, arg)
		if err != nil {
			return nil, err
		}
		s, ok := primStep(&c.Fields[i].Type)
		scalar := ok && (s.prim == schema.PrimInt || s.prim == schema.PrimLong || s.prim == schema.PrimString)
		if !scalar && !isVectorRef(&c.Fields[i].Type) {
			return nil, fmt.Errorf("%w: %s.%s is not int, long, string or a vector of them", ErrType, fn, arg)
		}
		k.named[c.Tag] = i
	}
	return k, nil
}

// index returns the key argument of fi, or -1.
func (k *Keys) index(fi *fnInfo) int {
	if i, ok := k.named[fi.c.Tag]; ok {
		return i
	}
	if fi.key >= 0 {
		return fi.key
	}
	return fi.vecKey
}

// Key validates call and returns its sharding key. Bytes alias call.
// Transparent wrappers (rpcDest* written as functions) are looked through:
// the key comes from the real function, and Start/End are offsets in call.
// A call without a key argument is ErrNoKey; a vector key argument is
// returned as KindVector with the vector's range (iterate it with
// KeyElems).
func (k *Keys) Key(call []byte) (Value, error) {
	fi, err := k.w.lookup(call)
	if err != nil {
		return Value{}, err
	}
	base := 0
	if fi.transparent {
		_, s, e, err := k.w.UnwrapTransparent(call)
		if err != nil {
			return Value{}, err
		}
		base, call = s, call[s:e]
		if fi, err = k.w.lookup(call); err != nil {
			return Value{}, err
		}
	}
	i := k.index(fi)
	if i < 0 {
		return Value{}, fmt.Errorf("%w: %s", ErrNoKey, fi.c.Name)
	}
	start, end, err := k.w.argAt(call, fi, i)
	if err != nil {
		return Value{}, err
	}
	ref := &fi.c.Fields[i].Type
	s, ok := primStep(ref)
	if !ok {
		return Value{Kind: KindVector, Start: base + start, End: base + end}, nil
	}
	pos := start
	if s.tag != 0 {
		pos += 4
	}
	v, _, err := readScalar(call, pos, s.prim)
	if err != nil {
		return Value{}, err
	}
	if v.Kind == KindNat {
		return Value{}, fmt.Errorf("%w: key %s.%s is #", ErrType, fi.c.Name, fi.c.Fields[i].Name)
	}
	v.Start, v.End = base+start, base+end
	return v, nil
}

// KeyElems validates call and iterates its vector key argument (see Key);
// element ranges are offsets in call[start:end] as returned by
// UnwrapTransparent, which is call itself unless it is a transparent
// wrapper.
func (k *Keys) KeyElems(call []byte) (Elems, error) {
	fn, s, e, err := k.w.UnwrapTransparent(call)
	if err != nil {
		return Elems{}, err
	}
	fi := k.w.funcs[fn.Tag]
	i := k.index(fi)
	if i < 0 {
		return Elems{}, fmt.Errorf("%w: %s", ErrNoKey, fn.Name)
	}
	return k.w.argElems(call[s:e], fi, i)
}

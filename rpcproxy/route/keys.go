package route

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// KeyKind is the type of a routing key.
type KeyKind uint8

const (
	KeyNone   KeyKind = iota
	KeyInt            // int (4 bytes, sign-extended) or long
	KeyString         // string or bytes
)

// Key is a request's routing key. Str aliases the request.
type Key struct {
	Kind KeyKind
	Int  int64
	Str  []byte
}

// skip is one field before the key: a tag to check (boxed), then n fixed
// bytes or a string.
type skip struct {
	tag    uint32 // 0: bare
	n      int    // fixed size; 0 with str
	str    bool
	prim   schema.PrimKind
	field  string
	width8 bool
}

// keyPlan extracts one function's key argument by skipping the fields
// before it. Only plain fields (unconditional, primitive or nat) can be
// skipped without the full walker; a function whose key follows anything
// else has no plan and its why says so.
type keyPlan struct {
	fn    string
	steps []skip // the fields before the key
	key   skip   // the key field itself
	ok    bool
	why   string // when !ok: why the function has no usable key argument
}

// planKey builds the plan for fn: the argument named arg, or, when arg is
// "", the first int, long or string argument.
func planKey(fn *schema.Combinator, arg string) keyPlan {
	p := keyPlan{fn: fn.Name}
	for _, f := range fn.Fields {
		s, fixed := fieldSkip(f)
		isKey := arg == f.Name && arg != "" || arg == "" && keyPrim(f.Type.Prim) && f.Type.Kind != schema.RefNat
		if isKey {
			switch {
			case f.Cond != nil:
				p.why = fmt.Sprintf("key argument %q of %s is optional (fields mask)", f.Name, fn.Name)
			case !fixed || !keyPrim(f.Type.Prim):
				p.why = fmt.Sprintf("argument %q of %s is not an int, long or string", f.Name, fn.Name)
			default:
				p.key, p.ok = s, true
			}
			return p
		}
		if !fixed || f.Cond != nil {
			if arg == "" {
				p.why = fmt.Sprintf("%s has a field before any int, long or string argument that the proxy cannot skip (%q)", fn.Name, f.Name)
			} else {
				p.why = fmt.Sprintf("key argument %q of %s follows a field the proxy cannot skip (%q)", arg, fn.Name, f.Name)
			}
			return p
		}
		p.steps = append(p.steps, s)
	}
	if arg != "" {
		p.why = fmt.Sprintf("%s has no argument %q", fn.Name, arg)
	} else {
		p.why = fmt.Sprintf("%s has no int, long or string argument", fn.Name)
	}
	return p
}

func keyPrim(p schema.PrimKind) bool {
	switch p {
	case schema.PrimInt, schema.PrimLong, schema.PrimString, schema.PrimBytes:
		return true
	}
	return false
}

// fieldSkip describes how to pass over field f; fixed is false for a field
// that needs the full walker (objects, vectors, template parameters).
func fieldSkip(f schema.Field) (skip, bool) {
	s := skip{field: f.Name, prim: f.Type.Prim}
	switch f.Type.Kind {
	case schema.RefNat:
		s.n = 4
		return s, true
	case schema.RefType, schema.RefCtor:
		if f.Type.Prim == schema.PrimNone {
			return s, false
		}
		if f.Type.Kind == schema.RefType && !f.Type.Bare {
			s.tag = f.Type.Type.Constructors[0].Tag
		}
		switch f.Type.Prim {
		case schema.PrimString, schema.PrimBytes:
			s.str = true
		case schema.PrimNat, schema.PrimInt, schema.PrimFloat:
			s.n = 4
		case schema.PrimLong, schema.PrimDouble:
			s.n, s.width8 = 8, true
		case schema.PrimInt128:
			s.n = 16
		case schema.PrimInt256:
			s.n = 32
		default:
			return s, false
		}
		return s, true
	}
	return s, false
}

// extract reads the key from a function call (tag first). It does not
// allocate; Key.Str aliases call.
func (p *keyPlan) extract(call []byte) (Key, error) {
	r := call[4:]
	var err error
	for i := range p.steps {
		if r, err = p.steps[i].pass(r); err != nil {
			return Key{}, err
		}
	}
	k := &p.key
	if k.tag != 0 {
		if r, err = tl.ExpectTag(r, k.tag); err != nil {
			return Key{}, err
		}
	}
	switch {
	case k.str:
		s, _, err := tl.ReadBytes(r)
		return Key{Kind: KeyString, Str: s}, err
	case k.width8:
		v, _, err := tl.ReadInt64(r)
		return Key{Kind: KeyInt, Int: v}, err
	default:
		v, _, err := tl.ReadInt32(r)
		return Key{Kind: KeyInt, Int: int64(v)}, err
	}
}

func (s *skip) pass(r []byte) ([]byte, error) {
	var err error
	if s.tag != 0 {
		if r, err = tl.ExpectTag(r, s.tag); err != nil {
			return r, err
		}
	}
	if s.str {
		return tl.SkipString(r)
	}
	if len(r) < s.n {
		return r, tl.ErrTruncated
	}
	return r[s.n:], nil
}

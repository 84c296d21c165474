package tljson

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// Type is a closed type expression: a schema type (boxed) or one of its
// constructors (bare) with every template argument bound to a Type or a
// nat value, or '#'. Build one with Codec.ParseType or Codec.ResultType.
// A Type is immutable.
type Type struct {
	nat  bool
	typ  *schema.Type
	ctor *schema.Combinator // bare when set
	args []arg              // in the order of typ.Params
}

// arg is a bound template argument: a type (t != nil) or a nat value.
type arg struct {
	t  *Type
	n  uint32
	ok bool // bound; params of functions are bound by their !X field
}

// String renders the type in TL syntax: boxed types by type name, bare
// ones by constructor name, arguments in parentheses when they have any.
func (t *Type) String() string {
	if !t.valid() {
		return "<no type>"
	}
	var b strings.Builder
	t.write(&b, false)
	return b.String()
}

func (t *Type) write(b *strings.Builder, nested bool) {
	if t.nat {
		b.WriteByte('#')
		return
	}
	if nested && len(t.args) > 0 {
		b.WriteByte('(')
	}
	if t.ctor != nil {
		b.WriteString(t.ctor.Name)
	} else {
		b.WriteString(t.typ.Name)
	}
	for _, a := range t.args {
		b.WriteByte(' ')
		if a.t != nil {
			a.t.write(b, true)
		} else {
			b.WriteString(strconv.FormatUint(uint64(a.n), 10))
		}
	}
	if nested && len(t.args) > 0 {
		b.WriteByte(')')
	}
}

// valid reports whether t was built by this package.
func (t *Type) valid() bool { return t != nil && (t.nat || t.typ != nil) }

// boxed reports whether a value of t starts with a constructor tag.
func (t *Type) boxed() bool { return !t.nat && t.ctor == nil }

// bare returns t without its tag. Only single-constructor types have a
// bare form; the resolver guarantees it for references written with '%'.
func (t *Type) bare() (*Type, error) {
	if !t.boxed() {
		return t, nil
	}
	if len(t.typ.Constructors) != 1 {
		return nil, fmt.Errorf("bare reference to %s, which has %d constructors", t.typ.Name, len(t.typ.Constructors))
	}
	return &Type{typ: t.typ, ctor: t.typ.Constructors[0], args: t.args}, nil
}

// env holds the bound template params of one combinator instance, indexed
// like Combinator.Params.
type env struct {
	c    *schema.Combinator
	args []arg
}

// bind returns the environment of constructor c chosen for type t: the
// type's arguments bound to the params listed in c.TypeParams.
func bind(c *schema.Combinator, t *Type) *env {
	e := &env{c: c, args: make([]arg, len(c.Params))}
	if t != nil {
		for i, pi := range c.TypeParams {
			if i < len(t.args) {
				e.args[pi] = t.args[i]
			}
		}
	}
	return e
}

// frame is the state of one field list being walked: the values of its '#'
// fields read or written so far, which NatField references index.
type frame struct {
	fields []schema.Field
	vals   []uint32
	has    []bool
}

func newFrame(fields []schema.Field) *frame {
	return &frame{fields: fields, vals: make([]uint32, len(fields)), has: make([]bool, len(fields))}
}

// nat evaluates a nat reference in the current field list and environment.
func (e *env) nat(r schema.NatRef, f *frame) (uint32, error) {
	switch r.Kind {
	case schema.NatConst:
		return r.Value, nil
	case schema.NatField:
		if f == nil || r.Index >= len(f.vals) || !f.has[r.Index] {
			name := "?"
			if f != nil && r.Index < len(f.fields) {
				name = fieldName(f.fields, r.Index)
			}
			return 0, fmt.Errorf("nat field %s is absent", name)
		}
		return f.vals[r.Index], nil
	case schema.NatParam:
		if r.Index < len(e.args) && e.args[r.Index].ok && e.args[r.Index].t == nil {
			return e.args[r.Index].n, nil
		}
		return 0, fmt.Errorf("nat parameter %s of %s is not bound", paramName(e.c, r.Index), e.c.Name)
	}
	return 0, fmt.Errorf("bad nat reference kind %d", r.Kind)
}

// resolve closes a field's type reference over the environment and the
// nat fields of the current list.
func (e *env) resolve(ref *schema.TypeRef, f *frame, nat *Type) (*Type, error) {
	switch ref.Kind {
	case schema.RefNat:
		return nat, nil
	case schema.RefType, schema.RefCtor:
		t := &Type{typ: ref.Type}
		if ref.Kind == schema.RefCtor {
			t.ctor = ref.Ctor
		}
		if len(ref.Args) > 0 {
			t.args = make([]arg, len(ref.Args))
		}
		for i, a := range ref.Args {
			if a.Nat {
				n, err := e.nat(a.NatVal, f)
				if err != nil {
					return nil, err
				}
				t.args[i] = arg{n: n, ok: true}
				continue
			}
			at, err := e.resolve(a.Type, f, nat)
			if err != nil {
				return nil, err
			}
			t.args[i] = arg{t: at, ok: true}
		}
		return t, nil
	case schema.RefParam:
		if ref.Param >= len(e.args) || !e.args[ref.Param].ok || e.args[ref.Param].t == nil {
			return nil, fmt.Errorf("type parameter %s of %s is not bound", paramName(e.c, ref.Param), e.c.Name)
		}
		t := e.args[ref.Param].t
		if ref.Bare {
			return t.bare()
		}
		return t, nil
	}
	return nil, fmt.Errorf("unexpected type reference kind %d", ref.Kind)
}

func paramName(c *schema.Combinator, i int) string {
	if i < len(c.Params) {
		return c.Params[i].Name
	}
	return "?"
}

// fieldName is the JSON member name of field i: its TL name, or "_N" (N
// the field's 0-based position in its list) for an anonymous field.
func fieldName(fields []schema.Field, i int) string {
	if fields[i].Name != "" {
		return fields[i].Name
	}
	return "_" + strconv.Itoa(i)
}

// shape says how a field list looks in JSON.
type shape uint8

const (
	shapeObject shape = iota // {"name": value, ...}
	shapeSingle              // one anonymous field: its value alone
	shapeVector              // anonymous count + anonymous array of that count: the array
)

func plainAnon(f *schema.Field) bool { return f.Name == "" && f.Cond == nil && !f.Excl }

func shapeOf(fields []schema.Field) shape {
	switch {
	case len(fields) == 1 && plainAnon(&fields[0]):
		return shapeSingle
	case len(fields) == 2 && plainAnon(&fields[0]) && plainAnon(&fields[1]) &&
		fields[0].Type.Kind == schema.RefNat && fields[1].Type.Kind == schema.RefArray &&
		fields[1].Type.Scale.Kind == schema.NatField && fields[1].Type.Scale.Index == 0:
		return shapeVector
	}
	return shapeObject
}

// isTrue reports the unit type True (true = True): JSON true.
func isTrue(t *schema.Type) bool {
	return len(t.Constructors) == 1 && t.Constructors[0].Name == "true" && len(t.Constructors[0].Fields) == 0
}

// isBool reports the type Bool (boolFalse/boolTrue by tag): JSON false/true.
func isBool(t *schema.Type) bool {
	if len(t.Constructors) != 2 {
		return false
	}
	a, b := t.Constructors[0], t.Constructors[1]
	return len(a.Fields) == 0 && len(b.Fields) == 0 &&
		(a.Tag == tl.TagBoolFalse && b.Tag == tl.TagBoolTrue || a.Tag == tl.TagBoolTrue && b.Tag == tl.TagBoolFalse)
}

// dictKey returns the key primitive when c is one of the standard
// dictionary pair constructors (tl.md §5.5), whose vectors print as JSON
// objects; PrimNone otherwise.
func dictKey(c *schema.Combinator) schema.PrimKind {
	switch c.Name {
	case "dictionaryField", "intKeyDictionaryField", "longKeyDictionaryField":
	default:
		return schema.PrimNone
	}
	if len(c.Fields) != 2 || c.Fields[0].Name != "key" || c.Fields[1].Name != "value" ||
		c.Fields[0].Cond != nil || c.Fields[1].Cond != nil || c.Fields[0].Type.Kind != schema.RefCtor {
		return schema.PrimNone
	}
	switch p := c.Fields[0].Type.Prim; p {
	case schema.PrimString, schema.PrimInt, schema.PrimLong:
		return p
	}
	return schema.PrimNone
}

// elemDict returns the dictionary pair type when an array's element list
// is a single anonymous field of such a pair constructor, bare.
func (e *env) elemDict(elem []schema.Field, nat *Type) (*Type, schema.PrimKind) {
	if shapeOf(elem) != shapeSingle || elem[0].Type.Kind == schema.RefArray {
		return nil, schema.PrimNone
	}
	t, err := e.resolve(&elem[0].Type, nil, nat)
	if err != nil || t.ctor == nil {
		return nil, schema.PrimNone
	}
	return t, dictKey(t.ctor)
}

// ctorNames lists a type's constructor names for error messages.
func ctorNames(t *schema.Type) string {
	names := make([]string, len(t.Constructors))
	for i, c := range t.Constructors {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

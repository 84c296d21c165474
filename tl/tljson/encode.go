package tljson

import (
	"fmt"
	"strings"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// encoder walks a parsed JSON tree against a type and appends TL1 bytes.
// Every JSON value yields at most a few words, so the output is bounded by
// a small multiple of the JSON text.
type encoder struct {
	c     *Codec
	out   []byte
	p     path
	depth int
}

func (en *encoder) fail(sentinel error, format string, args ...any) error {
	return &Error{Path: en.p.String(), Offset: -1, Err: sentinel, Msg: fmt.Sprintf(format, args...)}
}

func (en *encoder) enter() error {
	if en.depth >= MaxDepth {
		return en.fail(ErrDepth, "values nest deeper than %d", MaxDepth)
	}
	en.depth++
	return nil
}

// value encodes j as a value of type t.
func (en *encoder) value(t *Type, j *jvalue) error {
	if err := en.enter(); err != nil {
		return err
	}
	defer func() { en.depth-- }()
	if t.nat {
		v, err := en.uint32(j)
		en.out = tl.AppendUint32(en.out, v)
		return err
	}
	typ := t.typ
	if typ.Prim != schema.PrimNone || isTrue(typ) {
		if t.boxed() {
			en.out = tl.AppendUint32(en.out, typ.Constructors[0].Tag)
		}
		if typ.Prim != schema.PrimNone {
			return en.prim(typ.Prim, j)
		}
		if j.kind == jBool && j.b || j.kind == jObject && len(j.obj) == 0 {
			return nil
		}
		return en.fail(ErrJSONType, "want true or {} for %s, got %s", typ.Name, describe(j))
	}
	if !t.boxed() {
		return en.fields(bind(t.ctor, t), newFrame(t.ctor.Fields), j, t.ctor, false)
	}
	if isBool(typ) && j.kind == jBool {
		en.out = tl.AppendBool(en.out, j.b)
		return nil
	}
	c, body, err := en.pick(typ, j)
	if err != nil {
		return err
	}
	if !c.Default {
		en.out = tl.AppendUint32(en.out, c.Tag)
	}
	return en.fields(bind(c, t), newFrame(c.Fields), body, c, len(typ.Constructors) > 1)
}

// fields encodes j as the field list of the current frame. c is the
// constructor or function an object's "_" member must name (nil for array
// elements, which have none); force makes the list an object whatever its
// shape.
func (en *encoder) fields(e *env, fr *frame, j *jvalue, c *schema.Combinator, force bool) error {
	sh := shapeOf(fr.fields)
	if force {
		sh = shapeObject
	}
	members := make([]*jvalue, len(fr.fields))
	switch sh {
	case shapeSingle:
		members[0] = j
	case shapeVector:
		// An object is checked by array: only dictionaries may be one.
		if j.kind != jArray && j.kind != jObject {
			return en.fail(ErrJSONType, "want an array, got %s", describe(j))
		}
		members[1] = j
	default:
		if err := en.members(fr.fields, j, c, members); err != nil {
			return err
		}
	}
	for i := range fr.fields {
		f := &fr.fields[i]
		jv := members[i]
		if f.Cond != nil {
			m, err := e.nat(f.Cond.Mask, fr)
			if err != nil {
				return en.fail(ErrSchema, "field %s: %v", fieldName(fr.fields, i), err)
			}
			unit := en.isTrueField(e, fr, f)
			if m>>f.Cond.Bit&1 == 0 {
				if jv != nil && !(unit && jv.kind == jBool && !jv.b) {
					return en.fail(ErrMask, "field %s is present but bit %d of its mask (%d) is clear", fieldName(fr.fields, i), f.Cond.Bit, m)
				}
				continue
			}
			if unit && jv == nil {
				jv = &jvalue{kind: jBool, b: true} // the bit is the value
			}
			if unit && jv.kind == jBool && !jv.b {
				return en.fail(ErrMask, "field %s is false but bit %d of its mask (%d) is set", fieldName(fr.fields, i), f.Cond.Bit, m)
			}
		}
		if sh == shapeVector && i == 0 {
			n := uint32(len(j.arr) + len(j.obj))
			fr.vals[0], fr.has[0] = n, true
			en.out = tl.AppendUint32(en.out, n)
			continue
		}
		if jv == nil {
			v, ok := en.infer(e, fr, i, members)
			if !ok {
				return en.fail(ErrMissing, "missing field %s", fieldName(fr.fields, i))
			}
			fr.vals[i], fr.has[i] = v, true
			en.out = tl.AppendUint32(en.out, v)
			continue
		}
		n := len(en.p)
		if sh == shapeObject {
			en.p = en.p.field(fieldName(fr.fields, i))
		}
		if err := en.field(e, fr, i, jv); err != nil {
			return err
		}
		en.p = en.p[:n]
	}
	return nil
}

// members maps an object's members to the fields they fill. "_" must name
// c; unknown and repeated members are errors.
func (en *encoder) members(fields []schema.Field, j *jvalue, c *schema.Combinator, out []*jvalue) error {
	if j.kind != jObject {
		return en.fail(ErrJSONType, "want an object, got %s", describe(j))
	}
next:
	for _, m := range j.obj {
		if m.key == "_" {
			if c == nil {
				return en.fail(ErrUnknown, `unexpected "_" in an array element`)
			}
			if m.val.kind != jString || !refersTo(c, m.val.s) {
				return en.fail(ErrUnknown, `"_" is %s, want %q`, describe(m.val), c.Name)
			}
			continue
		}
		for i := range fields {
			if fieldName(fields, i) == m.key {
				if out[i] != nil {
					return en.fail(ErrSyntax, "field %s given twice", m.key)
				}
				out[i] = m.val
				continue next
			}
		}
		names := make([]string, len(fields))
		for i := range fields {
			names[i] = fieldName(fields, i)
		}
		return en.fail(ErrUnknown, "unknown field %q (fields: %s)", m.key, strings.Join(names, ", "))
	}
	return nil
}

// infer computes an absent '#' field from the later fields that use it:
// the OR of the bits of present conditional fields, or the length of an
// array it sizes. It fails when no later field uses it that way.
func (en *encoder) infer(e *env, fr *frame, i int, members []*jvalue) (uint32, bool) {
	if fr.fields[i].Type.Kind != schema.RefNat {
		return 0, false
	}
	var v uint32
	found := false
	for k := i + 1; k < len(fr.fields); k++ {
		g, jv := &fr.fields[k], members[k]
		if c := g.Cond; c != nil && c.Mask.Kind == schema.NatField && c.Mask.Index == i {
			found = true
			if jv != nil && !(jv.kind == jBool && !jv.b && en.isTrueField(e, fr, g)) {
				v |= 1 << c.Bit
			}
		}
		if s := g.Type.Scale; g.Type.Kind == schema.RefArray && s.Kind == schema.NatField && s.Index == i && jv != nil && (jv.kind == jArray || jv.kind == jObject) {
			found = true
			v |= uint32(len(jv.arr) + len(jv.obj))
		}
	}
	return v, found
}

// isTrueField reports a field of the unit type True, whose presence under
// a mask bit is its whole value.
func (en *encoder) isTrueField(e *env, fr *frame, f *schema.Field) bool {
	if f.Excl || f.Type.Kind == schema.RefNat || f.Type.Kind == schema.RefArray {
		return false
	}
	t, err := e.resolve(&f.Type, fr, en.c.nat)
	return err == nil && !t.nat && isTrue(t.typ)
}

// field encodes jv as field i of the current list.
func (en *encoder) field(e *env, fr *frame, i int, jv *jvalue) error {
	f := &fr.fields[i]
	switch {
	case f.Excl:
		fn, fe, ffr, err := en.call(jv, nil)
		if err != nil {
			return err
		}
		res, err := fe.resolve(fn.Result, ffr, en.c.nat)
		if err != nil {
			return en.fail(ErrSchema, "result of %s: %v", fn.Name, err)
		}
		e.args[f.Type.Param] = arg{t: res, ok: true}
		return nil
	case f.Type.Kind == schema.RefNat:
		v, err := en.uint32(jv)
		fr.vals[i], fr.has[i] = v, true
		en.out = tl.AppendUint32(en.out, v)
		return err
	case f.Type.Kind == schema.RefArray:
		n, err := e.nat(f.Type.Scale, fr)
		if err != nil {
			return en.fail(ErrSchema, "array size: %v", err)
		}
		return en.array(f.Type.Elem, n, e, jv)
	}
	t, err := e.resolve(&f.Type, fr, en.c.nat)
	if err != nil {
		return en.fail(ErrSchema, "%v", err)
	}
	return en.value(t, jv)
}

// call encodes {"_":"function", fields...} as a boxed call. With fn set
// the "_" member is optional and must name fn.
func (en *encoder) call(j *jvalue, fn *schema.Combinator) (*schema.Combinator, *env, *frame, error) {
	if err := en.enter(); err != nil {
		return nil, nil, nil, err
	}
	defer func() { en.depth-- }()
	if j.kind != jObject {
		return nil, nil, nil, en.fail(ErrJSONType, `want a call {"_":"function",...}, got %s`, describe(j))
	}
	if fn == nil {
		nm := j.get("_")
		if nm == nil || nm.kind != jString {
			return nil, nil, nil, en.fail(ErrMissing, `want "_" naming a function`)
		}
		if fn = en.c.functionNamed(nm.s); fn == nil {
			return nil, nil, nil, en.fail(ErrUnknown, "unknown function %q%s", nm.s, en.c.suggest(nm.s, true))
		}
	}
	en.out = tl.AppendUint32(en.out, fn.Tag)
	e, fr := bind(fn, nil), newFrame(fn.Fields)
	if err := en.fields(e, fr, j, fn, true); err != nil {
		return nil, nil, nil, err
	}
	return fn, e, fr, nil
}

// array encodes jv as n instances of the element field list: a JSON array
// of exactly n elements or, for the standard dictionaries, an object.
func (en *encoder) array(elem []schema.Field, n uint32, e *env, jv *jvalue) error {
	if err := en.enter(); err != nil {
		return err
	}
	defer func() { en.depth-- }()
	if jv.kind == jObject {
		if pair, key := e.elemDict(elem, en.c.nat); key != schema.PrimNone {
			return en.dict(pair, key, n, jv)
		}
	}
	if jv.kind != jArray {
		return en.fail(ErrJSONType, "want an array, got %s", describe(jv))
	}
	if uint64(len(jv.arr)) != uint64(n) {
		return en.fail(ErrRange, "array has %d elements, its size is %d", len(jv.arr), n)
	}
	for k, el := range jv.arr {
		np := len(en.p)
		en.p = en.p.elem(k)
		if err := en.fields(e, newFrame(elem), el, nil, false); err != nil {
			return err
		}
		en.p = en.p[:np]
	}
	return nil
}

// dict encodes a JSON object as dictionary pairs in member order,
// duplicate keys included.
func (en *encoder) dict(pair *Type, key schema.PrimKind, n uint32, jv *jvalue) error {
	if uint64(len(jv.obj)) != uint64(n) {
		return en.fail(ErrRange, "dictionary has %d entries, its size is %d", len(jv.obj), n)
	}
	vt, err := bind(pair.ctor, pair).resolve(&pair.ctor.Fields[1].Type, nil, en.c.nat)
	if err != nil {
		return en.fail(ErrSchema, "dictionary value: %v", err)
	}
	for _, m := range jv.obj {
		np := len(en.p)
		en.p = en.p.field(m.key)
		k := &jvalue{kind: jString, s: m.key}
		switch key {
		case schema.PrimString:
			en.out = tl.AppendString(en.out, m.key)
		case schema.PrimInt:
			v, err := en.int32(k)
			if err != nil {
				return err
			}
			en.out = tl.AppendInt32(en.out, v)
		default:
			v, err := en.int64(k)
			if err != nil {
				return err
			}
			en.out = tl.AppendInt64(en.out, v)
		}
		if err := en.value(vt, m.val); err != nil {
			return err
		}
		en.p = en.p[:np]
	}
	return nil
}

func describe(j *jvalue) string {
	switch j.kind {
	case jString:
		if len(j.s) <= 40 {
			return fmt.Sprintf("string %q", j.s)
		}
		return "a string"
	case jNumber:
		return "number " + j.s
	case jBool:
		return fmt.Sprint(j.b)
	}
	return j.kind.String()
}

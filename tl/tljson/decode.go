package tljson

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// decoder walks TL1 bytes and appends their JSON form. It reads the input
// once front to back and its output grows with the bytes consumed, except for zero-size elements,
// which the zero budget bounds.
type decoder struct {
	c     *Codec
	in    []byte // whole input, for offsets
	r     []byte // rest of the input
	out   []byte
	p     path
	depth int
	zero  int // zero-size array elements still allowed
}

func (c *Codec) newDecoder(dst, in []byte) *decoder {
	return &decoder{c: c, in: in, r: in, out: dst, zero: MaxZeroSize}
}

func (d *decoder) off() int { return len(d.in) - len(d.r) }

// fail builds an *Error at the current path for a value starting at start.
func (d *decoder) fail(start int, sentinel error, format string, args ...any) error {
	return &Error{Path: d.p.String(), Offset: start, Err: sentinel, Msg: fmt.Sprintf(format, args...)}
}

// failTL wraps an error from a package tl reader.
func (d *decoder) failTL(start int, err error) error {
	return &Error{Path: d.p.String(), Offset: start, Err: err}
}

func (d *decoder) finish() error {
	if len(d.r) != 0 {
		return d.fail(d.off(), ErrTrailing, "%d bytes after the value", len(d.r))
	}
	return nil
}

func (d *decoder) enter(start int) error {
	if d.depth >= MaxDepth {
		return d.fail(start, ErrDepth, "values nest deeper than %d", MaxDepth)
	}
	d.depth++
	return nil
}

// value decodes one value of type t.
func (d *decoder) value(t *Type) error {
	start := d.off()
	if err := d.enter(start); err != nil {
		return err
	}
	defer func() { d.depth-- }()
	if t.nat {
		v, rest, err := tl.ReadUint32(d.r)
		if err != nil {
			return d.failTL(start, err)
		}
		d.r = rest
		d.out = strconv.AppendUint(d.out, uint64(v), 10)
		return nil
	}
	typ := t.typ
	if typ.Prim != schema.PrimNone || isTrue(typ) {
		if t.boxed() {
			rest, err := tl.ExpectTag(d.r, typ.Constructors[0].Tag)
			if err != nil {
				return d.failTL(start, err)
			}
			d.r = rest
		}
		if typ.Prim != schema.PrimNone {
			return d.prim(typ.Prim)
		}
		d.out = append(d.out, "true"...)
		return nil
	}
	if !t.boxed() {
		return d.ctor(t.ctor, t, false)
	}
	tag, rest, err := tl.ReadUint32(d.r)
	if err != nil {
		return d.failTL(start, err)
	}
	if isBool(typ) {
		switch tag {
		case tl.TagBoolTrue, tl.TagBoolFalse:
			d.r = rest
			d.out = strconv.AppendBool(d.out, tag == tl.TagBoolTrue)
			return nil
		}
	}
	c := typ.ConstructorByTag(tag)
	switch {
	case c != nil:
		d.r = rest
	case typ.Default != nil:
		c = typ.Default // no tag on the wire: the four bytes belong to it
	default:
		return d.fail(start, ErrUnknown, "tag %08x is not a constructor of %s (%s)", tag, typ.Name, ctorNames(typ))
	}
	return d.ctor(c, t, len(typ.Constructors) > 1)
}

// ctor decodes the fields of constructor c chosen for t. In a union the
// object names the constructor in "_".
func (d *decoder) ctor(c *schema.Combinator, t *Type, union bool) error {
	name := ""
	if union {
		name = c.Name
	}
	return d.fields(bind(c, t), newFrame(c.Fields), name)
}

// fields decodes a field list. With name set it is an object whose "_"
// member is name; otherwise its shape decides (see shapeOf).
func (d *decoder) fields(e *env, fr *frame, name string) error {
	sh := shapeOf(fr.fields)
	if name != "" {
		sh = shapeObject
	}
	if sh == shapeObject {
		d.out = append(d.out, '{')
		if name != "" {
			d.out = append(d.out, `"_":`...)
			d.out = appendQuoted(d.out, name)
		}
	}
	first := name == ""
	for i := range fr.fields {
		f := &fr.fields[i]
		start := d.off()
		if f.Cond != nil {
			m, err := e.nat(f.Cond.Mask, fr)
			if err != nil {
				return d.fail(start, ErrSchema, "field %s: %v", fieldName(fr.fields, i), err)
			}
			if m>>f.Cond.Bit&1 == 0 {
				continue
			}
		}
		if sh == shapeVector && i == 0 {
			// The count is implied by the JSON array's length.
			v, rest, err := tl.ReadUint32(d.r)
			if err != nil {
				return d.failTL(start, err)
			}
			d.r, fr.vals[0], fr.has[0] = rest, v, true
			continue
		}
		n := len(d.p)
		if sh == shapeObject {
			if !first {
				d.out = append(d.out, ',')
			}
			first = false
			key := fieldName(fr.fields, i)
			d.out = appendQuoted(d.out, key)
			d.out = append(d.out, ':')
			d.p = d.p.field(key)
		}
		if err := d.field(e, fr, i); err != nil {
			return err
		}
		d.p = d.p[:n]
	}
	if sh == shapeObject {
		d.out = append(d.out, '}')
	}
	return nil
}

// field decodes field i of the current list.
func (d *decoder) field(e *env, fr *frame, i int) error {
	f := &fr.fields[i]
	start := d.off()
	switch {
	case f.Excl:
		fn, fe, ffr, err := d.call()
		if err != nil {
			return err
		}
		res, err := fe.resolve(fn.Result, ffr, d.c.nat)
		if err != nil {
			return d.fail(start, ErrSchema, "result of %s: %v", fn.Name, err)
		}
		e.args[f.Type.Param] = arg{t: res, ok: true}
		return nil
	case f.Type.Kind == schema.RefNat:
		v, rest, err := tl.ReadUint32(d.r)
		if err != nil {
			return d.failTL(start, err)
		}
		d.r, fr.vals[i], fr.has[i] = rest, v, true
		d.out = strconv.AppendUint(d.out, uint64(v), 10)
		return nil
	case f.Type.Kind == schema.RefArray:
		n, err := e.nat(f.Type.Scale, fr)
		if err != nil {
			return d.fail(start, ErrSchema, "array size: %v", err)
		}
		return d.array(f.Type.Elem, n, e)
	}
	t, err := e.resolve(&f.Type, fr, d.c.nat)
	if err != nil {
		return d.fail(start, ErrSchema, "%v", err)
	}
	return d.value(t)
}

// call decodes a boxed function call as {"_":"name", fields...} and
// returns the function with its bound state, from which its result type
// is resolved.
func (d *decoder) call() (*schema.Combinator, *env, *frame, error) {
	start := d.off()
	if err := d.enter(start); err != nil {
		return nil, nil, nil, err
	}
	defer func() { d.depth-- }()
	tag, rest, err := tl.ReadUint32(d.r)
	if err != nil {
		return nil, nil, nil, d.failTL(start, err)
	}
	fn := d.c.s.ByTag(tag)
	if fn == nil || !fn.Function {
		return nil, nil, nil, d.fail(start, ErrUnknown, "tag %08x is not a function", tag)
	}
	d.r = rest
	e, fr := bind(fn, nil), newFrame(fn.Fields)
	if err := d.fields(e, fr, fn.Name); err != nil {
		return nil, nil, nil, err
	}
	return fn, e, fr, nil
}

// array decodes n elements, each an instance of the element field list.
func (d *decoder) array(elem []schema.Field, n uint32, e *env) error {
	start := d.off()
	if err := d.enter(start); err != nil {
		return err
	}
	defer func() { d.depth-- }()
	if pair, key := e.elemDict(elem, d.c.nat); key != schema.PrimNone {
		return d.dict(pair, key, n)
	}
	d.out = append(d.out, '[')
	for k := uint32(0); k < n; k++ {
		if k > 0 {
			d.out = append(d.out, ',')
		}
		np := len(d.p)
		d.p = d.p.elem(int(k))
		before := d.off()
		if err := d.fields(e, newFrame(elem), ""); err != nil {
			return err
		}
		if d.off() == before {
			if d.zero--; d.zero < 0 {
				return d.fail(before, ErrLimit, "more than %d zero-size elements", MaxZeroSize)
			}
		}
		d.p = d.p[:np]
	}
	d.out = append(d.out, ']')
	return nil
}

// dict decodes n dictionary pairs as one JSON object in wire order,
// duplicate keys included. A string key that is not valid UTF-8 cannot be
// an object key; then the pairs print as an array of {"key":...,
// "value":...} objects. The values are decoded once, then placed in the
// chosen form, so nested dictionaries cost a copy per level, not a second
// decoding per level.
func (d *decoder) dict(pair *Type, key schema.PrimKind, n uint32) error {
	vt, err := bind(pair.ctor, pair).resolve(&pair.ctor.Fields[1].Type, nil, d.c.nat)
	if err != nil {
		return d.fail(d.off(), ErrSchema, "dictionary value: %v", err)
	}
	type entry struct {
		key        []byte // string key as read, or the decimal of an int key
		start, end int    // the value's JSON in d.out
	}
	var entries []entry // each entry consumed at least 4 input bytes
	mark, object := len(d.out), true
	for k := uint32(0); k < n; k++ {
		start := d.off()
		var name []byte
		var rest []byte
		switch key {
		case schema.PrimString:
			name, rest, err = tl.ReadBytes(d.r)
			object = object && utf8.Valid(name)
		case schema.PrimInt:
			var v int32
			v, rest, err = tl.ReadInt32(d.r)
			name = strconv.AppendInt(nil, int64(v), 10)
		default:
			var v int64
			v, rest, err = tl.ReadInt64(d.r)
			name = strconv.AppendInt(nil, v, 10)
		}
		if err != nil {
			return d.failTL(start, err)
		}
		d.r = rest
		np := len(d.p)
		d.p = d.p.field(string(name))
		vstart := len(d.out)
		if err := d.value(vt); err != nil {
			return err
		}
		d.p = d.p[:np]
		entries = append(entries, entry{key: name, start: vstart - mark, end: len(d.out) - mark})
	}
	vals := append([]byte(nil), d.out[mark:]...)
	d.out = d.out[:mark]
	if object {
		d.out = append(d.out, '{')
	} else {
		d.out = append(d.out, '[')
	}
	for i, e := range entries {
		if i > 0 {
			d.out = append(d.out, ',')
		}
		if object {
			d.out = appendQuoted(d.out, string(e.key))
			d.out = append(d.out, ':')
		} else {
			d.out = append(d.out, `{"key":`...)
			d.out = appendTLString(d.out, e.key)
			d.out = append(d.out, `,"value":`...)
		}
		d.out = append(d.out, vals[e.start:e.end]...)
		if !object {
			d.out = append(d.out, '}')
		}
	}
	if object {
		d.out = append(d.out, '}')
	} else {
		d.out = append(d.out, ']')
	}
	return nil
}

// prim decodes a primitive value.
func (d *decoder) prim(p schema.PrimKind) error {
	start := d.off()
	var err error
	var rest []byte
	switch p {
	case schema.PrimNat:
		var v uint32
		v, rest, err = tl.ReadUint32(d.r)
		d.out = strconv.AppendUint(d.out, uint64(v), 10)
	case schema.PrimInt:
		var v int32
		v, rest, err = tl.ReadInt32(d.r)
		d.out = strconv.AppendInt(d.out, int64(v), 10)
	case schema.PrimLong:
		var v int64
		v, rest, err = tl.ReadInt64(d.r)
		d.out = strconv.AppendInt(d.out, v, 10)
	case schema.PrimFloat:
		var v uint32
		v, rest, err = tl.ReadUint32(d.r)
		d.out = appendFloat(d.out, float64(math.Float32frombits(v)), uint64(v), 32)
	case schema.PrimDouble:
		var v uint64
		v, rest, err = tl.ReadUint64(d.r)
		d.out = appendFloat(d.out, math.Float64frombits(v), v, 64)
	case schema.PrimString, schema.PrimBytes:
		var b []byte
		b, rest, err = tl.ReadBytes(d.r)
		if err == nil {
			d.out = appendTLString(d.out, b)
		}
	case schema.PrimInt128, schema.PrimInt256:
		n := 16
		if p == schema.PrimInt256 {
			n = 32
		}
		if len(d.r) < n {
			return d.failTL(start, tl.ErrTruncated)
		}
		d.out = append(d.out, '"')
		d.out = hex.AppendEncode(d.out, d.r[:n])
		d.out = append(d.out, '"')
		rest = d.r[n:]
	default:
		return d.fail(start, ErrSchema, "unknown primitive %v", p)
	}
	if err != nil {
		return d.failTL(start, err)
	}
	d.r = rest
	return nil
}

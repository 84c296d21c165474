package schema

// scope is the set of names visible while resolving one field list: the
// combinator's template params and the fields before the current one.
type scope struct {
	c      *Combinator
	decls  []*FieldDecl
	fields []Field // resolved so far, parallel to decls
	parent *scope  // the enclosing list for fields inside brackets
}

func (r *resolver) resolveCombinator(c *Combinator, d *Decl) {
	sc := &scope{c: c, decls: d.Fields}
	c.Fields = r.resolveFields(sc)
	if c.Function {
		sc.fields = c.Fields
		res := r.typeTerm(d.Result, sc, len(d.Fields))
		if res.Bare {
			r.errorf(d.Result.Pos, ErrInvalid, "function result of %s cannot be bare", c.Name)
		}
		c.Result = &res
		for i, p := range c.Params {
			if p.Nat {
				continue
			}
			bound := false
			for _, f := range c.Fields {
				if f.Excl && f.Type.Kind == RefParam && f.Type.Param == i {
					bound = true
				}
			}
			if !bound {
				r.errorf(p.Pos, ErrInvalid, "type parameter %s of function %s must be bound by a !%s field", p.Name, c.Name, p.Name)
			}
		}
	}
}

func (r *resolver) resolveFields(sc *scope) []Field {
	sc.fields = make([]Field, 0, len(sc.decls))
	for i, fd := range sc.decls {
		f := Field{Name: fd.Name, Excl: fd.Excl, Pos: fd.Pos}
		if fd.Name != "" {
			for _, prev := range sc.decls[:i] {
				if prev.Name == fd.Name {
					r.errorf(fd.Pos, ErrDuplicate, "field %s declared twice", fd.Name)
					break
				}
			}
		}
		if fd.HasMask {
			if fd.Bit > 31 {
				r.errorf(fd.MaskPos, ErrNatRef, "fields-mask bit %d of %s.%d is above 31", fd.Bit, fd.Mask, fd.Bit)
			}
			f.Cond = &Cond{Mask: r.natName(fd.Mask, fd.MaskPos, sc, i), Bit: uint8(fd.Bit & 31)}
		}
		if fd.Type.Kind == TermArray {
			f.Type = r.array(fd.Type, sc, i)
		} else {
			f.Type = r.typeTerm(fd.Type, sc, i)
		}
		if fd.Excl && (f.Type.Kind != RefParam || f.Type.Bare) && f.Type.Kind != RefInvalid {
			r.errorf(fd.Type.Pos, ErrInvalid, "!%s must name a Type template parameter", termName(fd.Type))
		}
		sc.fields = append(sc.fields, f)
	}
	return sc.fields
}

func termName(t *Term) string {
	if t.Kind == TermName {
		return t.Name
	}
	return "#"
}

// array resolves [scale '*'] '[' fields ']' at position i of sc.
func (r *resolver) array(t *Term, sc *scope, i int) TypeRef {
	ref := TypeRef{Kind: RefArray, Pos: t.Pos}
	switch {
	case t.Scale == nil && sc.parent != nil:
		r.errorf(t.Pos, ErrNatRef, "brackets nested in brackets need an explicit size (n*[...])")
	case t.Scale == nil && i == 0:
		// "[t]" as the first field counts by the last template param (tuple).
		n := len(sc.c.Params)
		if n == 0 || !sc.c.Params[n-1].Nat {
			r.errorf(t.Pos, ErrNatRef, "[...] as the first field needs the last template parameter to be #")
		} else {
			ref.Scale = NatRef{Kind: NatParam, Index: n - 1}
		}
	case t.Scale == nil:
		// "[t]" elsewhere counts by the previous field (vector's "# [t]").
		if sc.fields[i-1].Type.Kind != RefNat {
			r.errorf(t.Pos, ErrNatRef, "[...] without a size must follow a field of type #")
		} else {
			ref.Scale = NatRef{Kind: NatField, Index: i - 1}
		}
	case t.Scale.Kind == TermNum:
		ref.Scale = NatRef{Kind: NatConst, Value: t.Scale.Num}
	default:
		ref.Scale = r.natName(t.Scale.Name, t.Scale.Pos, sc, i)
	}
	inner := &scope{c: sc.c, decls: t.Fields, parent: sc}
	ref.Elem = r.resolveFields(inner)
	return ref
}

// natName resolves a name used as a nat (mask, size, nat argument) at
// position i of sc: an earlier field of type # or a {n:#} param.
func (r *resolver) natName(name string, p Pos, sc *scope, i int) NatRef {
	for j := i - 1; j >= 0; j-- {
		if sc.decls[j].Name != name {
			continue
		}
		switch sc.fields[j].Type.Kind {
		case RefNat:
			return NatRef{Kind: NatField, Index: j}
		case RefInvalid:
			return NatRef{}
		}
		r.errorf(p, ErrNatRef, "%s is not of type #", name)
		return NatRef{}
	}
	for j := i; j < len(sc.decls); j++ {
		if sc.decls[j].Name == name {
			r.errorf(p, ErrNatRef, "%s refers to a later field", name)
			return NatRef{}
		}
	}
	for j, prm := range sc.c.Params {
		if prm.Name != name {
			continue
		}
		if !prm.Nat {
			r.errorf(p, ErrNatRef, "template parameter %s is a Type, not #", name)
			return NatRef{}
		}
		return NatRef{Kind: NatParam, Index: j}
	}
	for up := sc.parent; up != nil; up = up.parent {
		for _, d := range up.decls {
			if d.Name == name {
				r.errorf(p, ErrNatRef, "%s is a field outside the brackets; only fields inside the same brackets or template parameters can be referenced", name)
				return NatRef{}
			}
		}
	}
	r.errorf(p, ErrNatRef, "unknown nat %s (no earlier field or template parameter of that name)", name)
	return NatRef{}
}

// typeTerm resolves a term in type position at position i of sc.
func (r *resolver) typeTerm(t *Term, sc *scope, i int) TypeRef {
	switch t.Kind {
	case TermNat:
		return TypeRef{Kind: RefNat, Prim: PrimNat, Pos: t.Pos}
	case TermNum:
		r.errorf(t.Pos, ErrArity, "number %d where a type is expected", t.Num)
		return TypeRef{}
	case TermArray:
		r.errorf(t.Pos, ErrInvalid, "brackets are only allowed as a field type")
		return TypeRef{}
	}
	for j, prm := range sc.c.Params {
		if prm.Name != t.Name {
			continue
		}
		if prm.Nat {
			r.errorf(t.Pos, ErrArity, "nat parameter %s used as a type", t.Name)
			return TypeRef{}
		}
		if len(t.Args) > 0 {
			r.errorf(t.Pos, ErrArity, "type parameter %s takes no arguments", t.Name)
			return TypeRef{}
		}
		return TypeRef{Kind: RefParam, Param: j, Bare: t.Bare, Pos: t.Pos}
	}
	ref := TypeRef{Pos: t.Pos}
	var typ *Type
	if lowerFirst(localName(t.Name)) {
		c := r.s.combinators[t.Name]
		switch {
		case c == nil:
			r.errorf(t.Pos, ErrUnknownType, "unknown constructor %s", t.Name)
			return TypeRef{}
		case c.Function:
			r.errorf(t.Pos, ErrUnknownType, "%s is a function, not a constructor", t.Name)
			return TypeRef{}
		}
		typ = c.Type
		ref.Kind, ref.Ctor, ref.Bare = RefCtor, c, true
	} else {
		typ = r.s.types[t.Name]
		if typ == nil {
			r.errorf(t.Pos, ErrUnknownType, "unknown type %s", t.Name)
			return TypeRef{}
		}
		ref.Kind = RefType
		if t.Bare {
			if len(typ.Constructors) != 1 {
				r.errorf(t.Pos, ErrBareUnion, "bare reference %%%s to a type with %d constructors", t.Name, len(typ.Constructors))
				return TypeRef{}
			}
			ref.Kind, ref.Ctor, ref.Bare = RefCtor, typ.Constructors[0], true
		}
	}
	ref.Type, ref.Prim = typ, typ.Prim
	if len(t.Args) != len(typ.Params) {
		r.errorf(t.Pos, ErrArity, "%s takes %d template arguments, got %d", t.Name, len(typ.Params), len(t.Args))
		return TypeRef{}
	}
	if len(t.Args) > 0 {
		ref.Args = make([]Arg, len(t.Args))
		for k, a := range t.Args {
			if typ.Params[k].Nat {
				ref.Args[k] = Arg{Nat: true, NatVal: r.natArg(a, sc, i)}
				continue
			}
			at := r.typeTerm(a, sc, i)
			ref.Args[k] = Arg{Type: &at}
		}
	}
	return ref
}

func (r *resolver) natArg(a *Term, sc *scope, i int) NatRef {
	switch {
	case a.Kind == TermNum:
		return NatRef{Kind: NatConst, Value: a.Num}
	case a.Kind == TermName && !a.Bare && len(a.Args) == 0:
		return r.natName(a.Name, a.Pos, sc, i)
	}
	r.errorf(a.Pos, ErrArity, "expected a nat argument (number, # field or # parameter)")
	return NatRef{}
}

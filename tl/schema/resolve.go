package schema

import (
	"fmt"
)

// Resolve builds a Schema from parsed files, checking every name, template
// argument, nat reference and tag. Files are taken in order; a file returned
// by Prelude contributes only the types no other file declares. It reports
// every error found (up to 50) as an ErrorList.
func Resolve(files ...*File) (*Schema, error) {
	r := &resolver{s: &Schema{
		types:       map[string]*Type{},
		combinators: map[string]*Combinator{},
		tags:        map[uint32]*Combinator{},
	}}
	decls := selectDecls(files)
	combs := make([]*Combinator, 0, len(decls))
	for _, fd := range decls {
		combs = append(combs, r.declare(fd.decl, fd.dialect))
	}
	for _, t := range r.s.Types {
		if len(t.Constructors) == 1 {
			c := t.Constructors[0]
			if k := primByCtor(c.Name); k != PrimNone {
				t.Prim, c.Prim = k, k
			}
		}
	}
	for i, fd := range decls {
		c := combs[i]
		if c.Builtin && c.Prim == PrimNone {
			r.errorf(c.Pos, ErrInvalid, "builtin '?' body is only allowed for int, long, float, double, string, bytes, int128, int256, not %s", c.Name)
		}
		r.resolveCombinator(c, fd.decl)
	}
	if len(r.errs) > 0 {
		return nil, r.errs
	}
	return r.s, nil
}

type fileDecl struct {
	decl    *Decl
	dialect Dialect
}

// selectDecls lists the declarations to resolve: the prelude's first, but
// only for types whose type name and constructor names no other file uses,
// then every other file's in order. A tag clash with the prelude is left to
// surface as a duplicate-tag error: silently dropping a standard type would
// turn it into confusing unknown-type errors inside the prelude.
func selectDecls(files []*File) []fileDecl {
	typeNames := map[string]bool{}
	names := map[string]bool{}
	var user []fileDecl
	for _, f := range files {
		if f == nil || f.prelude {
			continue
		}
		for _, d := range f.Decls {
			user = append(user, fileDecl{d, f.Dialect})
			names[d.Name] = true
			if !d.Function {
				typeNames[d.Result.Name] = true
			}
		}
	}
	var out []fileDecl
	for _, f := range files {
		if f == nil || !f.prelude {
			continue
		}
		blocked := map[string]bool{}
		for _, d := range f.Decls {
			if d.Function {
				continue
			}
			if typeNames[d.Result.Name] || names[d.Name] {
				blocked[d.Result.Name] = true
			}
		}
		for _, d := range f.Decls {
			if d.Function || blocked[d.Result.Name] {
				continue
			}
			out = append(out, fileDecl{d, f.Dialect})
		}
	}
	return append(out, user...)
}

func ruleFor(d Dialect) Rule {
	if d == Telegram {
		return RuleTelegram
	}
	return RuleVK
}

type resolver struct {
	s    *Schema
	errs ErrorList
}

func (r *resolver) errorf(p Pos, sentinel error, format string, args ...any) {
	if len(r.errs) >= maxErrors {
		return
	}
	r.errs = append(r.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, args...), Err: sentinel})
}

// declare creates the combinator for d, registers its name and tag, and
// attaches constructors to their types. Fields are resolved later, once
// every name is known.
func (r *resolver) declare(d *Decl, dialect Dialect) *Combinator {
	rule := ruleFor(dialect)
	c := &Combinator{
		Name:        d.Name,
		Tag:         d.EffectiveTag(rule),
		ExplicitTag: d.HasTag,
		Canonical:   d.Canonical(rule),
		Function:    d.Function,
		Default:     d.Name == "_",
		Builtin:     d.Builtin,
		Annotations: d.Annotations,
		Pos:         d.Pos,
	}
	for _, a := range d.Annotations {
		c.Flags |= annotationBits(a)
	}
	for i, p := range d.Params {
		for _, q := range d.Params[:i] {
			if q.Name == p.Name {
				r.errorf(p.Pos, ErrDuplicate, "template parameter %s declared twice in %s", p.Name, d.Name)
			}
		}
		c.Params = append(c.Params, Param{Name: p.Name, Nat: p.Nat, Pos: p.Pos})
	}
	r.s.Combinators = append(r.s.Combinators, c)
	switch {
	case c.Default && c.Function:
		r.errorf(c.Pos, ErrInvalid, "the default constructor _ cannot be a function")
	case c.Default:
		if c.ExplicitTag {
			r.errorf(c.Pos, ErrInvalid, "the default constructor _ cannot have an explicit tag")
		}
	default:
		if prev := r.s.combinators[c.Name]; prev != nil {
			// A repeated declaration would also repeat its tag and add a
			// second constructor to its type; one error says it all.
			r.errorf(c.Pos, ErrDuplicate, "%s already declared at %s", c.Name, prev.Pos)
			return c
		}
		r.s.combinators[c.Name] = c
		if c.Tag == 0 {
			r.errorf(c.Pos, ErrInvalid, "tag 0 is not allowed (%s)", c.Name)
		} else if prev := r.s.tags[c.Tag]; prev != nil {
			r.errorf(c.Pos, ErrDuplicate, "tag %08x of %s already used by %s at %s", c.Tag, c.Name, prev.Name, prev.Pos)
		} else {
			r.s.tags[c.Tag] = c
		}
	}
	if !c.Function {
		r.attach(c, d)
	}
	return c
}

// attach adds constructor c to the type on its right side, creating the
// type on first use and checking that all constructors agree on its params.
func (r *resolver) attach(c *Combinator, d *Decl) {
	res := d.Result
	var params []Param
	for _, a := range res.Args {
		idx := -1
		for i, p := range c.Params {
			if p.Name == a.Name {
				idx = i
			}
		}
		if idx < 0 {
			r.errorf(a.Pos, ErrInvalid, "result parameter %s of %s is not a template parameter", a.Name, c.Name)
			continue
		}
		c.TypeParams = append(c.TypeParams, idx)
		params = append(params, Param{Name: a.Name, Nat: c.Params[idx].Nat, Pos: a.Pos})
	}
	t := r.s.types[res.Name]
	if t == nil {
		t = &Type{Name: res.Name, Params: params, Pos: res.Pos}
		r.s.types[res.Name] = t
		r.s.Types = append(r.s.Types, t)
	} else if !sameKinds(t.Params, params) {
		r.errorf(res.Pos, ErrArity, "%s declares %s with %s, but %s at %s declared %s",
			c.Name, t.Name, kindList(params), t.Constructors[0].Name, t.Pos, kindList(t.Params))
	}
	c.Type = t
	t.Constructors = append(t.Constructors, c)
	if c.Default {
		if t.Default != nil {
			r.errorf(c.Pos, ErrDuplicate, "type %s already has a default constructor at %s", t.Name, t.Default.Pos)
		} else {
			t.Default = c
		}
	}
}

func sameKinds(a, b []Param) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Nat != b[i].Nat {
			return false
		}
	}
	return true
}

func kindList(ps []Param) string {
	if len(ps) == 0 {
		return "no parameters"
	}
	s := "parameters ("
	for i, p := range ps {
		if i > 0 {
			s += " "
		}
		if p.Nat {
			s += "#"
		} else {
			s += "Type"
		}
	}
	return s + ")"
}

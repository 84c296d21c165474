package tljson

import (
	"fmt"
	"strconv"
	"strings"
)

// texpr is a parsed type expression before it is checked against the
// schema.
type texpr struct {
	pos  int // byte offset in the expression
	bare bool
	nat  bool // '#'
	num  bool // a nat constant
	n    uint32
	name string
	args []*texpr
}

// maxExprDepth bounds parentheses in a type expression.
const maxExprDepth = 32

// ParseType parses a type expression in TL syntax against the codec's
// schema: "int", "Vector memcache.Value", "%(Dictionary long)",
// "(Tuple string 3)", "engine.ReadWriteMode 3". An upper-case name is boxed,
// a lower-case constructor name or '%' bare; arguments that take
// arguments of their own need parentheses; nat arguments are decimal.
func (c *Codec) ParseType(expr string) (*Type, error) {
	p := &exprParser{s: expr}
	e, err := p.app(0)
	if err == nil && p.peek() != 0 {
		err = p.errf("unexpected %q", p.peek())
	}
	if err != nil {
		return nil, &Error{Offset: -1, Err: ErrTypeExpr, Msg: fmt.Sprintf("type %q: %v", expr, err)}
	}
	t, err := c.closeExpr(e)
	if err != nil {
		return nil, &Error{Offset: -1, Err: ErrTypeExpr, Msg: fmt.Sprintf("type %q: %v", expr, err)}
	}
	return t, nil
}

type exprParser struct {
	s   string
	pos int
}

func (p *exprParser) errf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *exprParser) skip() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n') {
		p.pos++
	}
}

// peek returns the next non-blank byte, or 0 at the end.
func (p *exprParser) peek() byte {
	p.skip()
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

// app parses a head term followed by argument terms.
func (p *exprParser) app(depth int) (*texpr, error) {
	head, err := p.term(depth)
	if err != nil {
		return nil, err
	}
	for {
		switch p.peek() {
		case 0, ')':
			return head, nil
		}
		a, err := p.term(depth)
		if err != nil {
			return nil, err
		}
		if len(head.args) == 0 && (head.num || head.nat) {
			return nil, fmt.Errorf("at byte %d: %s takes no arguments", head.pos, headText(head))
		}
		head.args = append(head.args, a)
	}
}

func headText(e *texpr) string {
	if e.nat {
		return "#"
	}
	if e.num {
		return strconv.FormatUint(uint64(e.n), 10)
	}
	return e.name
}

// term parses '%' term, '(' app ')', '#', a number or a name.
func (p *exprParser) term(depth int) (*texpr, error) {
	if depth > maxExprDepth {
		return nil, p.errf("nested deeper than %d", maxExprDepth)
	}
	switch ch := p.peek(); {
	case ch == 0:
		return nil, p.errf("unexpected end")
	case ch == '%':
		p.pos++
		e, err := p.term(depth + 1)
		if err != nil {
			return nil, err
		}
		e.bare = true
		return e, nil
	case ch == '(':
		p.pos++
		e, err := p.app(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, p.errf("want ')'")
		}
		p.pos++
		return e, nil
	case ch == '#':
		p.pos++
		return &texpr{pos: p.pos - 1, nat: true}, nil
	case ch >= '0' && ch <= '9':
		start := p.pos
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		n, err := strconv.ParseUint(p.s[start:p.pos], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("at byte %d: nat %s out of range", start, p.s[start:p.pos])
		}
		return &texpr{pos: start, num: true, n: uint32(n)}, nil
	case isNameByte(ch):
		start := p.pos
		for p.pos < len(p.s) && isNameByte(p.s[p.pos]) {
			p.pos++
		}
		return &texpr{pos: start, name: p.s[start:p.pos]}, nil
	default:
		return nil, p.errf("unexpected %q", ch)
	}
}

func isNameByte(c byte) bool {
	return c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// closeExpr checks a parsed expression against the schema.
func (c *Codec) closeExpr(e *texpr) (*Type, error) {
	switch {
	case e.nat:
		return c.nat, nil
	case e.num:
		return nil, fmt.Errorf("at byte %d: number %d where a type belongs", e.pos, e.n)
	}
	local := e.name[strings.LastIndexByte(e.name, '.')+1:]
	var t *Type
	if local != "" && local[0] >= 'a' && local[0] <= 'z' {
		ctor := c.s.Constructor(e.name)
		if ctor == nil {
			return nil, fmt.Errorf("at byte %d: unknown constructor %s", e.pos, e.name)
		}
		t = &Type{typ: ctor.Type, ctor: ctor}
	} else {
		typ := c.s.Type(e.name)
		if typ == nil {
			return nil, fmt.Errorf("at byte %d: unknown type %s", e.pos, e.name)
		}
		t = &Type{typ: typ}
	}
	params := t.typ.Params
	if len(e.args) != len(params) {
		return nil, fmt.Errorf("at byte %d: %s takes %d arguments, got %d", e.pos, e.name, len(params), len(e.args))
	}
	if len(params) > 0 {
		t.args = make([]arg, len(params))
	}
	for i, a := range e.args {
		if params[i].Nat {
			if !a.num {
				return nil, fmt.Errorf("at byte %d: argument %s of %s must be a number", a.pos, params[i].Name, e.name)
			}
			t.args[i] = arg{n: a.n, ok: true}
			continue
		}
		at, err := c.closeExpr(a)
		if err != nil {
			return nil, err
		}
		t.args[i] = arg{t: at, ok: true}
	}
	if e.bare {
		bt, err := t.bare()
		if err != nil {
			return nil, fmt.Errorf("at byte %d: %v", e.pos, err)
		}
		t = bt
	}
	return t, nil
}

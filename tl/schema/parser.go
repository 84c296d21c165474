package schema

import (
	"fmt"
	"math"
)

// maxDepth bounds nesting of parentheses, brackets and arguments so that
// hostile input cannot exhaust the stack.
const maxDepth = 64

// Parse parses one schema file in the VK dialect. name is used in positions
// (usually the base name of the file). It returns the first syntax error.
func Parse(name string, src []byte) (*File, error) {
	return ParseDialect(name, src, VK)
}

// ParseDialect parses one schema file with the given dialect's lexical rules.
func ParseDialect(name string, src []byte, d Dialect) (*File, error) {
	toks, err := tokenize(name, src, d)
	if err != nil {
		return nil, err
	}
	p := &parser{file: name, toks: toks}
	f := &File{Name: name, Dialect: d}
	if err := p.parseFile(f); err != nil {
		return nil, err
	}
	return f, nil
}

// ParseAuto parses in the VK dialect and, if that fails, retries in the
// Telegram dialect; the VK error is returned when both fail.
func ParseAuto(name string, src []byte) (*File, error) {
	f, err := ParseDialect(name, src, VK)
	if err == nil {
		return f, nil
	}
	if tf, terr := ParseDialect(name, src, Telegram); terr == nil {
		return tf, nil
	}
	return nil, err
}

type parser struct {
	file  string
	toks  []token
	i     int
	depth int
}

func (p *parser) tok() token { return p.toks[p.i] }

// at returns the source position of a token.
func (p *parser) at(t token) Pos { return Pos{File: p.file, Line: int(t.line), Col: int(t.col)} }

// peek returns the token n places ahead, or EOF past the end.
func (p *parser) peek(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() {
	if p.i < len(p.toks)-1 {
		p.i++
	}
}

func (p *parser) isPunct(s string) bool {
	t := p.tok()
	return t.kind == tPunct && t.text == s
}

func (p *parser) errorf(pos Pos, format string, args ...any) error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...), Err: ErrSyntax}
}

// expected builds the canonical "expected X, got Y" error at the current token.
func (p *parser) expected(what string) error {
	t := p.tok()
	return p.errorf(p.at(t), "expected %s, got %s", what, t.describe())
}

func (p *parser) expectPunct(s string) error {
	if !p.isPunct(s) {
		return p.expected("'" + s + "'")
	}
	p.next()
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf(p.at(p.tok()), "nesting deeper than %d levels", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) parseFile(f *File) error {
	functions := false
	for {
		switch p.tok().kind {
		case tEOF:
			return nil
		case tTypes:
			functions = false
			p.next()
		case tFunctions:
			functions = true
			p.next()
		default:
			d, err := p.decl(functions)
			if err != nil {
				return err
			}
			f.Decls = append(f.Decls, d)
		}
	}
}

func lowerFirst(s string) bool { return s != "" && s[0] >= 'a' && s[0] <= 'z' }
func upperFirst(s string) bool { return s != "" && s[0] >= 'A' && s[0] <= 'Z' }

// localName returns the part of a name after its namespace.
func localName(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[i+1:]
		}
	}
	return s
}

func (p *parser) decl(functions bool) (*Decl, error) {
	d := &Decl{Pos: p.at(p.tok()), Function: functions}
	for p.tok().kind == tAnnot {
		d.Annotations = append(d.Annotations, p.tok().text)
		p.next()
	}
	t := p.tok()
	if t.kind != tIdent || !(t.text == "_" || lowerFirst(localName(t.text))) {
		return nil, p.expected("combinator name (lower-case identifier)")
	}
	d.Pos = p.at(t)
	d.Name = t.text
	p.next()
	if p.tok().kind == tTag {
		d.Tag, d.HasTag = p.tok().num, true
		p.next()
	}
	for p.isPunct("{") {
		prm, err := p.param()
		if err != nil {
			return nil, err
		}
		d.Params = append(d.Params, prm)
	}
	if p.isPunct("?") {
		if functions {
			return nil, p.errorf(p.at(p.tok()), "builtin body '?' is only allowed in the types section")
		}
		d.Builtin = true
		p.next()
		if !p.isPunct("=") {
			return nil, p.expected("'=' after builtin '?'")
		}
	} else {
		for !p.isPunct("=") && p.tok().kind != tArrow {
			if p.tok().kind == tEOF || p.isPunct(";") {
				return nil, p.expected("field, '=' or '=>'")
			}
			fd, err := p.field(false)
			if err != nil {
				return nil, err
			}
			d.Fields = append(d.Fields, fd)
		}
	}
	if p.tok().kind == tArrow {
		d.Function = true
	}
	p.next()
	res, err := p.app(";")
	if err != nil {
		return nil, err
	}
	d.Result = res
	if err := p.expectPunct(";"); err != nil {
		return nil, err
	}
	if !d.Function {
		if err := checkCtorResult(res); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// checkCtorResult enforces that a constructor's right side is a type name
// followed by template parameter names only.
func checkCtorResult(t *Term) error {
	if t.Kind != TermName || t.Bare || !upperFirst(localName(t.Name)) {
		return &Error{Pos: t.Pos, Msg: "constructor result must be an upper-case type name", Err: ErrSyntax}
	}
	for _, a := range t.Args {
		if a.Kind != TermName || a.Bare || len(a.Args) != 0 {
			return &Error{Pos: a.Pos, Msg: "constructor result arguments must be template parameter names", Err: ErrSyntax}
		}
	}
	return nil
}

func (p *parser) param() (*ParamDecl, error) {
	p.next() // '{'
	t := p.tok()
	if t.kind != tIdent || t.text == "_" {
		return nil, p.expected("template parameter name")
	}
	p.next()
	if err := p.expectPunct(":"); err != nil {
		return nil, err
	}
	prm := &ParamDecl{Pos: p.at(t), Name: t.text}
	switch k := p.tok(); {
	case k.kind == tHash:
		prm.Nat = true
	case k.kind == tIdent && k.text == "Type":
	default:
		return nil, p.expected("'Type' or '#'")
	}
	p.next()
	if err := p.expectPunct("}"); err != nil {
		return nil, err
	}
	return prm, nil
}

// field parses [name ':'] [mask '.' bit '?'] ['!'] type.
func (p *parser) field(inBrackets bool) (*FieldDecl, error) {
	f := &FieldDecl{Pos: p.at(p.tok())}
	if t := p.tok(); t.kind == tIdent && p.peek(1).kind == tPunct && p.peek(1).text == ":" {
		if t.text == "_" {
			return nil, p.errorf(p.at(t), "field name cannot be '_'")
		}
		f.Name = t.text
		p.next()
		p.next()
	}
	if t := p.tok(); t.kind == tIdent && p.peek(1).kind == tPunct && p.peek(1).text == "." {
		if p.peek(2).kind != tNumber {
			p.next()
			p.next()
			return nil, p.expected("fields-mask bit number after '.'")
		}
		f.HasMask, f.Mask, f.MaskPos, f.Bit = true, t.text, p.at(t), p.peek(2).num
		p.next()
		p.next()
		p.next()
		if err := p.expectPunct("?"); err != nil {
			return nil, err
		}
	}
	if p.isPunct("!") {
		f.Excl = true
		p.next()
	}
	at := p.i
	typ, err := p.fieldType()
	if err != nil {
		// Only a failure on the very first token of the type is better
		// explained by the field name; deeper errors keep their own message.
		if p.i == at && f.Name != "" && !f.HasMask && !f.Excl {
			t := p.tok()
			return nil, p.errorf(p.at(t), "expected field type after %q, got %s", f.Name+":", t.describe())
		}
		return nil, err
	}
	f.Type = typ
	return f, nil
}

// fieldType parses an array or a single term (a field type is never an
// unparenthesised application: "a:Vector int" is two fields).
func (p *parser) fieldType() (*Term, error) {
	t := p.tok()
	switch {
	case t.kind == tPunct && t.text == "[":
		return p.array(nil)
	case t.kind == tNumber, t.kind == tPunct && t.text == "(" && p.peek(1).kind == tNumber:
		n, err := p.natExpr()
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct("*"); err != nil {
			return nil, err
		}
		return p.array(n)
	case t.kind == tIdent && p.peek(1).kind == tPunct && p.peek(1).text == "*":
		p.next()
		p.next()
		return p.array(&Term{Pos: p.at(t), Kind: TermName, Name: t.text})
	}
	return p.term()
}

func (p *parser) array(scale *Term) (*Term, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	a := &Term{Pos: p.at(p.tok()), Kind: TermArray, Scale: scale}
	if scale != nil {
		a.Pos = scale.Pos
	}
	if err := p.expectPunct("["); err != nil {
		return nil, err
	}
	for !p.isPunct("]") {
		if p.tok().kind == tEOF {
			return nil, p.expected("field or ']'")
		}
		fd, err := p.field(true)
		if err != nil {
			return nil, err
		}
		a.Fields = append(a.Fields, fd)
	}
	if len(a.Fields) == 0 {
		return nil, p.errorf(p.at(p.tok()), "empty brackets []")
	}
	p.next()
	return a, nil
}

// natExpr parses digits {'+' digits} or a parenthesised nat expression and
// folds it into one constant.
func (p *parser) natExpr() (*Term, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	start := p.at(p.tok())
	var sum uint64
	for {
		switch t := p.tok(); {
		case t.kind == tNumber:
			sum += uint64(t.num)
			p.next()
		case t.kind == tPunct && t.text == "(":
			p.next()
			inner, err := p.natExpr()
			if err != nil {
				return nil, err
			}
			if err := p.expectPunct(")"); err != nil {
				return nil, err
			}
			sum += uint64(inner.Num)
		default:
			return nil, p.expected("number")
		}
		if sum > math.MaxUint32 {
			return nil, p.errorf(start, "nat expression overflows 32 bits")
		}
		if !p.isPunct("+") {
			return &Term{Pos: start, Kind: TermNum, Num: uint32(sum)}, nil
		}
		p.next()
	}
}

// term parses '#', ['%'] '(' app ')', ['%'] name '<' args '>' or ['%'] name.
func (p *parser) term() (*Term, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.tok()
	if t.kind == tHash {
		p.next()
		return &Term{Pos: p.at(t), Kind: TermNat}, nil
	}
	bare := false
	if t.kind == tPunct && t.text == "%" {
		bare = true
		p.next()
	}
	switch t2 := p.tok(); {
	case t2.kind == tPunct && t2.text == "(":
		p.next()
		inner, err := p.app(")")
		if err != nil {
			return nil, err
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		if bare && inner.Kind == TermNat {
			return nil, p.errorf(p.at(t), "'%%' cannot apply to '#'")
		}
		inner.Bare = inner.Bare || bare
		inner.Pos = p.at(t)
		return inner, nil
	case t2.kind == tIdent && t2.text != "_":
		p.next()
		n := &Term{Pos: p.at(t), Kind: TermName, Bare: bare, Name: t2.text}
		if p.isPunct("<") {
			if err := p.angleArgs(n); err != nil {
				return nil, err
			}
		}
		return n, nil
	}
	return nil, p.expected("type")
}

func (p *parser) angleArgs(n *Term) error {
	p.next() // '<'
	for {
		a, err := p.arg()
		if err != nil {
			return err
		}
		n.Args = append(n.Args, a)
		if p.isPunct(">") {
			p.next()
			return nil
		}
		if !p.isPunct(",") {
			return p.expected("',' or '>'")
		}
		p.next()
	}
}

// startsArg reports whether the current token can begin an argument.
func (p *parser) startsArg() bool {
	t := p.tok()
	switch t.kind {
	case tIdent, tHash, tNumber:
		return true
	case tPunct:
		return t.text == "(" || t.text == "%"
	}
	return false
}

// arg parses one template argument: a nat expression or a term.
func (p *parser) arg() (*Term, error) {
	t := p.tok()
	if t.kind == tNumber || t.kind == tPunct && t.text == "(" && p.peek(1).kind == tNumber {
		return p.natExpr()
	}
	return p.term()
}

// app parses an application: ['%'] ( '(' app ')' | name '<'...'>' | name {arg} ),
// stopping before the closing token end (")" or ";").
func (p *parser) app(end string) (*Term, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.tok()
	bare := false
	if t.kind == tPunct && t.text == "%" {
		bare = true
		p.next()
	}
	h := p.tok()
	if bare && (h.kind == tHash || h.kind == tNumber) {
		return nil, p.errorf(p.at(t), "'%%' must be followed by a type name or '('")
	}
	if h.kind == tHash || h.kind == tPunct && h.text == "(" || h.kind == tNumber {
		if bare {
			// Hand the '%' to term by stepping back onto it.
			p.i--
		}
		a, err := p.arg()
		if err != nil {
			return nil, err
		}
		if !p.isPunct(end) {
			return nil, p.expected("'" + end + "'")
		}
		return a, nil
	}
	if h.kind != tIdent || h.text == "_" {
		return nil, p.expected("type")
	}
	p.next()
	n := &Term{Pos: p.at(t), Kind: TermName, Bare: bare, Name: h.text}
	if p.isPunct("<") {
		if err := p.angleArgs(n); err != nil {
			return nil, err
		}
		if !p.isPunct(end) {
			return nil, p.expected("'" + end + "'")
		}
		return n, nil
	}
	for !p.isPunct(end) {
		if !p.startsArg() {
			return nil, p.expected("'" + end + "'")
		}
		a, err := p.arg()
		if err != nil {
			return nil, err
		}
		n.Args = append(n.Args, a)
	}
	return n, nil
}

package schema

import (
	"fmt"
	"strconv"
)

// tokKind classifies a lexical token.
type tokKind uint8

const (
	tEOF       tokKind = iota
	tIdent             // letter {letter|digit|_}, optionally ns.name; also the legacy "_"
	tNumber            // decimal digits, value in tok.num
	tTag               // '#' immediately followed by hex digits, value in tok.num
	tHash              // a bare '#', the nat type
	tAnnot             // '@' + lower-case word; text without '@'
	tTypes             // ---types---
	tFunctions         // ---functions---
	tPunct             // one of ( ) [ ] { } < > : ; . , % ! * + ? =
	tArrow             // =>
)

// token is one lexeme with the position of its first byte.
type token struct {
	kind tokKind
	num  uint32
	text string
	// line and col locate the first byte; the file name lives in the
	// parser, which keeps tokens at 32 bytes.
	line, col int32
}

// describe renders the token for "got ..." parts of error messages.
func (t token) describe() string {
	if t.kind == tEOF {
		return "end of file"
	}
	return strconv.Quote(t.text)
}

// lexer turns a source file into tokens. It is run to completion before
// parsing so that the parser can look ahead freely.
type lexer struct {
	src     []byte
	file    string
	dialect Dialect
	off     int
	line    int
	col     int
	// names interns identifier texts: a schema repeats a few hundred names
	// (int, flags, string, ...) tens of thousands of times.
	names map[string]string
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isIdentChar(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '_'
}
func isLowerHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' }
func isHex(c byte) bool      { return isLowerHex(c) || c >= 'A' && c <= 'F' }

func (l *lexer) pos() Pos { return Pos{File: l.file, Line: l.line, Col: l.col} }

func (l *lexer) peekAt(i int) byte {
	if l.off+i < len(l.src) {
		return l.src[l.off+i]
	}
	return 0
}

// advance consumes n bytes that contain no newline.
func (l *lexer) advance(n int) {
	l.off += n
	l.col += n
}

func (l *lexer) errorf(p Pos, format string, args ...any) error {
	return &Error{Pos: p, Msg: fmt.Sprintf(format, args...), Err: ErrSyntax}
}

// tokenize lexes the whole input. It stops at the first lexical error.
func tokenize(file string, src []byte, d Dialect) ([]token, error) {
	l := &lexer{src: src, file: file, dialect: d, line: 1, col: 1, names: map[string]string{}}
	// A schema has roughly one token per five or six bytes; the estimate avoids
	// repeated growth on large files such as telegram_api.tl.
	toks := make([]token, 0, len(src)/5+1)
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		if t.kind == tEOF {
			return toks, nil
		}
	}
}

// skipSpace skips whitespace and comments.
func (l *lexer) skipSpace() error {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == ' ' || c == '\t':
			l.advance(1)
		case c == '\n':
			l.off++
			l.line++
			l.col = 1
		case c == '\r':
			if l.peekAt(1) != '\n' {
				return l.errorf(l.pos(), "lone carriage return (only \\n or \\r\\n line ends are allowed)")
			}
			l.advance(1)
		case c == '/' && l.peekAt(1) == '/':
			for l.off < len(l.src) && l.src[l.off] != '\n' {
				l.advance(1)
			}
		case c == '/' && l.peekAt(1) == '*':
			if l.dialect != Telegram {
				return l.errorf(l.pos(), "multiline comments are not part of the VK TL language")
			}
			start := l.pos()
			l.advance(2)
			for {
				if l.off >= len(l.src) {
					return l.errorf(start, "unterminated /* comment")
				}
				if l.src[l.off] == '*' && l.peekAt(1) == '/' {
					l.advance(2)
					break
				}
				if l.src[l.off] == '\n' {
					l.off++
					l.line++
					l.col = 1
					continue
				}
				l.advance(1)
			}
		default:
			return nil
		}
	}
	return nil
}

func (l *lexer) next() (token, error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	p := l.pos()
	if l.off >= len(l.src) {
		return token{kind: tEOF, line: int32(p.Line), col: int32(p.Col)}, nil
	}
	c := l.src[l.off]
	switch {
	case isLetter(c):
		return l.ident(p)
	case c == '_':
		if isIdentChar(l.peekAt(1)) {
			return token{}, l.errorf(p, "identifier cannot start with '_'")
		}
		l.advance(1)
		return token{kind: tIdent, text: "_", line: int32(p.Line), col: int32(p.Col)}, nil
	case isDigit(c):
		start := l.off
		for l.off < len(l.src) && isDigit(l.src[l.off]) {
			l.advance(1)
		}
		text := string(l.src[start:l.off])
		v, err := strconv.ParseUint(text, 10, 32)
		if err != nil {
			return token{}, l.errorf(p, "number %s does not fit in 32 bits", text)
		}
		return token{kind: tNumber, text: text, num: uint32(v), line: int32(p.Line), col: int32(p.Col)}, nil
	case c == '#':
		return l.hash(p)
	case c == '@':
		l.advance(1)
		start := l.off
		for l.off < len(l.src) && isIdentChar(l.src[l.off]) {
			l.advance(1)
		}
		word := string(l.src[start:l.off])
		if word == "" || isDigit(word[0]) || word[0] == '_' {
			return token{}, l.errorf(p, "annotation must be '@' followed by a lower-case word")
		}
		for i := 0; i < len(word); i++ {
			if word[i] >= 'A' && word[i] <= 'Z' {
				return token{}, l.errorf(p, "annotation @%s must be lower case", word)
			}
		}
		return token{kind: tAnnot, text: word, line: int32(p.Line), col: int32(p.Col)}, nil
	case c == '-':
		return l.sectionMark(p)
	case c == '=':
		if l.peekAt(1) == '>' {
			l.advance(2)
			return token{kind: tArrow, text: "=>", line: int32(p.Line), col: int32(p.Col)}, nil
		}
		l.advance(1)
		return token{kind: tPunct, text: "=", line: int32(p.Line), col: int32(p.Col)}, nil
	}
	switch c {
	case '(', ')', '[', ']', '{', '}', '<', '>', ':', ';', '.', ',', '%', '!', '*', '+', '?':
		l.advance(1)
		// A one-byte slice conversion does not allocate.
		return token{kind: tPunct, text: string(l.src[l.off-1 : l.off]), line: int32(p.Line), col: int32(p.Col)}, nil
	}
	return token{}, l.errorf(p, "unexpected character %q", rune(c))
}

// ident lexes an identifier, gluing "ns.name" only when a letter follows the
// dot, so that "fields_mask.0" stays ident '.' number.
func (l *lexer) ident(p Pos) (token, error) {
	start := l.off
	for l.off < len(l.src) && isIdentChar(l.src[l.off]) {
		l.advance(1)
	}
	if l.peekAt(0) == '.' && isLetter(l.peekAt(1)) {
		if !(l.src[start] >= 'a' && l.src[start] <= 'z') {
			return token{}, l.errorf(p, "namespace %q must start with a lower-case letter", string(l.src[start:l.off]))
		}
		l.advance(1)
		for l.off < len(l.src) && isIdentChar(l.src[l.off]) {
			l.advance(1)
		}
		if l.peekAt(0) == '.' && isLetter(l.peekAt(1)) {
			return token{}, l.errorf(p, "namespaces have exactly one level")
		}
	}
	return token{kind: tIdent, text: l.intern(l.src[start:l.off]), line: int32(p.Line), col: int32(p.Col)}, nil
}

func (l *lexer) intern(b []byte) string {
	if s, ok := l.names[string(b)]; ok {
		return s
	}
	s := string(b)
	l.names[s] = s
	return s
}

// hash lexes a bare '#' or an explicit tag. VK requires exactly eight
// lower-case hex digits; Telegram files use 1-8 digits, zero-extended.
func (l *lexer) hash(p Pos) (token, error) {
	l.advance(1)
	start := l.off
	for l.off < len(l.src) && isHex(l.src[l.off]) {
		l.advance(1)
	}
	digits := string(l.src[start:l.off])
	if digits == "" {
		if isIdentChar(l.peekAt(0)) {
			return token{}, l.errorf(p, "explicit tag must be '#' followed by hex digits, got %q", "#"+string(l.peekAt(0)))
		}
		return token{kind: tHash, text: "#", line: int32(p.Line), col: int32(p.Col)}, nil
	}
	if isIdentChar(l.peekAt(0)) {
		return token{}, l.errorf(p, "explicit tag #%s%c is not hexadecimal", digits, l.peekAt(0))
	}
	switch l.dialect {
	case Telegram:
		if len(digits) > 8 {
			return token{}, l.errorf(p, "explicit tag #%s has more than 8 hex digits", digits)
		}
	default:
		if len(digits) != 8 {
			return token{}, l.errorf(p, "explicit tag #%s must have exactly 8 hex digits", digits)
		}
		for i := 0; i < len(digits); i++ {
			if !isLowerHex(digits[i]) {
				return token{}, l.errorf(p, "explicit tag #%s must be lower-case hex", digits)
			}
		}
	}
	v, err := strconv.ParseUint(digits, 16, 32)
	if err != nil {
		return token{}, l.errorf(p, "bad explicit tag #%s", digits)
	}
	return token{kind: tTag, text: "#" + digits, num: uint32(v), line: int32(p.Line), col: int32(p.Col)}, nil
}

// sectionMark lexes ---types--- or ---functions---. Telegram's own files
// sometimes put spaces inside the dashes, which only the Telegram dialect
// accepts.
func (l *lexer) sectionMark(p Pos) (token, error) {
	rest := l.src[l.off:]
	for _, m := range [...]struct {
		text string
		kind tokKind
	}{{"---types---", tTypes}, {"---functions---", tFunctions}} {
		if hasPrefix(rest, m.text) {
			l.advance(len(m.text))
			return token{kind: m.kind, text: m.text, line: int32(p.Line), col: int32(p.Col)}, nil
		}
	}
	if l.dialect == Telegram && hasPrefix(rest, "---") {
		i := 3
		for i < len(rest) && rest[i] == ' ' {
			i++
		}
		w := i
		for i < len(rest) && isLetter(rest[i]) {
			i++
		}
		word := string(rest[w:i])
		for i < len(rest) && rest[i] == ' ' {
			i++
		}
		if hasPrefix(rest[i:], "---") && (word == "types" || word == "functions") {
			l.advance(i + 3)
			k := tTypes
			if word == "functions" {
				k = tFunctions
			}
			return token{kind: k, text: "---" + word + "---", line: int32(p.Line), col: int32(p.Col)}, nil
		}
	}
	return token{}, l.errorf(p, "expected ---types--- or ---functions---")
}

func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}

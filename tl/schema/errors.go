package schema

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every *Error wraps exactly one of them, so callers can
// branch with errors.Is on a single error or on an ErrorList.
var (
	// ErrSyntax marks lexical and grammar errors.
	ErrSyntax = errors.New("schema: syntax error")
	// ErrUnknownType marks a reference to an undeclared type, constructor or name.
	ErrUnknownType = errors.New("schema: unknown type")
	// ErrDuplicate marks a name or tag declared twice.
	ErrDuplicate = errors.New("schema: duplicate declaration")
	// ErrArity marks a wrong number or kind of template arguments.
	ErrArity = errors.New("schema: wrong template arguments")
	// ErrBareUnion marks a bare reference to a type with several constructors.
	ErrBareUnion = errors.New("schema: bare reference to a union")
	// ErrNatRef marks a bad nat reference: unknown, later, or not of type #,
	// or a fields-mask bit above 31.
	ErrNatRef = errors.New("schema: bad nat reference")
	// ErrInvalid marks other semantic errors (tag 0, bare function result,
	// misplaced !X, bad constructor result, ...).
	ErrInvalid = errors.New("schema: invalid declaration")
)

// maxErrors caps how many errors Resolve collects before giving up.
const maxErrors = 50

// Pos is a source position; Line and Col are 1-based, Col counts bytes.
type Pos struct {
	File string
	Line int
	Col  int
}

// String renders the position as file:line:column.
func (p Pos) String() string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is one positioned parse or type error.
type Error struct {
	Pos Pos
	Msg string
	Err error // one of the sentinels above
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Unwrap returns the sentinel the error belongs to.
func (e *Error) Unwrap() error { return e.Err }

// ErrorList is every error Resolve found, in source order of discovery.
type ErrorList []*Error

func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "schema: no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "schema: %d errors:", len(l))
	for _, e := range l {
		b.WriteString("\n\t")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap exposes every error so that errors.Is and errors.As see them all.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

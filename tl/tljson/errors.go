package tljson

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every *Error wraps exactly one of them (or an error of
// package tl for malformed binary input), so callers branch with errors.Is.
var (
	// ErrSyntax means the JSON text is malformed.
	ErrSyntax = errors.New("tljson: JSON syntax error")
	// ErrJSONType means a JSON value has the wrong kind for its TL type
	// (a string where an int belongs, an object where an array belongs).
	ErrJSONType = errors.New("tljson: wrong JSON type")
	// ErrRange means a number does not fit its TL type, or an array's
	// length disagrees with its count.
	ErrRange = errors.New("tljson: value out of range")
	// ErrUnknown names an unknown constructor, function, type, field or tag.
	ErrUnknown = errors.New("tljson: unknown name")
	// ErrMissing means a required field is absent from the JSON object.
	ErrMissing = errors.New("tljson: missing field")
	// ErrMask means a conditional field disagrees with its fields mask.
	ErrMask = errors.New("tljson: field disagrees with its mask")
	// ErrTrailing means bytes remain after the value.
	ErrTrailing = errors.New("tljson: trailing bytes")
	// ErrDepth means values nest deeper than MaxDepth.
	ErrDepth = errors.New("tljson: nesting too deep")
	// ErrLimit means more zero-size elements than MaxZeroSize were decoded
	// or encoded; they cost no input bytes, so they need their own bound.
	ErrLimit = errors.New("tljson: too many zero-size elements")
	// ErrSchema means the schema cannot describe the value: a template
	// parameter or nat field a type needs is not bound (for example a
	// conditional '#' field that is absent but used later).
	ErrSchema = errors.New("tljson: value does not fit the schema")
	// ErrTypeExpr means a type expression does not parse or does not fit
	// the schema.
	ErrTypeExpr = errors.New("tljson: bad type expression")
)

// Error is a conversion error with its location: the JSON path of the value
// being converted ("$.stats[2].value") and, when binary input was read, the
// byte offset where the failing value starts (-1 otherwise).
type Error struct {
	Path   string
	Offset int
	Msg    string
	Err    error
}

// Error renders "tljson: <path> (offset N): <message>".
func (e *Error) Error() string {
	where := e.Path
	if e.Offset >= 0 {
		if where == "" {
			where = "offset " + strconv.Itoa(e.Offset)
		} else {
			where += " (offset " + strconv.Itoa(e.Offset) + ")"
		}
	}
	msg := e.Msg
	if msg == "" {
		msg = e.Err.Error()
	}
	if where == "" {
		return "tljson: " + msg
	}
	return "tljson: " + where + ": " + msg
}

// Unwrap returns the sentinel or package tl error, for errors.Is.
func (e *Error) Unwrap() error { return e.Err }

package rpc

import (
	"context"
	"errors"
	"strconv"
)

// Sentinel errors of the envelope parsers. Parse errors wrap one of these
// and, where the cause is a malformed primitive, the tl sentinel too.
var (
	// ErrHeader means the request header chain is invalid: a duplicate
	// actor/extra header, a repeated or misplaced TL2 marker.
	ErrHeader = errors.New("rpc: invalid request header")
	// ErrMalformed means an envelope field could not be decoded.
	ErrMalformed = errors.New("rpc: malformed envelope")
	// ErrTrailing means a fixed-layout message has bytes after its fields.
	ErrTrailing = errors.New("rpc: trailing bytes")
	// ErrNoQuery means a request has no function tag after its headers.
	ErrNoQuery = errors.New("rpc: request without function call")
)

// Error is an error answered by the peer (or produced locally to be answered)
// as a TL RPC error object. Use errors.As to get it from a wrapped error.
type Error struct {
	Code        int32
	Description string
}

var _ error = (*Error)(nil)

// Error formats as "rpc error -3002 NO_CONNECTIONS: engine ... is down"; the
// name is omitted for codes CodeName does not know.
func (e *Error) Error() string {
	b := make([]byte, 0, 32+len(e.Description))
	b = append(b, "rpc error "...)
	b = strconv.AppendInt(b, int64(e.Code), 10)
	if name := CodeName(e.Code); name != "" {
		b = append(b, ' ')
		b = append(b, name...)
	}
	b = append(b, ": "...)
	b = append(b, e.Description...)
	return string(b)
}

// ErrorOf is the single place that maps an internal error to the TL error
// sent on the wire. An *Error anywhere in the chain is sent as is (code 0
// becomes CodeUnknown, because VK clients treat code 0 as success);
// deadlines become CodeQueryTimeout; envelope parse errors become
// CodeHeader; anything else is CodeUnknown with err's text.
func ErrorOf(err error) Error {
	// An *Error itself, the usual case (the proxy's fail-fast errors are
	// built once), is taken without errors.As, whose target escapes: one
	// allocation per error answer otherwise.
	e, ok := err.(*Error)
	if !ok {
		e = asError(err)
	}
	switch {
	case err == nil:
		return Error{Code: CodeUnknown, Description: "unknown error"}
	case e != nil:
		out := *e
		if out.Code == 0 {
			out.Code = CodeUnknown
		}
		return out
	case errors.Is(err, context.DeadlineExceeded):
		return Error{Code: CodeQueryTimeout, Description: err.Error()}
	case errors.Is(err, ErrHeader), errors.Is(err, ErrMalformed), errors.Is(err, ErrNoQuery):
		return Error{Code: CodeHeader, Description: err.Error()}
	}
	return Error{Code: CodeUnknown, Description: err.Error()}
}

// asError returns the first *Error in err's chain, or nil.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

package engines

import (
	"errors"
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// Sentinel errors. Engine functions return them (wrapped with context) for
// bad arguments; the server turns them into TL errors in one place,
// errorOf.
var (
	// ErrSyntax: the arguments could not be decoded (TL_ERROR_SYNTAX,
	// -1000). The tl reader sentinels (tl.ErrTruncated, tl.ErrTag, ...)
	// are answered the same way.
	ErrSyntax = errors.New("engines: malformed arguments")
	// ErrExtraData: bytes remain after the last argument
	// (TL_ERROR_EXTRA_DATA, -1001).
	ErrExtraData = errors.New("engines: trailing bytes after arguments")
	// ErrBadConfig: New or SetFaults was given an invalid value; the
	// message names the field and the limit.
	ErrBadConfig = errors.New("engines: bad config")
)

// End checks that the arguments were consumed completely: VK's readers are
// strict, and a trailing byte usually means the caller and the engine
// disagree about the schema.
func End(rest []byte) error {
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d bytes", ErrExtraData, len(rest))
	}
	return nil
}

// errorOf maps an engine function's error to the TL error answered: an
// *rpc.Error keeps its code, ErrExtraData is EXTRA_DATA, argument decoding
// errors are TL_ERROR_SYNTAX, anything else goes through rpc.ErrorOf. The
// function name prefixes the text so a client log says what failed.
func errorOf(name string, err error) *rpc.Error {
	var e *rpc.Error
	switch {
	case errors.As(err, &e):
		return &rpc.Error{Code: e.Code, Description: name + ": " + e.Description}
	case errors.Is(err, ErrExtraData):
		return &rpc.Error{Code: rpc.CodeExtraData, Description: name + ": " + err.Error()}
	case errors.Is(err, ErrSyntax), errors.Is(err, tl.ErrTruncated), errors.Is(err, tl.ErrNonCanonical),
		errors.Is(err, tl.ErrPadding), errors.Is(err, tl.ErrTag), errors.Is(err, tl.ErrLimit):
		return &rpc.Error{Code: rpc.CodeSyntax, Description: name + ": " + err.Error()}
	}
	out := rpc.ErrorOf(err)
	out.Description = name + ": " + out.Description
	return &out
}

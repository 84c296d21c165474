package tl

import "errors"

// Sentinel errors returned (possibly wrapped with context) by the readers.
// Callers branch on them with errors.Is.
var (
	// ErrTruncated means the input ends before the value does, or a count
	// promises more elements than the remaining input could hold.
	ErrTruncated = errors.New("tl: truncated input")
	// ErrNonCanonical means a string length used a longer form than needed.
	ErrNonCanonical = errors.New("tl: non-canonical string length")
	// ErrPadding means string padding bytes were not zero.
	ErrPadding = errors.New("tl: non-zero string padding")
	// ErrTag means a 4-byte tag was not the expected one.
	ErrTag = errors.New("tl: unexpected tag")
	// ErrLimit means a count of zero-size elements exceeds MaxZeroSizeCount.
	ErrLimit = errors.New("tl: count over limit")
)

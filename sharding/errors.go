package sharding

import "errors"

// Sentinel errors. Callers branch on them with errors.Is; the messages they
// wrap add the offending key or field.
var (
	// ErrInvalidSpec wraps every error NewPicker returns for a bad Spec.
	ErrInvalidSpec = errors.New("sharding: invalid spec")
	// ErrInvalidBalancer wraps every error NewBalancer returns.
	ErrInvalidBalancer = errors.New("sharding: invalid balancer")
	// ErrNoDigits is returned by a firstint Picker for a string key without any
	// decimal digit.
	ErrNoDigits = errors.New("sharding: firstint key has no decimal digits")
	// ErrOverflow is returned by a firstint Picker when the first run of digits
	// of a string key does not fit in 64 bits.
	ErrOverflow = errors.New("sharding: firstint key number overflows uint64")
)

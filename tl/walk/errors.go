package walk

import (
	"errors"

	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// Sentinel errors. Errors returned by this package wrap one of these (or a
// tl reader sentinel such as tl.ErrTruncated) so callers can branch with
// errors.Is; messages add the tag, field or count involved.
var (
	// ErrUnknownFunction means a call's tag names no function of the schema.
	ErrUnknownFunction = errors.New("walk: unknown function")
	// ErrNotFunction means a !X field's tag names a constructor.
	ErrNotFunction = errors.New("walk: tag is not a function")
	// ErrUnknownConstructor means a boxed value's tag is not a constructor
	// of the expected type and the type has no default constructor.
	ErrUnknownConstructor = errors.New("walk: unknown constructor")
	// ErrTrailing means bytes remain after a complete call or result.
	ErrTrailing = errors.New("walk: trailing bytes")
	// ErrDepth means values nest deeper than MaxDepth.
	ErrDepth = errors.New("walk: nesting too deep")
	// ErrLimit means a walk needs more frames, bindings or nat slots than
	// the fixed-size walk state holds.
	ErrLimit = errors.New("walk: walk state limit")
	// ErrUnbound means a template parameter was used before anything bound
	// it (a result of a !X wrapper decoded without its request).
	ErrUnbound = errors.New("walk: unbound template parameter")
	// ErrNoArg means a function has no argument of that name.
	ErrNoArg = errors.New("walk: no such argument")
	// ErrAbsent means a conditional argument or field is not present.
	ErrAbsent = errors.New("walk: field absent")
	// ErrNoKey means a call has no argument usable as a sharding key.
	ErrNoKey = errors.New("walk: no key argument")
	// ErrNotVector means an argument or result is not a vector or array.
	ErrNotVector = errors.New("walk: not a vector")
	// ErrNotObject means a result is not a constructor with fields.
	ErrNotObject = errors.New("walk: not an object")
	// ErrNotWrapper means a function has no !X field to unwrap.
	ErrNotWrapper = errors.New("walk: not a !X wrapper")
	// ErrIndex means a split index set is not strictly increasing or is
	// out of range.
	ErrIndex = errors.New("walk: bad element index")
	// ErrUnsupported means a split whose count is also used in a way the
	// splitter cannot rewrite (a mask, a template argument, a tuple size).
	ErrUnsupported = errors.New("walk: unsupported shape")
	// ErrType means a value is not of the kind the caller asked for.
	ErrType = errors.New("walk: wrong value kind")
)

// notVectorRef and notVectorCtor are ErrNotVector naming the type or
// constructor found. They are the schema's own pointers, converted, so
// returning one allocates nothing: a merge asks whether an answer has
// elements (fanout's first) on every answer, and most have none.
type (
	notVectorRef  schema.TypeRef
	notVectorCtor schema.Combinator
)

func (e *notVectorRef) Error() string {
	return ErrNotVector.Error() + ": " + refName((*schema.TypeRef)(e))
}

func (e *notVectorRef) Unwrap() error { return ErrNotVector }

func (e *notVectorCtor) Error() string { return ErrNotVector.Error() + ": " + e.Name }

func (e *notVectorCtor) Unwrap() error { return ErrNotVector }

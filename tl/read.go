package tl

import "fmt"

// MaxZeroSizeCount bounds a vector count when elements may occupy zero bytes
// (bare true, empty tuples). Such a count cannot be checked against the input
// length, so it is capped at a size no real schema needs and that keeps a
// caller's per-element allocation small.
const MaxZeroSizeCount = 1 << 16

// AppendBool appends a boxed Bool (boolTrue or boolFalse tag).
func AppendBool(dst []byte, v bool) []byte {
	if v {
		return AppendUint32(dst, TagBoolTrue)
	}
	return AppendUint32(dst, TagBoolFalse)
}

// ReadBool reads a boxed Bool; any tag other than boolTrue/boolFalse is
// ErrTag.
func ReadBool(r []byte) (bool, []byte, error) {
	tag, rest, err := ReadUint32(r)
	if err != nil {
		return false, r, err
	}
	switch tag {
	case TagBoolTrue:
		return true, rest, nil
	case TagBoolFalse:
		return false, rest, nil
	}
	return false, r, fmt.Errorf("%w: want Bool, got %#08x", ErrTag, tag)
}

// ExpectTag consumes a 4-byte tag that must equal tag.
func ExpectTag(r []byte, tag uint32) ([]byte, error) {
	got, rest, err := ReadUint32(r)
	if err != nil {
		return r, err
	}
	if got != tag {
		return r, fmt.Errorf("%w: want %#08x, got %#08x", ErrTag, tag, got)
	}
	return rest, nil
}

// ReadCount reads a vector count and checks that count elements of at least
// minElemSize bytes each fit in the rest of the input, so the caller may
// allocate count elements. With minElemSize <= 0 the count is capped at
// MaxZeroSizeCount instead.
func ReadCount(r []byte, minElemSize int) (int, []byte, error) {
	n, rest, err := ReadUint32(r)
	if err != nil {
		return 0, r, err
	}
	if minElemSize <= 0 {
		if n > MaxZeroSizeCount {
			return 0, r, fmt.Errorf("%w: %d zero-size elements, max %d", ErrLimit, n, MaxZeroSizeCount)
		}
		return int(n), rest, nil
	}
	// Dividing instead of multiplying keeps the check overflow-free for any
	// element size: n*m <= len iff n <= len/m in integers.
	if int64(n) > int64(len(rest)/minElemSize) {
		return 0, r, fmt.Errorf("%w: count %d of %d-byte elements, %d bytes remain", ErrTruncated, n, minElemSize, len(rest))
	}
	return int(n), rest, nil
}

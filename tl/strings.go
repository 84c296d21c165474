package tl

import (
	"fmt"
	"math"
)

// String length forms, see doc.go.
const (
	maxShortLen  = 253       // longest string with a 1-byte length
	mediumMarker = 0xfe      // 0xFE + 3-byte length
	hugeMarker   = 0xff      // 0xFF + 7-byte length (VK only)
	maxMediumLen = 1<<24 - 1 // longest string with the 0xFE form
	maxHugeLen   = 1<<56 - 1 // longest string with the 0xFF form
)

// StringSize returns the encoded size of an n-byte string: prefix, data and
// padding. It lets callers size a buffer or a packet without encoding.
func StringSize(n int) int {
	switch {
	case n <= maxShortLen:
		return (1 + n + 3) &^ 3
	case n <= maxMediumLen:
		return (4 + n + 3) &^ 3
	default:
		return (8 + n + 3) &^ 3
	}
}

// AppendString appends s in the shortest length form with zero padding.
func AppendString(dst []byte, s string) []byte {
	dst = appendStringHeader(dst, len(s))
	dst = append(dst, s...)
	return appendPadding(dst, len(s))
}

// AppendBytes is AppendString for a byte slice.
func AppendBytes(dst []byte, b []byte) []byte {
	dst = appendStringHeader(dst, len(b))
	dst = append(dst, b...)
	return appendPadding(dst, len(b))
}

func appendStringHeader(dst []byte, n int) []byte {
	switch {
	case n <= maxShortLen:
		return append(dst, byte(n))
	case n <= maxMediumLen:
		return append(dst, mediumMarker, byte(n), byte(n>>8), byte(n>>16))
	default:
		// A string over 2^56-1 bytes cannot exist in memory; the mask only
		// keeps the arithmetic honest on 64-bit ints.
		u := uint64(n) & maxHugeLen
		return append(dst, hugeMarker, byte(u), byte(u>>8), byte(u>>16),
			byte(u>>24), byte(u>>32), byte(u>>40), byte(u>>48))
	}
}

// appendPadding pads after n data bytes. Because the medium and huge prefixes
// are themselves word-sized, the padding only depends on the short form's
// 1-byte prefix, which shifts the data by one.
func appendPadding(dst []byte, n int) []byte {
	return append(dst, make([]byte, paddingLen(n))...)
}

func paddingLen(n int) int {
	if n <= maxShortLen {
		return (4 - (1+n)&3) & 3
	}
	return (4 - n&3) & 3
}

// ReadBytes reads a string and returns its data as a subslice of r (no copy:
// the result aliases the input and is only valid while r is). It enforces
// the canonical length form and zero padding.
func ReadBytes(r []byte) ([]byte, []byte, error) {
	if len(r) == 0 {
		return nil, r, ErrTruncated
	}
	var n uint64
	var hdr int
	switch b0 := r[0]; {
	case b0 <= maxShortLen:
		n, hdr = uint64(b0), 1
	case b0 == mediumMarker:
		if len(r) < 4 {
			return nil, r, ErrTruncated
		}
		n, hdr = uint64(r[1])|uint64(r[2])<<8|uint64(r[3])<<16, 4
		if n <= maxShortLen {
			return nil, r, fmt.Errorf("%w: 0xFE form for length %d", ErrNonCanonical, n)
		}
	default:
		if len(r) < 8 {
			return nil, r, ErrTruncated
		}
		n = uint64(r[1]) | uint64(r[2])<<8 | uint64(r[3])<<16 | uint64(r[4])<<24 |
			uint64(r[5])<<32 | uint64(r[6])<<40 | uint64(r[7])<<48
		hdr = 8
		if n <= maxMediumLen {
			return nil, r, fmt.Errorf("%w: 0xFF form for length %d", ErrNonCanonical, n)
		}
	}
	// Compare in uint64 so a 7-byte length cannot overflow int on 32-bit
	// platforms before the bounds check.
	rest := uint64(len(r) - hdr)
	if n > rest || n > math.MaxInt {
		return nil, r, fmt.Errorf("%w: string of %d bytes, %d remain", ErrTruncated, n, rest)
	}
	l := int(n)
	pad := paddingLen(l)
	if uint64(l+pad) > rest {
		return nil, r, fmt.Errorf("%w: string padding", ErrTruncated)
	}
	data := r[hdr : hdr+l : hdr+l]
	for _, c := range r[hdr+l : hdr+l+pad] {
		if c != 0 {
			return nil, r, ErrPadding
		}
	}
	return data, r[hdr+l+pad:], nil
}

// ReadString is ReadBytes with a copy into a Go string; use it when the value
// must outlive the input buffer.
func ReadString(r []byte) (string, []byte, error) {
	b, r, err := ReadBytes(r)
	return string(b), r, err
}

// SkipString advances past one string, with the same checks as ReadBytes.
func SkipString(r []byte) ([]byte, error) {
	_, rest, err := ReadBytes(r)
	return rest, err
}

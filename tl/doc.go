// Package tl holds the TL1 binary primitives every other part of rpcproxy is
// built on: the magic tags of the builtin types and append-style writers and
// slice-advancing readers for the wire forms of ints, longs, floats, strings,
// booleans, tags and vector counts.
//
// The style follows VK's basictl: a writer appends to dst and returns the
// extended slice; a reader takes the remaining input r and returns the value,
// the input after the value, and an error. Readers never copy (ReadBytes
// returns a subslice of r), never panic on hostile input and never allocate
// on success; ReadCount checks a vector count against the bytes that remain
// before the caller allocates anything for it.
//
// Every TL1 value is a whole number of little-endian 32-bit words:
//
//	#, int            4 bytes   uint32/int32 LE
//	long              8 bytes   int64 LE
//	float             4 bytes   IEEE-754 binary32 LE
//	double            8 bytes   IEEE-754 binary64 LE
//	boxed Int 5       da 9b 50 a8 | 05 00 00 00   (tag, then the value)
//
// Strings have three length forms; data is followed by zero padding to the
// next multiple of 4 counted from the start of the length prefix:
//
//	L <= 253            +----+------------+---------+
//	                    | L  | data (L)   | pad 0-3 |      1+L+pad ≡ 0 mod 4
//	                    +----+------------+---------+
//	254 <= L < 2^24     +----+---------+------------+---------+
//	                    | FE | L (3 LE)| data (L)   | pad 0-3 |  L+pad ≡ 0 mod 4
//	                    +----+---------+------------+---------+
//	2^24 <= L < 2^56    +----+---------+------------+---------+
//	                    | FF | L (7 LE)| data (L)   | pad 0-3 |  L+pad ≡ 0 mod 4
//	                    +----+---------+------------+---------+
//
// Invariants:
//   - Writers always produce the shortest length form and zero padding, so
//     encode(decode(x)) == x for every input the readers accept.
//   - Readers accept only that canonical form: a FE prefix with L <= 253 or
//     an FF prefix with L < 2^24 is ErrNonCanonical, non-zero padding is
//     ErrPadding, short input is ErrTruncated, a wrong tag is ErrTag. The FF
//     form is accepted for L >= 2^24 to match VK's Go reader, although such a
//     string can never fit in an RPC packet (max 16 MiB - 1).
//   - Vectors: ReadCount refuses a count whose elements could not fit in the
//     remaining input (ErrTruncated), so callers may allocate count elements
//     safely; for zero-size elements it caps the count at MaxZeroSizeCount
//     (ErrLimit).
//
// The package is standard library only and has no mutable package state.
package tl

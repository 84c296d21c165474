package rpc

import (
	"encoding/binary"
	"fmt"
	"iter"

	"github.com/rpcproxy/rpcproxy/tl"
)

// The containers below hold a bare vector or dictionary as its element count
// plus the raw bytes of its elements, a capacity-clipped subslice of the
// parsed input. Parsing validates every element once, so iteration cannot
// fail and needs no allocation; writing copies the raw bytes verbatim.
// Mutators never write into the input: they only reslice it or, when
// building, allocate a fresh buffer.

// StringVector is a bare %(Vector string).
type StringVector struct {
	n   int
	raw []byte
}

// MakeStringVector builds a vector from strings (allocates; for request
// builders, not the forwarding path).
func MakeStringVector(elems ...string) StringVector {
	var raw []byte
	for _, s := range elems {
		raw = tl.AppendString(raw, s)
	}
	return StringVector{n: len(elems), raw: raw}
}

// Len returns the number of elements.
func (v StringVector) Len() int { return v.n }

// Raw returns the encoded elements without the count.
func (v StringVector) Raw() []byte { return v.raw }

// First returns the first element (aliasing the input).
func (v StringVector) First() ([]byte, bool) {
	if v.n == 0 {
		return nil, false
	}
	s, _, _ := tl.ReadBytes(v.raw) // validated by readStringVector
	return s, true
}

// DropFirst removes the first element and returns it.
func (v *StringVector) DropFirst() ([]byte, bool) {
	if v.n == 0 {
		return nil, false
	}
	s, rest, _ := tl.ReadBytes(v.raw)
	v.n--
	v.raw = rest
	return s, true
}

// All yields every element in wire order.
func (v StringVector) All() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		r := v.raw
		for range v.n {
			var s []byte
			s, r, _ = tl.ReadBytes(r)
			if !yield(s) {
				return
			}
		}
	}
}

func (v StringVector) appendTo(dst []byte) []byte {
	return append(tl.AppendUint32(dst, uint32(v.n)), v.raw...)
}

func (v StringVector) size() int { return 4 + len(v.raw) }

func readStringVector(r []byte) (StringVector, []byte, error) {
	n, rest, err := tl.ReadCount(r, 4)
	if err != nil {
		return StringVector{}, r, err
	}
	start := rest
	for range n {
		if rest, err = tl.SkipString(rest); err != nil {
			return StringVector{}, r, err
		}
	}
	used := len(start) - len(rest)
	return StringVector{n: n, raw: start[:used:used]}, rest, nil
}

// LongVector is a bare %(Vector long).
type LongVector struct {
	n   int
	raw []byte
}

// MakeLongVector builds a vector from longs (allocates).
func MakeLongVector(elems ...int64) LongVector {
	raw := make([]byte, 0, 8*len(elems))
	for _, x := range elems {
		raw = tl.AppendInt64(raw, x)
	}
	return LongVector{n: len(elems), raw: raw}
}

// Len returns the number of elements.
func (v LongVector) Len() int { return v.n }

// Raw returns the encoded elements without the count.
func (v LongVector) Raw() []byte { return v.raw }

// At returns element i; it panics if i is out of range, like a slice.
func (v LongVector) At(i int) int64 {
	return int64(binary.LittleEndian.Uint64(v.raw[8*i : 8*i+8]))
}

// First returns the first element.
func (v LongVector) First() (int64, bool) {
	if v.n == 0 {
		return 0, false
	}
	return v.At(0), true
}

// DropFirst removes the first element and returns it.
func (v *LongVector) DropFirst() (int64, bool) {
	x, ok := v.First()
	if ok {
		v.n--
		v.raw = v.raw[8:]
	}
	return x, ok
}

// All yields every element in wire order.
func (v LongVector) All() iter.Seq[int64] {
	return func(yield func(int64) bool) {
		for i := range v.n {
			if !yield(v.At(i)) {
				return
			}
		}
	}
}

func (v LongVector) appendTo(dst []byte) []byte {
	return append(tl.AppendUint32(dst, uint32(v.n)), v.raw...)
}

func (v LongVector) size() int { return 4 + len(v.raw) }

func readLongVector(r []byte) (LongVector, []byte, error) {
	n, rest, err := tl.ReadCount(r, 8)
	if err != nil {
		return LongVector{}, r, err
	}
	return LongVector{n: n, raw: rest[: 8*n : 8*n]}, rest[8*n:], nil
}

// LongDictionary is a bare %(Dictionary long): (key:string, value:long)
// pairs in wire order. Duplicates and order are preserved, unlike a map.
type LongDictionary struct {
	n   int
	raw []byte
}

// Add returns a dictionary with one more entry (allocates a new buffer, so
// the receiver and any parsed input stay untouched).
func (d LongDictionary) Add(key string, value int64) LongDictionary {
	raw := make([]byte, 0, len(d.raw)+tl.StringSize(len(key))+8)
	raw = append(raw, d.raw...)
	raw = tl.AppendInt64(tl.AppendString(raw, key), value)
	return LongDictionary{n: d.n + 1, raw: raw}
}

// Len returns the number of entries.
func (d LongDictionary) Len() int { return d.n }

// Raw returns the encoded entries without the count.
func (d LongDictionary) Raw() []byte { return d.raw }

// All yields every entry in wire order; keys alias the input.
func (d LongDictionary) All() iter.Seq2[[]byte, int64] {
	return func(yield func([]byte, int64) bool) {
		r := d.raw
		for range d.n {
			var k []byte
			var v int64
			k, r, _ = tl.ReadBytes(r)
			v, r, _ = tl.ReadInt64(r)
			if !yield(k, v) {
				return
			}
		}
	}
}

func (d LongDictionary) appendTo(dst []byte) []byte {
	return append(tl.AppendUint32(dst, uint32(d.n)), d.raw...)
}

func (d LongDictionary) size() int { return 4 + len(d.raw) }

func readLongDictionary(r []byte) (LongDictionary, []byte, error) {
	n, rest, err := tl.ReadCount(r, 4+8)
	if err != nil {
		return LongDictionary{}, r, err
	}
	start := rest
	for range n {
		if rest, err = tl.SkipString(rest); err != nil {
			return LongDictionary{}, r, err
		}
		if _, rest, err = tl.ReadInt64(rest); err != nil {
			return LongDictionary{}, r, err
		}
	}
	used := len(start) - len(rest)
	return LongDictionary{n: n, raw: start[:used:used]}, rest, nil
}

// StringDictionary is a bare %(Dictionary string) (result extra stats).
type StringDictionary struct {
	n   int
	raw []byte
}

// Add returns a dictionary with one more entry (allocates a new buffer).
func (d StringDictionary) Add(key, value string) StringDictionary {
	raw := make([]byte, 0, len(d.raw)+tl.StringSize(len(key))+tl.StringSize(len(value)))
	raw = append(raw, d.raw...)
	raw = tl.AppendString(tl.AppendString(raw, key), value)
	return StringDictionary{n: d.n + 1, raw: raw}
}

// Len returns the number of entries.
func (d StringDictionary) Len() int { return d.n }

// Raw returns the encoded entries without the count.
func (d StringDictionary) Raw() []byte { return d.raw }

// All yields every entry in wire order; keys and values alias the input.
func (d StringDictionary) All() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		r := d.raw
		for range d.n {
			var k, v []byte
			k, r, _ = tl.ReadBytes(r)
			v, r, _ = tl.ReadBytes(r)
			if !yield(k, v) {
				return
			}
		}
	}
}

func (d StringDictionary) appendTo(dst []byte) []byte {
	return append(tl.AppendUint32(dst, uint32(d.n)), d.raw...)
}

func readStringDictionary(r []byte) (StringDictionary, []byte, error) {
	n, rest, err := tl.ReadCount(r, 4+4)
	if err != nil {
		return StringDictionary{}, r, err
	}
	start := rest
	for range n {
		if rest, err = tl.SkipString(rest); err != nil {
			return StringDictionary{}, r, err
		}
		if rest, err = tl.SkipString(rest); err != nil {
			return StringDictionary{}, r, err
		}
	}
	used := len(start) - len(rest)
	return StringDictionary{n: n, raw: start[:used:used]}, rest, nil
}

// wrapField adds the field name to a primitive decoding error.
func wrapField(field string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrMalformed, field, err)
}

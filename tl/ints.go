package tl

import (
	"encoding/binary"
	"math"
)

// AppendUint32 appends v as a 4-byte little-endian word (# / nat / tag).
func AppendUint32(dst []byte, v uint32) []byte {
	return binary.LittleEndian.AppendUint32(dst, v)
}

// AppendInt32 appends an int.
func AppendInt32(dst []byte, v int32) []byte {
	return binary.LittleEndian.AppendUint32(dst, uint32(v))
}

// AppendUint64 appends v as 8 little-endian bytes.
func AppendUint64(dst []byte, v uint64) []byte {
	return binary.LittleEndian.AppendUint64(dst, v)
}

// AppendInt64 appends a long.
func AppendInt64(dst []byte, v int64) []byte {
	return binary.LittleEndian.AppendUint64(dst, uint64(v))
}

// AppendFloat32 appends a VK float (IEEE-754 binary32).
func AppendFloat32(dst []byte, v float32) []byte {
	return binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
}

// AppendFloat64 appends a double (IEEE-754 binary64).
func AppendFloat64(dst []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
}

// ReadUint32 reads a 4-byte little-endian word.
func ReadUint32(r []byte) (uint32, []byte, error) {
	if len(r) < 4 {
		return 0, r, ErrTruncated
	}
	return binary.LittleEndian.Uint32(r), r[4:], nil
}

// ReadInt32 reads an int.
func ReadInt32(r []byte) (int32, []byte, error) {
	v, r, err := ReadUint32(r)
	return int32(v), r, err
}

// ReadUint64 reads 8 little-endian bytes.
func ReadUint64(r []byte) (uint64, []byte, error) {
	if len(r) < 8 {
		return 0, r, ErrTruncated
	}
	return binary.LittleEndian.Uint64(r), r[8:], nil
}

// ReadInt64 reads a long.
func ReadInt64(r []byte) (int64, []byte, error) {
	v, r, err := ReadUint64(r)
	return int64(v), r, err
}

// ReadFloat32 reads a VK float. NaN payloads are preserved bit for bit.
func ReadFloat32(r []byte) (float32, []byte, error) {
	v, r, err := ReadUint32(r)
	return math.Float32frombits(v), r, err
}

// ReadFloat64 reads a double. NaN payloads are preserved bit for bit.
func ReadFloat64(r []byte) (float64, []byte, error) {
	v, r, err := ReadUint64(r)
	return math.Float64frombits(v), r, err
}

package sharding

import (
	"crypto/md5"
	"encoding/binary"
	"hash/crc32"

	"github.com/cespare/xxhash/v2"
)

// hashKind is KeyHash resolved once at construction so Pick switches on a
// small integer instead of comparing strings.
type hashKind uint8

const (
	hashNone hashKind = iota
	hashCRC32
	hashXXHash
	hashMD5
	hashFNV1a64
)

func hashKindOf(h KeyHash) hashKind {
	switch h {
	case HashCRC32:
		return hashCRC32
	case HashXXHash:
		return hashXXHash
	case HashMD5:
		return hashMD5
	case HashFNV1a64:
		return hashFNV1a64
	}
	return hashNone
}

// hash32 is the 32-bit key hash ketama compares with ring points.
func (p *Picker) hash32(key []byte) uint32 {
	switch p.hashKind {
	case hashCRC32:
		return p.crc.checksum(key)
	case hashXXHash:
		return uint32(xxhash.Sum64(key))
	case hashFNV1a64:
		return fnv1a64Twemproxy(key)
	default: // hashMD5
		d := md5.Sum(key) // An array result: stays on the stack.
		return binary.LittleEndian.Uint32(d[:4])
	}
}

// fnv1a64Twemproxy is twemproxy's hash_fnv1a_64: the FNV-1a-64 offset and
// prime truncated to 32 bits, arithmetic mod 2^32. twemproxy widens each byte
// with (uint32_t)key[x] from a const char, which is signed on x86-64, so bytes
// >= 0x80 are XORed sign-extended; doing the same keeps non-ASCII keys where
// an x86-64 twemproxy put them.
func fnv1a64Twemproxy(key []byte) uint32 {
	const (
		offset = 0x84222325 // low 32 bits of 0xcbf29ce484222325
		prime  = 0x1b3      // low 32 bits of 0x100000001b3
	)
	h := uint32(offset)
	for _, c := range key {
		h ^= uint32(int32(int8(c)))
		h *= prime
	}
	return h
}

// crcTable holds slicing-by-8 tables for CRC32-IEEE. hash/crc32's
// ChecksumIEEE calls through a function variable, which makes every key
// escape to the heap (and PickInt's stack buffer with it); this loop keeps
// keys on the stack and is as fast for key-sized inputs.
type crcTable [8][256]uint32

func newCRCTable() *crcTable {
	t := new(crcTable)
	t[0] = *crc32.MakeTable(crc32.IEEE)
	for i := range 256 {
		c := t[0][i]
		for k := 1; k < 8; k++ {
			c = t[0][c&0xff] ^ c>>8
			t[k][i] = c
		}
	}
	return t
}

// checksum returns CRC32-IEEE of p, equal to crc32.ChecksumIEEE(p).
func (t *crcTable) checksum(p []byte) uint32 {
	crc := ^uint32(0)
	for len(p) >= 8 {
		crc ^= binary.LittleEndian.Uint32(p)
		crc = t[0][p[7]] ^ t[1][p[6]] ^ t[2][p[5]] ^ t[3][p[4]] ^
			t[4][crc>>24] ^ t[5][crc>>16&0xff] ^ t[6][crc>>8&0xff] ^ t[7][crc&0xff]
		p = p[8:]
	}
	for _, c := range p {
		crc = t[0][byte(crc)^c] ^ crc>>8
	}
	return ^crc
}

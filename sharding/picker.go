package sharding

import (
	"fmt"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// Picker maps keys to shard indexes for one cluster. It is an immutable
// snapshot built once per config by NewPicker; Pick and PickInt are safe for
// concurrent use, take no lock and do not allocate unless they return an
// error.
type Picker struct {
	mode Mode
	hash KeyHash
	n    uint64
	tag  hashTag

	hashKind hashKind
	crc      *crcTable // for HashCRC32

	ring ketamaRing // ketama's continuum with its bucket index
	// parts is bounded's partition -> shard table, copied out of the library
	// so Pick needs neither its lock nor its maps.
	parts []int32
}

// NewPicker validates spec, fills in its defaults and builds a Picker. Errors
// wrap ErrInvalidSpec and say what is allowed.
func NewPicker(spec Spec) (*Picker, error) {
	s, err := spec.normalized()
	if err != nil {
		return nil, err
	}
	p := &Picker{
		mode:     s.Mode,
		hash:     s.Hash,
		n:        uint64(len(s.Shards)),
		hashKind: hashKindOf(s.Hash),
	}
	p.tag = newHashTag(s.HashTag)
	if p.hashKind == hashCRC32 {
		p.crc = newCRCTable()
	}
	switch s.Mode {
	case ModeKetama:
		if p.ring, err = buildKetama(s.Shards); err != nil {
			return nil, err
		}
	case ModeBounded:
		if p.parts, err = buildBounded(s.Shards, s.Partitions, s.Load); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Pick returns the shard index in [0, Len()) for a string key (its hash
// tag, when the spec has one and the key holds it). Only firstint fails:
// with an error wrapping ErrNoDigits or ErrOverflow that quotes the key. A
// single-shard Picker returns 0 for every key without reading it. Pick
// does not retain key.
func (p *Picker) Pick(key []byte) (int, error) {
	if p.n == 1 {
		return 0, nil
	}
	placed := p.tag.of(key)
	if p.mode == ModeFirstInt {
		v, err := firstInt(placed)
		if err != nil {
			if len(placed) != len(key) {
				err = fmt.Errorf("hash tag of %q: %w", string(key), err) // a copy: key must not escape
			}
			return 0, err
		}
		return int(v % p.n), nil
	}
	return p.pickHashed(placed), nil
}

// PickInt returns the shard index for an int key. firstint takes the
// Euclidean remainder (so -1 goes to shard N-1); the hashing modes hash the
// key's decimal text, so PickInt(42) equals Pick([]byte("42")).
func (p *Picker) PickInt(key int64) int {
	if p.n == 1 {
		return 0
	}
	if p.mode == ModeFirstInt {
		r := key % int64(p.n)
		if r < 0 {
			r += int64(p.n)
		}
		return int(r)
	}
	var buf [20]byte // len("-9223372036854775808")
	return p.pickHashed(strconv.AppendInt(buf[:0], key, 10))
}

// pickHashed places key in the hash, ketama and bounded modes.
func (p *Picker) pickHashed(key []byte) int {
	switch p.mode {
	case ModeHash:
		if p.hashKind == hashXXHash {
			return int(xxhash.Sum64(key) % p.n)
		}
		// A 32-bit division is cheaper than a 64-bit one, and n < 2^32.
		return int(p.crc.checksum(key) % uint32(p.n))
	case ModeKetama:
		return p.ring.locate(p.hash32(key))
	default: // ModeBounded
		return int(p.parts[xxhash.Sum64(key)%uint64(len(p.parts))])
	}
}

// Len returns the number of shards.
func (p *Picker) Len() int { return int(p.n) }

// Mode returns the placement mode.
func (p *Picker) Mode() Mode { return p.mode }

// KeyHash returns the key hash in use after defaults ("" for firstint).
func (p *Picker) KeyHash() KeyHash { return p.hash }

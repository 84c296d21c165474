package engines

import "hash/maphash"

// Stripes places keys on a power-of-two number of lock stripes by a seeded
// hash, so that a store's stripes are indexed by Index(key) and hot keys
// of one test run are not hot on the same stripe in the next. The seed is
// per Stripes; the stripes themselves are the store's own slice of
// Len() elements.
type Stripes struct {
	seed maphash.Seed
	mask uint64
}

// NewStripes returns Stripes for n stripes, rounded up to a power of two
// (at least 1).
func NewStripes(n int) Stripes {
	p := 1
	for p < n {
		p <<= 1
	}
	return Stripes{seed: maphash.MakeSeed(), mask: uint64(p - 1)}
}

// Len is the number of stripes.
func (s Stripes) Len() int { return int(s.mask) + 1 }

// Index is the stripe of key, in [0, Len()).
func (s Stripes) Index(key []byte) int { return int(maphash.Bytes(s.seed, key) & s.mask) }

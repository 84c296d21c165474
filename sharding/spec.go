package sharding

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Mode names a placement algorithm, as written in the config.
type Mode string

// The placement modes; see the package documentation and sharding.md §3.
const (
	ModeFirstInt Mode = "firstint"
	ModeHash     Mode = "hash"
	ModeKetama   Mode = "ketama"
	ModeBounded  Mode = "bounded"
)

// Modes returns every mode, in documentation order. The slice is new on each
// call, so callers may keep or change it.
func Modes() []Mode {
	return []Mode{ModeFirstInt, ModeHash, ModeKetama, ModeBounded}
}

// KeyHash names the function that hashes a key before placement.
type KeyHash string

// The key hashes. Which ones a mode accepts is given by Mode.KeyHashes.
const (
	// HashCRC32 is CRC32-IEEE of the key bytes (twemproxy calls it crc32a;
	// twemproxy's own "crc32" keeps only 15 bits and is not offered, because on
	// a 32-bit ketama ring it sends almost every key to one shard).
	HashCRC32 KeyHash = "crc32"
	// HashXXHash is XXH64 with seed 0; ketama uses its low 32 bits.
	HashXXHash KeyHash = "xxhash"
	// HashMD5 is the little-endian uint32 of the first 4 bytes of MD5(key), as
	// libketama and libmemcached hash keys.
	HashMD5 KeyHash = "md5"
	// HashFNV1a64 is twemproxy's fnv1a_64: FNV-1a-64 computed in 32 bits
	// (offset 0x84222325, prime 0x1b3). It barely mixes the last bytes of a key;
	// it exists only to migrate twemproxy pools.
	HashFNV1a64 KeyHash = "fnv1a_64"
)

// KeyHashes returns the key hashes mode m accepts, the default first. It is
// empty for firstint (which reads digits, not hashes) and for unknown modes.
func (m Mode) KeyHashes() []KeyHash {
	switch m {
	case ModeHash:
		return []KeyHash{HashCRC32, HashXXHash}
	case ModeKetama:
		return []KeyHash{HashMD5, HashCRC32, HashFNV1a64, HashXXHash}
	case ModeBounded:
		// The library's ring and partition table are built with one 64-bit
		// hasher; offering more would mean more rings to keep equal to it.
		return []KeyHash{HashXXHash}
	}
	return nil
}

// DefaultKeyHash returns the key hash used when Spec.Hash is empty, or "" for
// firstint and unknown modes.
func (m Mode) DefaultKeyHash() KeyHash {
	if hs := m.KeyHashes(); len(hs) > 0 {
		return hs[0]
	}
	return ""
}

// memcachedPort is left out of ketama names by libmemcached and twemproxy, so a
// pool of default-port servers keeps its placement whether or not the port is
// written.
const memcachedPort = 11211

// DefaultShardName returns the ketama name of a shard whose first replica is
// at firstReplica ("host:port"): the address as written, or only the host when
// the port is 11211 (the libmemcached and twemproxy rule). The text before the
// last colon is kept as is, so "[::1]:11211" gives "[::1]".
func DefaultShardName(firstReplica string) string {
	i := strings.LastIndexByte(firstReplica, ':')
	if i < 0 {
		return firstReplica
	}
	if port, err := strconv.Atoi(firstReplica[i+1:]); err == nil && port == memcachedPort {
		return firstReplica[:i]
	}
	return firstReplica
}

// Shard describes one shard for placement.
type Shard struct {
	// Name is hashed to place the shard on a ring (ketama, bounded); see
	// DefaultShardName. firstint and hash ignore it.
	Name string
	// Weight scales the shard's share of ketama points. 0 means 1. Only
	// ketama has weights; other modes accept only 0 and 1.
	Weight int
}

// Spec is everything that decides placement for one cluster.
type Spec struct {
	Mode Mode
	// Hash is the key hash; "" means Mode.DefaultKeyHash(). Must be "" for
	// firstint.
	Hash   KeyHash
	Shards []Shard
	// Load is bounded's load factor: no shard owns more than
	// ceil(Partitions/N*Load) partitions. 0 means DefaultLoad; otherwise at
	// least 1. Must be 0 for other modes.
	Load float64
	// Partitions is bounded's partition count (keys hash to partitions,
	// partitions to shards). 0 means DefaultPartitions. Must be at least N,
	// so more than 271 shards need it set. Must be 0 for other modes.
	Partitions int
	// HashTag, when set, is two characters (like "{}") around the part of
	// a string key that is placed, in every mode; see hashtag.go. "" places
	// whole keys.
	HashTag string
}

// Limits and defaults of a Spec.
const (
	// MaxShards bounds N so tables stay int32 and a typo cannot build a
	// gigabyte ring.
	MaxShards = 1 << 16
	// MaxWeight bounds one shard's weight so the total weight fits any int.
	MaxWeight = 1 << 20
	// DefaultPartitions is bounded's partition count when Spec.Partitions is 0
	// (the library's own default, pinned here so placement cannot change with
	// it).
	DefaultPartitions = 271
	// MaxPartitions bounds bounded's partition table.
	MaxPartitions = 1 << 20
	// DefaultLoad is bounded's load factor when Spec.Load is 0.
	DefaultLoad = 1.25
	// boundedReplication is the library's ring points per member (its default,
	// pinned for the same reason as DefaultPartitions).
	boundedReplication = 20
)

// normalized validates s and returns a copy with defaults filled in. Errors
// name the field and what is allowed.
func (s Spec) normalized() (Spec, error) {
	switch s.Mode {
	case ModeFirstInt, ModeHash, ModeKetama, ModeBounded:
	default:
		return s, specErr("unknown mode %q (allowed: %s)", s.Mode, join(Modes()))
	}
	n := len(s.Shards)
	if n == 0 {
		return s, specErr("%s: no shards", s.Mode)
	}
	if n > MaxShards {
		return s, specErr("%s: %d shards, at most %d allowed", s.Mode, n, MaxShards)
	}

	if p := HashTagProblem(s.HashTag); p != "" {
		return s, specErr("hash tag %q: %s", s.HashTag, p)
	}

	allowed := s.Mode.KeyHashes()
	switch {
	case s.Hash == "" && len(allowed) > 0:
		s.Hash = allowed[0]
	case s.Hash != "" && len(allowed) == 0:
		return s, specErr("%s: takes no key hash, got %q", s.Mode, s.Hash)
	case s.Hash != "" && !contains(allowed, s.Hash):
		return s, specErr("%s: unknown key hash %q (allowed: %s)", s.Mode, s.Hash, join(allowed))
	}

	if s.Mode != ModeBounded {
		if s.Load != 0 {
			return s, specErr("%s: load applies only to mode %q", s.Mode, ModeBounded)
		}
		if s.Partitions != 0 {
			return s, specErr("%s: partitions apply only to mode %q", s.Mode, ModeBounded)
		}
	} else {
		if s.Load == 0 {
			s.Load = DefaultLoad
		}
		// Below 1 the library cannot fit every partition and panics.
		if math.IsNaN(s.Load) || math.IsInf(s.Load, 0) || s.Load < 1 {
			return s, specErr("bounded: load %v, must be at least 1", s.Load)
		}
		if s.Partitions == 0 {
			s.Partitions = DefaultPartitions
		}
		// The default is not scaled with N on purpose: changing the partition
		// count moves almost every key, so it must be an explicit decision.
		if s.Partitions < n || s.Partitions > MaxPartitions {
			return s, specErr("bounded: %d partitions, must be between the shard count %d and %d"+
				" (a prime near 10 x shards balances well)", s.Partitions, n, MaxPartitions)
		}
	}

	named := s.Mode == ModeKetama || s.Mode == ModeBounded
	var seen map[string]int
	if named {
		seen = make(map[string]int, n)
	}
	shards := make([]Shard, n)
	for i, sh := range s.Shards {
		switch {
		case sh.Weight < 0 || sh.Weight > MaxWeight:
			return s, specErr("%s: shard %d (%q): weight %d, must be between 0 and %d",
				s.Mode, i, sh.Name, sh.Weight, MaxWeight)
		case sh.Weight == 0:
			sh.Weight = 1
		}
		if sh.Weight != 1 && s.Mode != ModeKetama {
			return s, specErr("%s: shard %d (%q): weight %d, only mode %q has weights",
				s.Mode, i, sh.Name, sh.Weight, ModeKetama)
		}
		if named {
			if sh.Name == "" {
				return s, specErr("%s: shard %d has no name", s.Mode, i)
			}
			if j, dup := seen[sh.Name]; dup {
				return s, specErr("%s: shards %d and %d are both named %q", s.Mode, j, i, sh.Name)
			}
			seen[sh.Name] = i
		}
		shards[i] = sh
	}
	s.Shards = shards
	return s, nil
}

func specErr(format string, args ...any) error {
	return errorf(ErrInvalidSpec, format, args...)
}

// errorf wraps sentinel with a formatted detail: "<sentinel>: <detail>".
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}

func contains[T comparable](xs []T, x T) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func join[T ~string](xs []T) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = string(x)
	}
	return strings.Join(parts, ", ")
}

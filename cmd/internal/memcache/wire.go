package memcache

import (
	"errors"
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl"
)

// Tags of engines/memcache/memcache.tl (tlc tags prints them).
const (
	TagNotFound  uint32 = 0x32c42422 // memcache.not_found = memcache.Value
	TagStrValue  uint32 = 0xa6bebb1a // memcache.strvalue value:string flags:int
	TagLongValue uint32 = 0x09729c42 // memcache.longvalue value:long flags:int
	TagGet       uint32 = 0xd33b13ae // memcache.get key:string = memcache.Value
	TagSet       uint32 = 0xeeeb54c4 // memcache.set key flags delay value = Bool
	TagGetMulti  uint32 = 0x9b4978d9 // memcache.getMulti keys:%(Vector string) = Vector memcache.Value
)

// ErrAnswer means an answer is not the memcache.Value (or vector of them)
// the request calls for.
var ErrAnswer = errors.New("memcache: unexpected answer")

// AppendGet appends the boxed call memcache.get key.
func AppendGet(dst, key []byte) []byte {
	return tl.AppendBytes(tl.AppendUint32(dst, TagGet), key)
}

// AppendSet appends memcache.set key flags delay value.
func AppendSet(dst, key []byte, flags, delay int32, value []byte) []byte {
	dst = tl.AppendBytes(tl.AppendUint32(dst, TagSet), key)
	dst = tl.AppendInt32(tl.AppendInt32(dst, flags), delay)
	return tl.AppendBytes(dst, value)
}

// AppendGetMulti appends memcache.getMulti with keys as a bare vector.
func AppendGetMulti(dst []byte, keys ...[]byte) []byte {
	dst = tl.AppendUint32(tl.AppendUint32(dst, TagGetMulti), uint32(len(keys)))
	for _, k := range keys {
		dst = tl.AppendBytes(dst, k)
	}
	return dst
}

// ReadValue reads one boxed memcache.Value and reports whether it is a
// value (true) or memcache.not_found (false).
func ReadValue(r []byte) (hit bool, rest []byte, err error) {
	tag, r, err := tl.ReadUint32(r)
	if err != nil {
		return false, r, err
	}
	switch tag {
	case TagNotFound:
		return false, r, nil
	case TagStrValue:
		if r, err = tl.SkipString(r); err != nil {
			return false, r, err
		}
	case TagLongValue:
		if _, r, err = tl.ReadInt64(r); err != nil {
			return false, r, err
		}
	default:
		return false, r, fmt.Errorf("%w: memcache.Value tag %#08x", ErrAnswer, tag)
	}
	_, r, err = tl.ReadInt32(r) // flags
	return true, r, err
}

// CountHits reads a boxed Vector memcache.Value (the getMulti answer) and
// returns how many elements are values and how many are not_found.
func CountHits(r []byte) (hits, misses int, err error) {
	if r, err = tl.ExpectTag(r, tl.TagVector); err != nil {
		return 0, 0, err
	}
	n, r, err := tl.ReadCount(r, 4)
	if err != nil {
		return 0, 0, err
	}
	for range n {
		var hit bool
		if hit, r, err = ReadValue(r); err != nil {
			return hits, misses, err
		}
		if hit {
			hits++
		} else {
			misses++
		}
	}
	if len(r) != 0 {
		return hits, misses, fmt.Errorf("%w: %d bytes after the vector", ErrAnswer, len(r))
	}
	return hits, misses, nil
}

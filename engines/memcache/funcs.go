package memcache

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/tl"
)

// Function tags (memcache.tl; tl.md §8.1), checked against the schema
// package in a test.
const (
	TagGet      uint32 = 0xd33b13ae
	TagSet      uint32 = 0xeeeb54c4
	TagAdd      uint32 = 0xa358f31c
	TagReplace  uint32 = 0x2ecdfaa2
	TagIncr     uint32 = 0x80e6c950
	TagDecr     uint32 = 0x6467e0d9
	TagDelete   uint32 = 0xab505c0a
	TagGetMulti uint32 = 0x9b4978d9
)

// Funcs returns the memcache functions for engines.Config.Funcs.
func (s *Store) Funcs() []engines.Func {
	return []engines.Func{
		{Name: "memcache.get", Tag: TagGet, Call: s.callGet},
		{Name: "memcache.set", Tag: TagSet, Call: s.writer(modeSet)},
		{Name: "memcache.add", Tag: TagAdd, Call: s.writer(modeAdd)},
		{Name: "memcache.replace", Tag: TagReplace, Call: s.writer(modeReplace)},
		{Name: "memcache.incr", Tag: TagIncr, Call: s.counter(false)},
		{Name: "memcache.decr", Tag: TagDecr, Call: s.counter(true)},
		{Name: "memcache.delete", Tag: TagDelete, Call: s.callDelete},
		{Name: "memcache.getMulti", Tag: TagGetMulti, Call: s.callGetMulti},
	}
}

// readKey reads the key:string argument.
func readKey(args []byte) ([]byte, []byte, error) {
	key, rest, err := tl.ReadBytes(args)
	if err != nil {
		return nil, args, fmt.Errorf("key: %w", err)
	}
	return key, rest, nil
}

// callGet: memcache.get key:string = memcache.Value.
func (s *Store) callGet(args, dst []byte) ([]byte, error) {
	key, rest, err := readKey(args)
	if err != nil {
		return dst, err
	}
	if err := engines.End(rest); err != nil {
		return dst, err
	}
	return s.get(key, dst, s.now()), nil
}

// writer serves set, add and replace: key:string flags:int delay:int
// value:string = Bool.
func (s *Store) writer(m mode) func(args, dst []byte) ([]byte, error) {
	return func(args, dst []byte) ([]byte, error) {
		key, r, err := readKey(args)
		if err != nil {
			return dst, err
		}
		flags, r, err := tl.ReadInt32(r)
		if err != nil {
			return dst, fmt.Errorf("flags: %w", err)
		}
		delay, r, err := tl.ReadInt32(r)
		if err != nil {
			return dst, fmt.Errorf("delay: %w", err)
		}
		value, r, err := tl.ReadBytes(r)
		if err != nil {
			return dst, fmt.Errorf("value: %w", err)
		}
		if err := engines.End(r); err != nil {
			return dst, err
		}
		ok, err := s.store(m, key, flags, delay, value, s.now())
		if err != nil {
			return dst, err
		}
		return tl.AppendBool(dst, ok), nil
	}
}

// counter serves incr and decr: key:string value:long = memcache.Value.
func (s *Store) counter(negate bool) func(args, dst []byte) ([]byte, error) {
	return func(args, dst []byte) ([]byte, error) {
		key, r, err := readKey(args)
		if err != nil {
			return dst, err
		}
		delta, r, err := tl.ReadInt64(r)
		if err != nil {
			return dst, fmt.Errorf("value: %w", err)
		}
		if err := engines.End(r); err != nil {
			return dst, err
		}
		if negate {
			delta = -delta // wraps for MinInt64, as the sum does
		}
		return s.incr(key, delta, dst, s.now())
	}
}

// callDelete: memcache.delete key:string = Bool.
func (s *Store) callDelete(args, dst []byte) ([]byte, error) {
	key, rest, err := readKey(args)
	if err != nil {
		return dst, err
	}
	if err := engines.End(rest); err != nil {
		return dst, err
	}
	ok, err := s.remove(key, s.now())
	if err != nil {
		return dst, err
	}
	return tl.AppendBool(dst, ok), nil
}

// callGetMulti: memcache.getMulti keys:%(Vector string) = Vector
// memcache.Value, one value per key in key order. Each key is read under
// its own shard's lock: the answer is not a snapshot across keys.
func (s *Store) callGetMulti(args, dst []byte) ([]byte, error) {
	n, r, err := tl.ReadCount(args, 4) // a string takes at least 4 bytes
	if err != nil {
		return dst, fmt.Errorf("keys: %w", err)
	}
	start := len(dst)
	dst = tl.AppendUint32(dst, tl.TagVector)
	dst = tl.AppendUint32(dst, uint32(n))
	now := s.now()
	for i := range n {
		var key []byte
		if key, r, err = tl.ReadBytes(r); err != nil {
			return dst[:start], fmt.Errorf("keys[%d]: %w", i, err)
		}
		dst = s.get(key, dst, now)
	}
	if err := engines.End(r); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

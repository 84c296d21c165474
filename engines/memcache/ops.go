package memcache

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// Tags of memcache.Value (tl.md §8.1).
const (
	TagNotFound  uint32 = 0x32c42422 // memcache.not_found
	TagStrValue  uint32 = 0xa6bebb1a // memcache.strvalue value:string flags:int
	TagLongValue uint32 = 0x09729c42 // memcache.longvalue value:long flags:int
)

// mode is what a write requires of the existing item.
type mode uint8

const (
	modeSet     mode = iota // always store
	modeAdd                 // store only if missing
	modeReplace             // store only if present
)

// appendValue appends the boxed memcache.Value of it.
func appendValue(dst []byte, it *item) []byte {
	if it.isNum {
		dst = tl.AppendUint32(dst, TagLongValue)
		dst = tl.AppendInt64(dst, it.num)
	} else {
		dst = tl.AppendUint32(dst, TagStrValue)
		dst = tl.AppendBytes(dst, it.value)
	}
	return tl.AppendInt32(dst, it.flags)
}

func (s *Store) checkKey(key []byte) error {
	if len(key) > s.cfg.MaxKeyLen {
		return &rpc.Error{Code: rpc.CodeTooLongString, Description: fmt.Sprintf("memcache: key of %d bytes, max %d", len(key), s.cfg.MaxKeyLen)}
	}
	return nil
}

// get appends the Value under key (memcache.not_found if missing or
// expired). A hit allocates nothing: the map lookup converts the key
// without a copy and the value is copied into dst under the read lock.
func (s *Store) get(key, dst []byte, now int64) []byte {
	sh := s.shard(key)
	sh.mu.RLock()
	it, ok := sh.m[string(key)]
	if ok && live(it, now) {
		dst = appendValue(dst, it)
		sh.mu.RUnlock()
		return dst
	}
	sh.mu.RUnlock()
	if ok {
		s.expire(sh, key, now)
	}
	return tl.AppendUint32(dst, TagNotFound)
}

// expire removes key if it is still expired (lazy expiry on read, under
// the write lock the read path did not take).
func (s *Store) expire(sh *shard, key []byte, now int64) {
	sh.mu.Lock()
	if it, ok := sh.m[string(key)]; ok && !live(it, now) {
		s.removeLocked(sh, string(key), it)
		s.expired.Add(1)
	}
	sh.mu.Unlock()
}

// store writes value under key as mode allows and reports whether it did.
// The value is copied (the request buffer is reused), into the old item's
// buffer when it fits.
func (s *Store) store(m mode, key []byte, flags, delay int32, value []byte, now int64) (bool, error) {
	if err := s.checkKey(key); err != nil {
		return false, err
	}
	if len(value) > s.cfg.MaxValueLen {
		return false, &rpc.Error{Code: rpc.CodeTooLongString, Description: fmt.Sprintf("memcache: value of %d bytes, max %d", len(value), s.cfg.MaxValueLen)}
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	it, exists := sh.m[string(key)]
	present := exists && live(it, now)
	switch {
	case m == modeAdd && present, m == modeReplace && !present:
		return false, nil
	}
	if !exists {
		it = &item{}
	}
	oldSize := int64(0)
	if exists {
		oldSize = it.size(string(key))
	}
	buf := it.value[:0]
	// Reuse the old buffer unless it would pin much more than needed.
	if c := cap(buf); c < len(value) || c > 2*len(value)+64 {
		buf = nil
		if len(value) > 0 {
			buf = make([]byte, 0, len(value))
		}
	}
	newSize := int64(len(key)+cap(buf)) + itemOverhead
	if err := s.charge(newSize - oldSize); err != nil {
		return false, err
	}
	// Only now, with the bytes granted, is the old item changed.
	*it = item{value: append(buf, value...), flags: flags, expires: expiry(delay, now)}
	if !exists {
		sh.m[string(key)] = it
		s.items.Add(1)
	}
	return true, nil
}

// charge accounts delta bytes, refusing growth past MaxBytes. The check
// and the add are separate atomics, so concurrent writers may overshoot
// by at most one value each: a soft bound, which is what a test engine
// needs.
func (s *Store) charge(delta int64) error {
	if delta > 0 && s.bytes.Load()+delta > s.cfg.MaxBytes {
		return &rpc.Error{Code: rpc.CodeOutOfMemory, Description: fmt.Sprintf("memcache: store full (%d of %d bytes)", s.bytes.Load(), s.cfg.MaxBytes)}
	}
	s.bytes.Add(delta)
	return nil
}

// incr adds delta to the number under key and appends the new value as
// memcache.longvalue, or memcache.not_found. A string value must be a
// decimal int64 (optionally negative); anything else is BAD_VALUE, as
// memcached refuses to increment a non-numeric value. The sum wraps
// around like memcached's 64-bit counters, but signed: TL's long is signed
// and VK clients send negative deltas, so decr below zero goes negative
// instead of stopping at 0 as memcached's unsigned decr does. Flags and
// expiry are kept.
func (s *Store) incr(key []byte, delta int64, dst []byte, now int64) ([]byte, error) {
	if err := s.checkKey(key); err != nil {
		return dst, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	it, ok := sh.m[string(key)]
	if !ok {
		return tl.AppendUint32(dst, TagNotFound), nil
	}
	if !live(it, now) {
		s.removeLocked(sh, string(key), it)
		s.expired.Add(1)
		return tl.AppendUint32(dst, TagNotFound), nil
	}
	if !it.isNum {
		n, ok := parseInt(it.value)
		if !ok {
			return dst, &rpc.Error{Code: rpc.CodeBadValue, Description: fmt.Sprintf("memcache: cannot increment or decrement non-numeric value of key %q", truncate(key))}
		}
		it.num, it.isNum = n, true
		s.bytes.Add(-int64(cap(it.value)))
		it.value = nil
	}
	it.num += delta
	return appendValue(dst, it), nil
}

// remove deletes key and reports whether a live item was there.
func (s *Store) remove(key []byte, now int64) (bool, error) {
	if err := s.checkKey(key); err != nil {
		return false, err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	it, ok := sh.m[string(key)]
	if !ok {
		return false, nil
	}
	s.removeLocked(sh, string(key), it)
	if !live(it, now) {
		s.expired.Add(1)
		return false, nil
	}
	return true, nil
}

// parseInt parses an optionally negative decimal int64 with no spaces.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	switch {
	case neg && u <= 1<<63:
		return int64(-u), true
	case !neg && u < 1<<63:
		return int64(u), true
	}
	return 0, false
}

func truncate(key []byte) string {
	if len(key) > 64 {
		return string(key[:64]) + "..."
	}
	return string(key)
}

package memcache

import (
	"errors"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// TestTags: the constants equal the tags of engines/memcache/memcache.tl.
func TestTags(t *testing.T) {
	s, err := schema.LoadWithPrelude("../../../engines/memcache/memcache.tl")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		tag  uint32
	}{
		{"memcache.not_found", TagNotFound},
		{"memcache.strvalue", TagStrValue},
		{"memcache.longvalue", TagLongValue},
		{"memcache.get", TagGet},
		{"memcache.set", TagSet},
		{"memcache.getMulti", TagGetMulti},
	}
	for _, tc := range tests {
		c := s.Combinator(tc.name)
		if c == nil {
			t.Errorf("%s: not in the schema", tc.name)
			continue
		}
		if c.Tag != tc.tag {
			t.Errorf("%s: tag %#08x, constant %#08x", tc.name, c.Tag, tc.tag)
		}
	}
}

// TestCountHits classifies getMulti answers and refuses malformed ones.
func TestCountHits(t *testing.T) {
	vec := func(elems ...[]byte) []byte {
		b := tl.AppendUint32(tl.AppendUint32(nil, tl.TagVector), uint32(len(elems)))
		for _, e := range elems {
			b = append(b, e...)
		}
		return b
	}
	miss := tl.AppendUint32(nil, TagNotFound)
	str := tl.AppendInt32(tl.AppendString(tl.AppendUint32(nil, TagStrValue), "v"), 0)
	long := tl.AppendInt32(tl.AppendInt64(tl.AppendUint32(nil, TagLongValue), 5), 0)
	tests := []struct {
		name         string
		in           []byte
		hits, misses int
		err          error
	}{
		{"empty", vec(), 0, 0, nil},
		{"mixed", vec(str, miss, long, miss), 2, 2, nil},
		{"bad tag", vec(tl.AppendUint32(nil, 1)), 0, 0, ErrAnswer},
		{"truncated", vec(str)[:14], 0, 0, tl.ErrTruncated},
		{"not a vector", miss, 0, 0, tl.ErrTag},
		{"trailing", append(vec(miss), 0, 0, 0, 0), 0, 1, ErrAnswer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, m, err := CountHits(tc.in)
			if h != tc.hits || m != tc.misses || !errors.Is(err, tc.err) {
				t.Errorf("CountHits = %d, %d, %v; want %d, %d, %v", h, m, err, tc.hits, tc.misses, tc.err)
			}
		})
	}
}

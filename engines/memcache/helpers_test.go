package memcache

import (
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/engines/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// t0 is the fake clock's start: a real-looking time well past 30 days.
var t0 = time.Unix(1_700_000_000, 0)

func newStore(t testing.TB, cfg Config) (*Store, *enginetest.Clock) {
	t.Helper()
	clk := enginetest.NewClock(t0)
	cfg.Clock = clk
	if cfg.SweepEvery == 0 {
		// Tests advance the clock by years; a 1 s sweep would tick
		// millions of times.
		cfg.SweepEvery = 1000 * time.Hour
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, clk
}

// call runs one function call (tag first) through the store's Funcs, as
// engines.Server would, and returns the answer or the TL error.
func call(t testing.TB, s *Store, body []byte) ([]byte, *rpc.Error) {
	t.Helper()
	return enginetest.Call(t, s.Funcs(), body)
}

// Request builders.

func get(key string) []byte {
	return tl.AppendString(tl.AppendUint32(nil, TagGet), key)
}

func write(tag uint32, key string, flags, delay int32, value string) []byte {
	b := tl.AppendString(tl.AppendUint32(nil, tag), key)
	b = tl.AppendInt32(b, flags)
	b = tl.AppendInt32(b, delay)
	return tl.AppendString(b, value)
}

func set(key string, flags, delay int32, value string) []byte {
	return write(TagSet, key, flags, delay, value)
}

func incr(tag uint32, key string, delta int64) []byte {
	return tl.AppendInt64(tl.AppendString(tl.AppendUint32(nil, tag), key), delta)
}

func del(key string) []byte { return tl.AppendString(tl.AppendUint32(nil, TagDelete), key) }

func getMulti(keys ...string) []byte {
	b := tl.AppendUint32(tl.AppendUint32(nil, TagGetMulti), uint32(len(keys)))
	for _, k := range keys {
		b = tl.AppendString(b, k)
	}
	return b
}

// Answer builders.

func strValue(v string, flags int32) []byte {
	return tl.AppendInt32(tl.AppendString(tl.AppendUint32(nil, TagStrValue), v), flags)
}

func longValue(v int64, flags int32) []byte {
	return tl.AppendInt32(tl.AppendInt64(tl.AppendUint32(nil, TagLongValue), v), flags)
}

func notFound() []byte { return tl.AppendUint32(nil, TagNotFound) }

func boolean(v bool) []byte { return tl.AppendBool(nil, v) }

func vector(vals ...[]byte) []byte {
	b := tl.AppendUint32(tl.AppendUint32(nil, tl.TagVector), uint32(len(vals)))
	for _, v := range vals {
		b = append(b, v...)
	}
	return b
}

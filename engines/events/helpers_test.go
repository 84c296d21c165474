package events

import (
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/engines/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// t0 is the fake clock's start.
var t0 = time.UnixMilli(1_700_000_000_123)

func newStore(t testing.TB, cfg Config) (*Store, *enginetest.Clock) {
	t.Helper()
	clk := enginetest.NewClock(t0)
	cfg.Clock = clk
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, clk
}

// call runs one function call (tag first) through the store's Funcs, as
// engines.Server would, and returns the answer or the TL error.
func call(t testing.TB, s *Store, body []byte) ([]byte, *rpc.Error) {
	t.Helper()
	return enginetest.Call(t, s.Funcs(), body)
}

// mustCall is call that fails the test on a TL error.
func mustCall(t testing.TB, s *Store, body []byte) []byte {
	t.Helper()
	out, e := call(t, s, body)
	if e != nil {
		t.Fatalf("%x: %v", body, e)
	}
	return out
}

// Request builders.

func add(key string, ts int64, text string) []byte {
	b := tl.AppendString(tl.AppendUint32(nil, TagAdd), key)
	return tl.AppendString(tl.AppendInt64(b, ts), text)
}

func del(key string) []byte { return tl.AppendString(tl.AppendUint32(nil, TagDelete), key) }

func list(key string, limit int32) []byte {
	return tl.AppendInt32(tl.AppendString(tl.AppendUint32(nil, TagList), key), limit)
}

func search(query string, limit int32) []byte {
	return tl.AppendInt32(tl.AppendString(tl.AppendUint32(nil, TagSearch), query), limit)
}

func listAll(limit int32) []byte { return tl.AppendInt32(tl.AppendUint32(nil, TagListAll), limit) }

// byQuery builds a call of one of the query:string functions.
func byQuery(tag uint32, query string) []byte {
	return tl.AppendString(tl.AppendUint32(nil, tag), query)
}

// Answer builders.

func long(v int64) []byte { return tl.AppendInt64(tl.AppendUint32(nil, tl.TagLong), v) }

func int32v(v int32) []byte { return tl.AppendInt32(tl.AppendUint32(nil, tl.TagInt), v) }

func boolean(v bool) []byte { return tl.AppendBool(nil, v) }

// ev is an expected event.
type ev struct {
	id, ts    int64
	key, text string
}

func (e ev) bytes() []byte {
	b := tl.AppendInt64(tl.AppendUint32(nil, TagEvent), e.id)
	b = tl.AppendInt64(b, e.ts)
	return tl.AppendString(tl.AppendString(b, e.key), e.text)
}

func vector(evs ...ev) []byte {
	b := tl.AppendUint32(tl.AppendUint32(nil, tl.TagVector), uint32(len(evs)))
	for _, e := range evs {
		b = append(b, e.bytes()...)
	}
	return b
}

func nothing() []byte { return tl.AppendUint32(nil, tl.TagMaybeFalse) }

func just(e ev) []byte { return append(tl.AppendUint32(nil, tl.TagMaybeTrue), e.bytes()...) }

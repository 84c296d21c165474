package events

import (
	"strconv"
	"testing"
)

// benchStore holds n events with distinct ts on n/4 keys.
func benchStore(b *testing.B, n int) *Store {
	s, _ := newStore(b, Config{})
	for i := range n {
		mustCall(b, s, add("user:"+strconv.Itoa(i%(n/4)), int64(i+1), "event text number "+strconv.Itoa(i)))
	}
	return s
}

func benchCall(b *testing.B, s *Store, req []byte) {
	var call func(args, dst []byte) ([]byte, error)
	for _, f := range s.Funcs() {
		if f.Tag == uint32(req[0])|uint32(req[1])<<8|uint32(req[2])<<16|uint32(req[3])<<24 {
			call = f.Call
		}
	}
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := call(req[4:], dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearch: the 10 newest matches among 10,000 events (a full
// scan with a bounded heap).
func BenchmarkSearch(b *testing.B) { benchCall(b, benchStore(b, 10_000), search("number 1", 10)) }

// BenchmarkCount: a full scan counting matches.
func BenchmarkCount(b *testing.B) { benchCall(b, benchStore(b, 10_000), byQuery(TagCount, "number 1")) }

// BenchmarkList: one key's events (single shard).
func BenchmarkList(b *testing.B) { benchCall(b, benchStore(b, 10_000), list("user:7", 0)) }

// BenchmarkAdd: appending to existing keys (the text is copied, one
// allocation for it and one for the event).
func BenchmarkAdd(b *testing.B) {
	s, _ := newStore(b, Config{MaxEvents: 1 << 30, MaxBytes: 1 << 40})
	benchCall(b, s, add("user:42", 1, "event text"))
}

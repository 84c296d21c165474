package events

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/engines/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// TestGolden: requests and answers byte for byte, written out by hand
// from tl.md §5 (tags little-endian, strings padded to 4).
func TestGolden(t *testing.T) {
	s, _ := newStore(t, Config{})
	for _, tc := range []struct {
		name, req, want string
	}{
		{"add", "00502dfa 05757365 72310000 e803000000000000 0568656c 6c6f0000", "ba6c0722 0100000000000000"},
		{"search", "eb c1 12 54 03656c6c 0a000000",
			"15c4b51c 01000000 663cf41d 0100000000000000 e803000000000000 05757365 72310000 0568656c 6c6f0000"},
		{"count all", "4f3f478b 00000000", "da9b50a8 01000000"},
		{"textBytes", "8ac3a5db 00000000", "ba6c0722 0500000000000000"},
		{"minTs none", "da80523e 037a7a7a", "ba6c0722 ffffffffffffff7f"},
		{"maxTs none", "5248e700 037a7a7a", "ba6c0722 0000000000000080"},
		{"has", "27ad7146 01680000", "b5757299"},
		{"allMatch", "fccd52ef 01780000", "379779bc"},
		{"firstMatch", "917d1e51 03656c6c",
			"f88e9c3f 663cf41d 0100000000000000 e803000000000000 05757365 72310000 0568656c 6c6f0000"},
		{"firstMatch none", "917d1e51 037a7a7a", "7b0a9327"},
		{"delete", "7cac3dbe 05757365 72310000", "da9b50a8 01000000"},
		{"listAll after delete", "f6469d1e 00000000", "15c4b51c 00000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, e := call(t, s, enginetest.Unhex(t, tc.req))
			if e != nil {
				t.Fatal(e)
			}
			if want := enginetest.Unhex(t, tc.want); !bytes.Equal(got, want) {
				t.Fatalf("answer %x, want %x", got, want)
			}
		})
	}
	// The builders used by the other tests agree with the vectors.
	if got, want := add("user1", 1000, "hello"), enginetest.Unhex(t, "00502dfa 05757365 72310000 e803000000000000 0568656c 6c6f0000"); !bytes.Equal(got, want) {
		t.Fatalf("add builder %x", got)
	}
	if got, want := vector(ev{1, 1000, "user1", "hello"}), enginetest.Unhex(t, "15c4b51c 01000000 663cf41d 0100000000000000 e803000000000000 05757365 72310000 0568656c 6c6f0000"); !bytes.Equal(got, want) {
		t.Fatalf("vector builder %x", got)
	}
}

// step is one call and its expected answer or error.
type step struct {
	req  []byte
	want []byte
	code int32
	text string // substring of the error text
}

func runSteps(t *testing.T, s *Store, steps []step) {
	t.Helper()
	for i, st := range steps {
		got, e := call(t, s, st.req)
		switch {
		case st.code != 0:
			if e == nil || e.Code != st.code || !strings.Contains(e.Description, st.text) {
				t.Fatalf("step %d: got %x, %v; want error %d %q", i, got, e, st.code, st.text)
			}
		case e != nil:
			t.Fatalf("step %d: error %v, want %x", i, e, st.want)
		case !bytes.Equal(got, st.want):
			t.Fatalf("step %d: answer %x, want %x", i, got, st.want)
		}
	}
}

// The fixture: five events on three keys, one added with ts = 0 (now).
var (
	now = t0.UnixMilli()
	e1  = ev{1, 300, "a", "hello world"}
	e2  = ev{2, 100, "b", "hello"}
	e3  = ev{3, 200, "a", "bye"}
	e4  = ev{4, 300, "c", "world"}
	e5  = ev{5, now, "b", "now"}
)

func fixture() []step {
	return []step{
		{req: add("a", 300, "hello world"), want: long(1)},
		{req: add("b", 100, "hello"), want: long(2)},
		{req: add("a", 200, "bye"), want: long(3)},
		{req: add("c", 300, "world"), want: long(4)},
		{req: add("b", 0, "now"), want: long(5)},
	}
}

func TestFunctions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fixture bool
		steps   []step
	}{
		{"list oldest first", true, []step{{req: list("a", 0), want: vector(e3, e1)}}},
		{"list limit", true, []step{{req: list("a", 1), want: vector(e3)}}},
		{"list missing key", true, []step{{req: list("zz", 10), want: vector()}}},
		{"list ts 0 is now", true, []step{{req: list("b", 10), want: vector(e2, e5)}}},
		{"list ties by id, out-of-order ts sorted", false, []step{
			{req: add("k", 5, "x"), want: long(1)},
			{req: add("k", 1, "y"), want: long(2)},
			{req: add("k", 5, "z"), want: long(3)},
			{req: add("k", 3, ""), want: long(4)},
			{req: list("k", 0), want: vector(ev{2, 1, "k", "y"}, ev{4, 3, "k", ""}, ev{1, 5, "k", "x"}, ev{3, 5, "k", "z"})},
		}},
		{"search newest first", true, []step{{req: search("hello", 10), want: vector(e1, e2)}}},
		{"search all, ties by id descending", true, []step{{req: search("", 0), want: vector(e5, e4, e1, e3, e2)}}},
		{"search limit keeps the newest", true, []step{{req: search("", 2), want: vector(e5, e4)}}},
		{"search no match", true, []step{{req: search("zzz", 10), want: vector()}}},
		{"search limit 1000", true, []step{{req: search("o", 1000), want: vector(e5, e4, e1, e2)}}},
		{"listAll oldest first", true, []step{{req: listAll(-5), want: vector(e2, e3, e1, e4, e5)}}},
		{"listAll limit keeps the oldest", true, []step{{req: listAll(2), want: vector(e2, e3)}}},
		{"listAll empty", false, []step{{req: listAll(10), want: vector()}}},
		{"count", true, []step{
			{req: byQuery(TagCount, "hello"), want: int32v(2)},
			{req: byQuery(TagCount, ""), want: int32v(5)},
			{req: byQuery(TagCount, "zzz"), want: int32v(0)},
		}},
		{"textBytes", true, []step{
			{req: byQuery(TagTextBytes, "hello"), want: long(16)},
			{req: byQuery(TagTextBytes, ""), want: long(27)},
			{req: byQuery(TagTextBytes, "zzz"), want: long(0)},
		}},
		{"minTs and maxTs", true, []step{
			{req: byQuery(TagMinTs, "hello"), want: long(100)},
			{req: byQuery(TagMaxTs, "hello"), want: long(300)},
			{req: byQuery(TagMaxTs, ""), want: long(now)},
			{req: byQuery(TagMinTs, "zzz"), want: long(math.MaxInt64)},
			{req: byQuery(TagMaxTs, "zzz"), want: long(math.MinInt64)},
		}},
		{"minTs and maxTs empty store", false, []step{
			{req: byQuery(TagMinTs, ""), want: long(NoMinTs)},
			{req: byQuery(TagMaxTs, ""), want: long(NoMaxTs)},
		}},
		{"has", true, []step{
			{req: byQuery(TagHas, "bye"), want: boolean(true)},
			{req: byQuery(TagHas, ""), want: boolean(true)},
			{req: byQuery(TagHas, "zzz"), want: boolean(false)},
		}},
		{"has empty store", false, []step{{req: byQuery(TagHas, ""), want: boolean(false)}}},
		{"allMatch", true, []step{
			{req: byQuery(TagAllMatch, ""), want: boolean(true)},
			{req: byQuery(TagAllMatch, "o"), want: boolean(false)},
			{req: add("a", 1, "o"), want: long(6)},
			{req: del("a"), want: int32v(3)},
			{req: byQuery(TagAllMatch, "o"), want: boolean(true)},
		}},
		{"allMatch empty store is true", false, []step{{req: byQuery(TagAllMatch, "x"), want: boolean(true)}}},
		{"firstMatch oldest, ties by id", true, []step{
			{req: byQuery(TagFirstMatch, "world"), want: just(e1)},
			{req: byQuery(TagFirstMatch, ""), want: just(e2)},
			{req: byQuery(TagFirstMatch, "zzz"), want: nothing()},
		}},
		{"delete", true, []step{
			{req: del("a"), want: int32v(2)},
			{req: list("a", 0), want: vector()},
			{req: byQuery(TagCount, ""), want: int32v(3)},
			{req: del("a"), want: int32v(0)},
			{req: add("a", 7, "again"), want: long(6)},
			{req: list("a", 0), want: vector(ev{6, 7, "a", "again"})},
		}},
		{"binary key and text", false, []step{
			{req: add("\x00\xff", 9, "\x00"), want: long(1)},
			{req: byQuery(TagFirstMatch, "\x00"), want: just(ev{1, 9, "\x00\xff", "\x00"})},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t, Config{Shards: 4})
			if tc.fixture {
				runSteps(t, s, fixture())
			}
			runSteps(t, s, tc.steps)
		})
	}
}

// TestErrors: limits and malformed arguments, with their codes.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"key too long", Config{MaxKeyLen: 4}, []step{
			{req: add("abcd", 1, ""), want: long(1)},
			{req: add("abcde", 1, ""), code: rpc.CodeTooLongString, text: "key of 5 bytes, max 4"},
		}},
		{"text too long", Config{MaxTextLen: 4}, []step{
			{req: add("k", 1, "abcd"), want: long(1)},
			{req: add("k", 1, "abcde"), code: rpc.CodeTooLongString, text: "text of 5 bytes, max 4"},
		}},
		{"ts range", Config{}, []step{
			{req: add("k", -1, ""), code: rpc.CodeValueNotInRange, text: "ts -1 outside"},
			{req: add("k", math.MinInt64, ""), code: rpc.CodeValueNotInRange, text: "outside"},
			{req: add("k", math.MaxInt64, ""), code: rpc.CodeValueNotInRange, text: "outside"},
			{req: add("k", math.MaxInt64-1, ""), want: long(1)},
			{req: byQuery(TagMaxTs, ""), want: long(math.MaxInt64 - 1)},
		}},
		{"limit range", Config{}, []step{
			{req: list("k", MaxLimit+1), code: rpc.CodeValueNotInRange, text: "limit 1001 above 1000"},
			{req: search("", MaxLimit+1), code: rpc.CodeValueNotInRange, text: "limit 1001"},
			{req: listAll(math.MaxInt32), code: rpc.CodeValueNotInRange, text: "limit 2147483647"},
			{req: listAll(math.MinInt32), want: vector()},
		}},
		{"max events", Config{MaxEvents: 2}, []step{
			{req: add("a", 1, ""), want: long(1)},
			{req: add("b", 1, ""), want: long(2)},
			{req: add("c", 1, ""), code: rpc.CodeOutOfMemory, text: "2 events stored"},
			{req: del("a"), want: int32v(1)},
			{req: add("c", 1, ""), want: long(3)},
		}},
		{"max bytes", Config{MaxBytes: 2 * (eventOverhead + 2)}, []step{
			{req: add("a", 1, "x"), want: long(1)},
			{req: add("a", 1, "y"), want: long(2)},
			{req: add("a", 1, ""), code: rpc.CodeOutOfMemory, text: "65 more bytes would pass the limit of 132"},
			{req: del("a"), want: int32v(2)},
			{req: add("a", 1, "z"), want: long(3)},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t, tc.cfg)
			runSteps(t, s, tc.steps)
		})
	}
}

// validCalls has one well-formed call per function.
func validCalls() map[uint32][]byte {
	return map[uint32][]byte{
		TagAdd: add("k", 1, "hello"), TagDelete: del("k"), TagList: list("k", 1),
		TagSearch: search("q", 1), TagListAll: listAll(1),
		TagCount: byQuery(TagCount, "q"), TagTextBytes: byQuery(TagTextBytes, "q"),
		TagMinTs: byQuery(TagMinTs, "q"), TagMaxTs: byQuery(TagMaxTs, "q"),
		TagHas: byQuery(TagHas, "q"), TagAllMatch: byQuery(TagAllMatch, "q"),
		TagFirstMatch: byQuery(TagFirstMatch, "q"),
	}
}

// TestStrictArgs: every function refuses a trailing word (EXTRA_DATA), a
// missing last word (TL_ERROR_SYNTAX) and a non-canonical string.
func TestStrictArgs(t *testing.T) {
	s, _ := newStore(t, Config{})
	calls := validCalls()
	if len(calls) != len(s.Funcs()) {
		t.Fatalf("%d calls for %d functions", len(calls), len(s.Funcs()))
	}
	for _, f := range s.Funcs() {
		t.Run(f.Name, func(t *testing.T) {
			req := calls[f.Tag]
			if _, e := call(t, s, req); e != nil {
				t.Fatalf("valid call: %v", e)
			}
			if _, e := call(t, s, append(bytes.Clone(req), 0, 0, 0, 0)); e == nil || e.Code != rpc.CodeExtraData {
				t.Fatalf("trailing word: %v, want EXTRA_DATA", e)
			}
			if _, e := call(t, s, req[:len(req)-4]); e == nil || e.Code != rpc.CodeSyntax {
				t.Fatalf("truncated: %v, want TL_ERROR_SYNTAX", e)
			}
		})
	}
	// A string with non-zero padding ("q" padded with 1s).
	bad := append(tl.AppendUint32(nil, TagCount), 1, 'q', 1, 1)
	if _, e := call(t, s, bad); e == nil || e.Code != rpc.CodeSyntax {
		t.Fatalf("bad padding: %v, want TL_ERROR_SYNTAX", e)
	}
}

func TestNewConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // error substring; "" = valid
	}{
		{"defaults", Config{}, ""},
		{"negative shards", Config{Shards: -1}, "Shards -1 outside [0, 65536]"},
		{"too many shards", Config{Shards: 1<<16 + 1}, "Shards 65537"},
		{"negative max events", Config{MaxEvents: -1}, "MaxEvents -1"},
		{"key limit", Config{MaxKeyLen: MaxKeyLenLimit + 1}, "MaxKeyLen 4097 outside [0, 4096]"},
		{"text limit", Config{MaxTextLen: MaxTextLenLimit + 1}, "MaxTextLen 8193 outside [0, 8192]"},
		{"negative max bytes", Config{MaxBytes: -1}, "MaxBytes -1 is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "events: ")):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestNowFromClock: ts = 0 takes the injected clock's time, which only
// the test moves.
func TestNowFromClock(t *testing.T) {
	s, clk := newStore(t, Config{})
	mustCall(t, s, add("k", 0, "a"))
	clk.Advance(1500 * time.Millisecond)
	mustCall(t, s, add("k", 0, "b"))
	want := vector(ev{1, now, "k", "a"}, ev{2, now + 1500, "k", "b"})
	if got := mustCall(t, s, list("k", 0)); !bytes.Equal(got, want) {
		t.Fatalf("list %x, want %x", got, want)
	}
}

// TestLargestAnswer: MaxLimit events of the largest key and text answer
// within one packet (16 MiB - 1), as New's bounds promise.
func TestLargestAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("stores 12 MB")
	}
	s, _ := newStore(t, Config{MaxKeyLen: MaxKeyLenLimit, MaxTextLen: MaxTextLenLimit, MaxBytes: 64 << 20})
	key, text := strings.Repeat("k", MaxKeyLenLimit), strings.Repeat("t", MaxTextLenLimit)
	for i := range MaxLimit + 1 {
		mustCall(t, s, add(key, int64(i+1), text))
	}
	got := mustCall(t, s, search("", MaxLimit))
	if n := len(got); n >= 1<<24-1 || n < MaxLimit*(MaxKeyLenLimit+MaxTextLenLimit) {
		t.Fatalf("answer of %d bytes", n)
	}
}

func TestStats(t *testing.T) {
	s, _ := newStore(t, Config{MaxEvents: 3})
	runSteps(t, s, []step{
		{req: add("a", 1, "xy"), want: long(1)},
		{req: add("a", 2, ""), want: long(2)},
		{req: add("b", 3, "z"), want: long(3)},
		{req: add("c", 3, "z"), code: rpc.CodeOutOfMemory},
		{req: del("b"), want: int32v(1)},
	})
	got := map[string]string{}
	s.Stats(func(k, v string) { got[k] = v })
	for k, v := range map[string]string{
		"events": "2", "event_keys": "1", "event_bytes": "132", "events_last_id": "3",
		"events_refused": "1", "limit_max_events": "3", "limit_maxbytes": "268435456",
	} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if s.Len() != 2 {
		t.Fatalf("Len %d", s.Len())
	}
}

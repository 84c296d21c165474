package memcache

import (
	"bytes"
	"encoding/hex"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/engines/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// TestGolden: the byte vectors of tl.md §5.8, request and answer.
func TestGolden(t *testing.T) {
	s, _ := newStore(t, Config{})
	for _, tc := range []struct {
		name, req, want string
	}{
		{"get missing", "ae133bd3 03666f6f", "2224c432"},
		{"set", "c454ebee 03666f6f 00000000 00000000 03626172", "b5757299"},
		{"get hit flags 0", "ae133bd3 03666f6f", "1abbbea6 03626172 00000000"},
		{"set flags 1", "c454ebee 03666f6f 01000000 00000000 03626172", "b5757299"},
		{"get hit flags 1", "ae133bd3 03666f6f", "1abbbea6 03626172 01000000"},
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
	if got := hex.EncodeToString(set("foo", 0, 0, "bar")); got != "c454ebee03666f6f000000000000000003626172" {
		t.Fatalf("set builder %s", got)
	}
	if got := hex.EncodeToString(strValue("bar", 1)); got != "1abbbea60362617201000000" {
		t.Fatalf("strvalue builder %s", got)
	}
}

// TestTags: the tags in funcs.go and ops.go are those the schema package
// computes from memcache.tl.
func TestTags(t *testing.T) {
	sc, err := schema.LoadWithPrelude(filepath.Join(".", "memcache.tl"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tag := range map[string]uint32{
		"memcache.get": TagGet, "memcache.set": TagSet, "memcache.add": TagAdd,
		"memcache.replace": TagReplace, "memcache.incr": TagIncr, "memcache.decr": TagDecr,
		"memcache.delete": TagDelete, "memcache.getMulti": TagGetMulti,
		"memcache.not_found": TagNotFound, "memcache.strvalue": TagStrValue, "memcache.longvalue": TagLongValue,
	} {
		c := sc.Combinator(name)
		if c == nil {
			t.Errorf("%s not in memcache.tl", name)
			continue
		}
		if c.Tag != tag {
			t.Errorf("%s: schema tag %08x, code %08x", name, c.Tag, tag)
		}
	}
	s, _ := newStore(t, Config{})
	for _, f := range s.Funcs() {
		if c := sc.Function(f.Name); c == nil || c.Tag != f.Tag {
			t.Errorf("Func %s %08x does not match the schema", f.Name, f.Tag)
		}
	}
}

// step is one call and its expected answer (or error code), after
// advancing the fake clock by advance.
type step struct {
	advance time.Duration
	req     []byte
	want    []byte
	code    int32
	text    string // substring of the error text
}

func runSteps(t *testing.T, s *Store, clk interface{ Advance(time.Duration) }, steps []step) {
	t.Helper()
	for i, st := range steps {
		clk.Advance(st.advance)
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

func TestFunctions(t *testing.T) {
	abs := int32(t0.Unix())
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"set then get", []step{
			{req: set("k", 7, 0, "v"), want: boolean(true)},
			{req: get("k"), want: strValue("v", 7)},
		}},
		{"set overwrites value and flags", []step{
			{req: set("k", 1, 0, "long value"), want: boolean(true)},
			{req: set("k", 2, 0, "x"), want: boolean(true)},
			{req: get("k"), want: strValue("x", 2)},
		}},
		{"empty value and empty key", []step{
			{req: set("", 0, 0, ""), want: boolean(true)},
			{req: get(""), want: strValue("", 0)},
		}},
		{"add on missing stores", []step{
			{req: write(TagAdd, "k", 0, 0, "a"), want: boolean(true)},
			{req: get("k"), want: strValue("a", 0)},
		}},
		{"add on existing refuses", []step{
			{req: set("k", 0, 0, "old"), want: boolean(true)},
			{req: write(TagAdd, "k", 0, 0, "new"), want: boolean(false)},
			{req: get("k"), want: strValue("old", 0)},
		}},
		{"add on expired stores", []step{
			{req: set("k", 0, 1, "old"), want: boolean(true)},
			{advance: time.Second, req: write(TagAdd, "k", 0, 0, "new"), want: boolean(true)},
			{req: get("k"), want: strValue("new", 0)},
		}},
		{"replace on missing refuses", []step{
			{req: write(TagReplace, "k", 0, 0, "x"), want: boolean(false)},
			{req: get("k"), want: notFound()},
		}},
		{"replace on existing stores", []step{
			{req: set("k", 0, 0, "old"), want: boolean(true)},
			{req: write(TagReplace, "k", 3, 0, "new"), want: boolean(true)},
			{req: get("k"), want: strValue("new", 3)},
		}},
		{"incr a numeric string", []step{
			{req: set("n", 5, 0, "41"), want: boolean(true)},
			{req: incr(TagIncr, "n", 1), want: longValue(42, 5)},
			{req: get("n"), want: longValue(42, 5)},
		}},
		{"decr below zero", []step{
			{req: set("n", 0, 0, "1"), want: boolean(true)},
			{req: incr(TagDecr, "n", 3), want: longValue(-2, 0)},
			{req: incr(TagIncr, "n", -3), want: longValue(-5, 0)},
		}},
		{"incr wraps", []step{
			{req: set("n", 0, 0, "9223372036854775807"), want: boolean(true)},
			{req: incr(TagIncr, "n", 1), want: longValue(math.MinInt64, 0)},
		}},
		{"incr negative string", []step{
			{req: set("n", 0, 0, "-9223372036854775808"), want: boolean(true)},
			{req: incr(TagIncr, "n", 0), want: longValue(math.MinInt64, 0)},
		}},
		{"incr missing", []step{
			{req: incr(TagIncr, "n", 1), want: notFound()},
			{req: incr(TagDecr, "n", 1), want: notFound()},
		}},
		{"incr non-numeric", []step{
			{req: set("n", 0, 0, "12a"), want: boolean(true)},
			{req: incr(TagIncr, "n", 1), code: rpc.CodeBadValue, text: "non-numeric value"},
			{req: get("n"), want: strValue("12a", 0)},
		}},
		{"incr out of range string", []step{
			{req: set("n", 0, 0, "9223372036854775808"), want: boolean(true)},
			{req: incr(TagIncr, "n", 1), code: rpc.CodeBadValue, text: "non-numeric"},
		}},
		{"incr empty string", []step{
			{req: set("n", 0, 0, ""), want: boolean(true)},
			{req: incr(TagIncr, "n", 1), code: rpc.CodeBadValue, text: "non-numeric"},
		}},
		{"set after incr is a string again", []step{
			{req: set("n", 0, 0, "1"), want: boolean(true)},
			{req: incr(TagIncr, "n", 1), want: longValue(2, 0)},
			{req: set("n", 0, 0, "10"), want: boolean(true)},
			{req: get("n"), want: strValue("10", 0)},
		}},
		{"delete", []step{
			{req: set("k", 0, 0, "v"), want: boolean(true)},
			{req: del("k"), want: boolean(true)},
			{req: get("k"), want: notFound()},
			{req: del("k"), want: boolean(false)},
		}},
		{"relative expiry", []step{
			{req: set("k", 0, 10, "v"), want: boolean(true)},
			{advance: 9 * time.Second, req: get("k"), want: strValue("v", 0)},
			{advance: time.Second, req: get("k"), want: notFound()},
		}},
		{"30 days is still relative", []step{
			{req: set("k", 0, 30*24*3600, "v"), want: boolean(true)},
			{advance: 30*24*time.Hour - time.Second, req: get("k"), want: strValue("v", 0)},
			{advance: time.Second, req: get("k"), want: notFound()},
		}},
		{"absolute expiry", []step{
			{req: set("k", 0, abs+100, "v"), want: boolean(true)},
			{advance: 99 * time.Second, req: get("k"), want: strValue("v", 0)},
			{advance: time.Second, req: get("k"), want: notFound()},
		}},
		{"absolute time in the past", []step{
			{req: set("k", 0, abs-1, "v"), want: boolean(true)},
			{req: get("k"), want: notFound()},
		}},
		{"negative delay is expired", []step{
			{req: set("k", 0, -1, "v"), want: boolean(true)},
			{req: get("k"), want: notFound()},
		}},
		{"zero delay never expires", []step{
			{req: set("k", 0, 0, "v"), want: boolean(true)},
			{advance: 10 * 365 * 24 * time.Hour, req: get("k"), want: strValue("v", 0)},
		}},
		{"incr keeps expiry", []step{
			{req: set("n", 0, 5, "1"), want: boolean(true)},
			{advance: 4 * time.Second, req: incr(TagIncr, "n", 1), want: longValue(2, 0)},
			{advance: time.Second, req: get("n"), want: notFound()},
		}},
		{"incr, replace and delete on expired", []step{
			{req: set("n", 0, 1, "1"), want: boolean(true)},
			{advance: time.Second, req: incr(TagIncr, "n", 1), want: notFound()},
			{req: set("n", 0, 1, "1"), want: boolean(true)},
			{advance: time.Second, req: write(TagReplace, "n", 0, 0, "x"), want: boolean(false)},
			{req: set("n", 0, 1, "1"), want: boolean(true)},
			{advance: time.Second, req: del("n"), want: boolean(false)},
		}},
		{"getMulti order, misses and kinds", []step{
			{req: set("a", 1, 0, "A"), want: boolean(true)},
			{req: set("c", 0, 0, "3"), want: boolean(true)},
			{req: incr(TagIncr, "c", 1), want: longValue(4, 0)},
			{req: getMulti("c", "missing", "a", "a"), want: vector(longValue(4, 0), notFound(), strValue("A", 1), strValue("A", 1))},
			{req: getMulti(), want: vector()},
		}},
		{"trailing bytes", []step{
			{req: append(get("k"), 0, 0, 0, 0), code: rpc.CodeExtraData},
			{req: append(set("k", 0, 0, "v"), 1, 2, 3, 4), code: rpc.CodeExtraData},
			{req: append(incr(TagIncr, "k", 1), 0, 0, 0, 0), code: rpc.CodeExtraData},
			{req: append(del("k"), 0, 0, 0, 0), code: rpc.CodeExtraData},
			{req: append(getMulti("k"), 0, 0, 0, 0), code: rpc.CodeExtraData},
		}},
		{"malformed arguments", []step{
			{req: tl.AppendUint32(nil, TagGet), code: rpc.CodeSyntax, text: "key"},
			{req: set("k", 0, 0, "v")[:12], code: rpc.CodeSyntax, text: "delay"},
			{req: append(tl.AppendUint32(nil, TagGet), 1, 'k', 1, 0), code: rpc.CodeSyntax, text: "padding"},
			{req: incr(TagIncr, "k", 1)[:10], code: rpc.CodeSyntax, text: "value"},
			{req: tl.AppendUint32(tl.AppendUint32(nil, TagGetMulti), 1000), code: rpc.CodeSyntax, text: "keys"},
			{req: append(tl.AppendUint32(tl.AppendUint32(nil, TagGetMulti), 1), 9, 0, 0, 0), code: rpc.CodeSyntax, text: "keys[0]"},
		}},
		{"limits", []step{
			{req: get(strings.Repeat("k", DefaultMaxKeyLen+1)), want: notFound()},
			{req: set(strings.Repeat("k", DefaultMaxKeyLen+1), 0, 0, "v"), code: rpc.CodeTooLongString, text: "key of"},
			{req: set("k", 0, 0, strings.Repeat("v", DefaultMaxValueLen+1)), code: rpc.CodeTooLongString, text: "value of"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, clk := newStore(t, Config{})
			runSteps(t, s, clk, tc.steps)
		})
	}
}

func TestMaxBytes(t *testing.T) {
	s, clk := newStore(t, Config{MaxBytes: 3 * (itemOverhead + 2 + 8)})
	runSteps(t, s, clk, []step{
		{req: set("k1", 0, 0, "12345678"), want: boolean(true)},
		{req: set("k2", 0, 0, "12345678"), want: boolean(true)},
		{req: set("k3", 0, 0, "12345678"), want: boolean(true)},
		{req: set("k4", 0, 0, "12345678"), code: rpc.CodeOutOfMemory, text: "store full"},
		{req: set("k1", 0, 0, "87654321"), want: boolean(true)}, // same size fits
		{req: del("k2"), want: boolean(true)},
		{req: set("k4", 0, 0, "12345678"), want: boolean(true)},
	})
	if got := s.Len(); got != 3 {
		t.Fatalf("Len %d, want 3", got)
	}
}

// TestSweep: the periodic sweep removes expired items without a read, and
// looks at no more than its budget per run.
func TestSweep(t *testing.T) {
	s, clk := newStore(t, Config{Shards: 1, SweepEvery: time.Second, SweepBudget: 10})
	for i := range 25 {
		if _, e := call(t, s, set(string(rune('a'+i)), 0, 1, "v")); e != nil {
			t.Fatal(e)
		}
	}
	if _, e := call(t, s, set("keep", 0, 0, "v")); e != nil {
		t.Fatal(e)
	}
	if s.Len() != 26 {
		t.Fatalf("Len %d", s.Len())
	}
	clk.Advance(time.Second) // one sweep: at most 10 items looked at
	if n := s.Len(); n < 16 || n > 25 {
		t.Fatalf("after one sweep Len %d, want 16..25", n)
	}
	for range 10 {
		clk.Advance(time.Second)
	}
	if n := s.Len(); n != 1 {
		t.Fatalf("after 11 sweeps Len %d, want 1", n)
	}
	var stats = map[string]string{}
	s.Stats(func(k, v string) { stats[k] = v })
	if stats["keys"] != "1" || stats["expired_total"] != "25" {
		t.Fatalf("stats %v", stats)
	}
}

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in string
		v  int64
		ok bool
	}{
		{"0", 0, true}, {"42", 42, true}, {"-42", -42, true}, {"007", 7, true},
		{"9223372036854775807", math.MaxInt64, true}, {"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false},
		{"", 0, false}, {"-", 0, false}, {" 1", 0, false}, {"1 ", 0, false}, {"+1", 0, false},
		{"1.5", 0, false}, {"99999999999999999999", 0, false},
	} {
		v, ok := parseInt([]byte(tc.in))
		if v != tc.v || ok != tc.ok {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tc.in, v, ok, tc.v, tc.ok)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative shards", Config{Shards: -1}, "Shards"},
		{"too many shards", Config{Shards: 1 << 17}, "Shards"},
		{"negative max bytes", Config{MaxBytes: -1}, "MaxBytes"},
		{"negative sweep", Config{SweepEvery: -1}, "SweepEvery"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "memcache: ") {
				t.Fatalf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

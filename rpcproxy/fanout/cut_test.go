package fanout

import (
	"fmt"
	"testing"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
	"github.com/rpcproxy/rpcproxy/tl/walk"
)

// cutSrc has split functions of every shape Split cuts itself (a vector
// argument, with arguments before and after it) and one it leaves to
// walk.SplitBy (an n*[...] array).
const cutSrc = `
memcache.not_found = memcache.Value;
memcache.strvalue value:string flags:int = memcache.Value;
---functions---
memcache.getMulti keys:%(Vector string) = Vector memcache.Value;
test.around pre:int ids:(Vector Long) post:string = Vector memcache.Value;
test.array n:# ids:n*[int] = Vector memcache.Value;
`

// splitOutcome is everything Split says about a call.
func splitOutcome(f *Fanout, rule *Rule, call []byte) string {
	p, err := f.Split(rule, call, placer4, 4)
	if err != nil {
		return "error: " + err.Error()
	}
	defer f.Release(p)
	return fmt.Sprintf("shards %v keys %v subs %x", p.ShardOf, p.Keys, p.Subs)
}

// TestSplitCutMatchesSplitBy: the sub-calls Split cuts from the key
// ranges it recorded are the ones walk.SplitBy makes, and errors are the
// same, on valid, truncated and corrupted calls.
func TestSplitCutMatchesSplitBy(t *testing.T) {
	f, err := schema.Parse("cut.tl", []byte(cutSrc))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := schema.Resolve(schema.Prelude(), f)
	if err != nil {
		t.Fatal(err)
	}
	fo := New(walk.New(sc))
	long := func(v int64) []byte { return tl.AppendInt64(tl.AppendUint32(nil, 0x22076cba), v) }
	around := tl.AppendUint32(tl.AppendInt32(tl.AppendUint32(nil, sc.Function("test.around").Tag), 7), tl.TagVector)
	around = tl.AppendUint32(around, 3)
	for _, v := range []int64{4, 5, 6} {
		around = append(around, long(v)...)
	}
	around = tl.AppendString(around, "post")
	array := tl.AppendUint32(tl.AppendUint32(nil, sc.Function("test.array").Tag), 3)
	for _, v := range []int32{1, 2, 3} {
		array = tl.AppendInt32(array, v)
	}
	tests := []struct {
		name, fn, arg string
		call          []byte
		direct        bool // Split cuts the sub-calls itself
	}{
		{"getMulti", "memcache.getMulti", "keys", getMulti("a", "b", "c", "d", "e", "f", "g", "h", "a"), true},
		{"getMulti no keys", "memcache.getMulti", "keys", getMulti(), true},
		{"arguments around the vector", "test.around", "ids", around, true},
		{"n*[int] array: SplitBy", "test.array", "ids", array, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rule, err := Compile(sc.Function(tc.fn), configs.FunctionRule{Name: tc.fn, OnError: configs.OnErrorFail}, tc.arg)
			if err != nil {
				t.Fatal(err)
			}
			if rule.direct != tc.direct {
				t.Fatalf("direct = %v", rule.direct)
			}
			viaWalk := *rule
			viaWalk.direct = false
			if out := splitOutcome(fo, rule, tc.call); len(out) > 6 && out[:6] == "error:" {
				t.Fatalf("valid call refused: %s", out)
			}
			calls := [][]byte{tc.call, append(tc.call[:len(tc.call):len(tc.call)], 0, 0, 0, 0)}
			for k := range len(tc.call) {
				calls = append(calls, tc.call[:k])
				for _, v := range []byte{0, 1, 0xfe, 0xff} {
					m := append([]byte(nil), tc.call...)
					m[k] = v
					calls = append(calls, m)
				}
			}
			for _, call := range calls {
				if got, want := splitOutcome(fo, rule, call), splitOutcome(fo, &viaWalk, call); got != want {
					t.Fatalf("call %x:\ncut:     %s\nSplitBy: %s", call, got, want)
				}
			}
		})
	}
}

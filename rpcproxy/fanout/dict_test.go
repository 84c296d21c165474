package fanout

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/schema"
	"github.com/rpcproxy/rpcproxy/tl/walk"
)

// TestSplitDictionary: a dictionary-aligned split joins the entries of the
// shards that answered (a failed shard's keys are simply absent in
// partial mode) under one dictionary tag and the summed count.
func TestSplitDictionary(t *testing.T) {
	sc, err := schema.LoadWithPrelude(filepath.Join("testdata", "dict.tl"))
	if err != nil {
		t.Fatal(err)
	}
	f := New(walk.New(sc))
	fn := sc.Function("test.counts")
	call := tl.AppendUint32(tl.AppendUint32(nil, fn.Tag), 3)
	for _, k := range []string{"a", "b", "g"} {
		call = tl.AppendString(call, k)
	}
	entry := func(k string, v int32) []byte { return tl.AppendInt32(tl.AppendString(nil, k), v) }
	dict := func(entries ...[]byte) []byte {
		b := tl.AppendUint32(tl.AppendUint32(nil, tl.TagDictionary), uint32(len(entries)))
		for _, e := range entries {
			b = append(b, e...)
		}
		return b
	}
	tests := []struct {
		name       string
		onError    string
		down       int // shard failing, -1 none
		want       []byte
		wantCode   int32
		wantFailed int
	}{
		{"all answered", "fail", -1, dict(entry("a", 1), entry("b", 2), entry("g", 3)), 0, 0},
		{"partial: shard 1 down", "partial", 1, dict(entry("a", 1), entry("g", 3)), 0, 1},
		{"fail: shard 1 down", "fail", 1, nil, rpc.CodeNoConnections, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rule, err := Compile(fn, configs.FunctionRule{Name: fn.Name, Align: "dictionary", OnError: tc.onError}, "keys")
			if err != nil {
				t.Fatal(err)
			}
			p, err := f.Split(rule, call, placer4, 4)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Release(p)
			// placer4: a -> 0, b -> 1, g -> 3; shard 2 is not asked.
			answers := map[int][]byte{0: dict(entry("a", 1)), 1: dict(entry("b", 2)), 3: dict(entry("g", 3))}
			for s := range 4 {
				if p.Asked(s) != (answers[s] != nil) {
					t.Fatalf("shard %d asked %v", s, p.Asked(s))
				}
				switch {
				case s == tc.down:
					p.Answers[s] = Answer{Status: Failed, Err: &rpc.Error{Code: rpc.CodeNoConnections}}
				case p.Asked(s):
					p.Answers[s] = Answer{Status: OK, Body: answers[s]}
				}
			}
			got, failed, merr := f.MergeSplit(nil, rule, p)
			if failed != tc.wantFailed {
				t.Errorf("failed %d, want %d", failed, tc.wantFailed)
			}
			if tc.wantCode != 0 {
				if merr == nil || merr.Code != tc.wantCode {
					t.Fatalf("err %v, want %d", merr, tc.wantCode)
				}
				return
			}
			if merr != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %x %v\nwant %x", got, merr, tc.want)
			}
		})
	}
}

package walk_test

import (
	"encoding/binary"
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
	"github.com/rpcproxy/rpcproxy/tl/walk"
)

// Example merges fan-out answers by byte ranges: the Vector answers of two
// getMulti sub-calls are concatenated without re-encoding an element, and
// two Int answers are summed.
func Example() {
	f, err := schema.Parse("example.tl", []byte(`
memcache.not_found = memcache.Value;
memcache.strvalue value:string flags:int = memcache.Value;
---functions---
memcache.getMulti keys:%(Vector string) = Vector memcache.Value;
memcache.count prefix:string = Int;
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := schema.Resolve(schema.Prelude(), f)
	if err != nil {
		fmt.Println(err)
		return
	}
	w := walk.New(s)

	// Split a three-key call into the shards' sub-calls.
	getMulti := s.Function("memcache.getMulti").Tag
	call := tl.AppendUint32(nil, getMulti)
	call = tl.AppendUint32(call, 3)
	for _, k := range []string{"a", "b", "c"} {
		call = tl.AppendString(call, k)
	}
	sub0, _ := w.Split(nil, call, "keys", []int{0, 2})
	sub1, _ := w.Split(nil, call, "keys", []int{1})

	// The shards answer in sub-call order.
	strvalue := s.Constructor("memcache.strvalue").Tag
	notFound := s.Constructor("memcache.not_found").Tag
	ans0 := tl.AppendUint32(nil, tl.TagVector)
	ans0 = tl.AppendUint32(ans0, 2)
	ans0 = tl.AppendUint32(ans0, strvalue)
	ans0 = tl.AppendString(ans0, "A")
	ans0 = tl.AppendInt32(ans0, 0)
	ans0 = tl.AppendUint32(ans0, notFound)
	ans1 := tl.AppendUint32(nil, tl.TagVector)
	ans1 = tl.AppendUint32(ans1, 1)
	ans1 = tl.AppendUint32(ans1, strvalue)
	ans1 = tl.AppendString(ans1, "B")
	ans1 = tl.AppendInt32(ans1, 0)

	// Concatenate: one tag, the summed count, then element bytes as they
	// came (a real merge would restore key order from the index sets).
	merged := tl.AppendUint32(nil, tl.TagVector)
	merged = tl.AppendUint32(merged, 0)
	n := 0
	for _, part := range []struct{ call, resp []byte }{{sub0, ans0}, {sub1, ans1}} {
		it, err := w.ResultElems(part.call, part.resp)
		if err != nil {
			fmt.Println(err)
			return
		}
		for it.Next() {
			merged = append(merged, it.Bytes()...)
			n++
		}
	}
	binary.LittleEndian.PutUint32(merged[4:], uint32(n))
	fmt.Println("merged answer valid:", w.CheckResult(call, merged) == nil, "elements:", n)

	// Sum two Int answers of memcache.count.
	count := tl.AppendString(tl.AppendUint32(nil, s.Function("memcache.count").Tag), "user")
	var sum int64
	for _, v := range []int32{40, 2} {
		ans := tl.AppendInt32(tl.AppendUint32(nil, tl.TagInt), v)
		val, err := w.ResultValue(count, ans)
		if err != nil {
			fmt.Println(err)
			return
		}
		sum += val.Int
	}
	fmt.Println("sum:", sum)
	// Output:
	// merged answer valid: true elements: 3
	// sum: 42
}

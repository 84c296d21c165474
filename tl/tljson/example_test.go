package tljson_test

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl/schema"
	"github.com/rpcproxy/rpcproxy/tl/tljson"
)

// Example encodes a memcache.get call from JSON, decodes it back, and
// decodes the answer with the request bound.
func Example() {
	f, err := schema.Parse("memcache.tl", []byte(`
memcache.not_found = memcache.Value;
memcache.strvalue value:string flags:int = memcache.Value;
---functions---
@read memcache.get key:string = memcache.Value;
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
	c := tljson.New(s)
	fn, _ := c.Function("memcache.get")
	call, err := c.EncodeCall(nil, fn, []byte(`{"key":"foo"}`))
	fmt.Printf("%x %v\n", call, err)
	js, err := c.DecodeCall(call)
	fmt.Println(string(js), err)
	answer := []byte{0x1a, 0xbb, 0xbe, 0xa6, 3, 'b', 'a', 'r', 1, 0, 0, 0}
	js, err = c.DecodeResult(fn, call, answer)
	fmt.Println(string(js), err)
	_, err = c.EncodeCall(nil, fn, []byte(`{"key":7}`))
	fmt.Println(err)
	// Output:
	// ae133bd303666f6f <nil>
	// {"_":"memcache.get","key":"foo"} <nil>
	// {"_":"memcache.strvalue","value":"bar","flags":1} <nil>
	// tljson: $.key: want a string or {"base64":"..."}, got number 7
}

package schema_test

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// Example resolves a small engine schema against the prelude and walks one
// function's request and result the way a schema-driven walker would.
func Example() {
	src := []byte(`
memcache.not_found#32c42422 = memcache.Value;
memcache.strvalue#a6bebb1a value:string flags:int = memcache.Value;
---functions---
@read memcache.get key:string = memcache.Value;
@read memcache.getMulti keys:%(Vector string) = Vector memcache.Value;
`)
	f, err := schema.Parse("memcache.tl", src)
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := schema.Resolve(schema.Prelude(), f)
	if err != nil {
		fmt.Println(err)
		return
	}
	get := s.ByTag(0xd33b13ae)
	fmt.Printf("%s %08x read=%v\n", get.Name, get.Tag, get.Flags&schema.AnnotRead != 0)
	fmt.Println("key is a bare string:", get.Fields[0].Type.Kind == schema.RefCtor && get.Fields[0].Type.Prim == schema.PrimString)
	for _, c := range get.Result.Type.Constructors {
		fmt.Printf("  result %s %08x, %d fields\n", c.Name, c.Tag, len(c.Fields))
	}
	keys := s.Function("memcache.getMulti").Fields[0].Type
	vec := keys.Ctor // %(Vector string) is the bare vector constructor
	fmt.Println("keys:", vec.Name, "count field then array of", keys.Args[0].Type.Ctor.Name)
	// Output:
	// memcache.get d33b13ae read=true
	// key is a bare string: true
	//   result memcache.not_found 32c42422, 0 fields
	//   result memcache.strvalue a6bebb1a, 2 fields
	// keys: vector count field then array of string
}

package route

import (
	"fmt"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

const shadowConfig = `
[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "ketama"
shards = [{ replicas = ["10.0.1.1:1"] }, { replicas = ["10.0.1.2:1"] }]
[cluster.shadow]
cluster = "next"
share = 0.25
functions = ["memcache.get*"]

[[cluster]]
name = "next"
actor_id = 9
sharding = "hash"
shards = [{ replicas = ["10.0.2.1:1"] }, { replicas = ["10.0.2.2:1"] }, { replicas = ["10.0.2.3:1"] }]
`

// TestShadowShard: a quarter of the keys (by hash, so a key is always in
// or always out) of the functions named are copied, to the shard the
// shadow cluster's own placement gives the key; other functions and
// requests without a key never are.
func TestShadowShard(t *testing.T) {
	tab, err := buildFanoutTable(t, shadowConfig)
	if err != nil {
		t.Fatal(err)
	}
	mc, next := tab.cluster("mc"), tab.cluster("next")
	if mc.Shadow == nil || mc.Shadow.To != next || next.Shadow != nil {
		t.Fatalf("shadows: mc %+v, next %+v", mc.Shadow, next.Shadow)
	}
	tag := func(name string) uint32 { return tab.schema.Function(name).Tag }
	get := mc.Function(&rpc.InvokeReq{Body: tl.AppendUint32(nil, tag("memcache.get"))})
	set := mc.Function(&rpc.InvokeReq{Body: tl.AppendUint32(nil, tag("memcache.set"))})
	copied := 0
	const keys = 2000
	for i := range keys {
		k := Key{Kind: KeyString, Str: fmt.Appendf(nil, "key:%d", i)}
		to, s := mc.ShadowShard(get, k)
		again, s2 := mc.ShadowShard(get, k)
		if to != again || s != s2 {
			t.Fatalf("key %s: copied to %v shard %d, then %v shard %d", k.Str, to, s, again, s2)
		}
		if to == nil {
			continue
		}
		copied++
		if want, _ := next.Picker.Pick(k.Str); s != want {
			t.Fatalf("key %s copied to shard %d, the shadow places it on %d", k.Str, s, want)
		}
		if to, _ := mc.ShadowShard(set, k); to != nil {
			t.Fatalf("memcache.set is not among the functions copied, yet key %s was", k.Str)
		}
	}
	if copied < keys/4-keys/20 || copied > keys/4+keys/20 {
		t.Fatalf("%d of %d keys copied, want about a quarter", copied, keys)
	}
	ints := 0
	for i := range int64(keys) {
		if to, s := mc.ShadowShard(get, Key{Kind: KeyInt, Int: i}); to != nil {
			ints++
			if s != next.Picker.PickInt(i) {
				t.Fatalf("int key %d on shadow shard %d, want %d", i, s, next.Picker.PickInt(i))
			}
		}
	}
	if ints < keys/4-keys/20 || ints > keys/4+keys/20 {
		t.Fatalf("%d of %d int keys copied, want about a quarter", ints, keys)
	}
	if to, _ := mc.ShadowShard(get, Key{}); to != nil {
		t.Fatal("a request without a key was copied")
	}
}

// TestShadowAll: share = 1 with no functions copies every keyed request.
func TestShadowAll(t *testing.T) {
	tab, err := buildFanoutTable(t, `
[[cluster]]
name = "mc"
functions = ["memcache.*"]
shards = [{ replicas = ["10.0.1.1:1"] }]
[cluster.shadow]
cluster = "next"
[[cluster]]
name = "next"
actor_id = 9
shards = [{ replicas = ["10.0.2.1:1"] }]
`)
	if err != nil {
		t.Fatal(err)
	}
	mc := tab.cluster("mc")
	req := mc.Function(&rpc.InvokeReq{Body: tl.AppendUint32(nil, tab.schema.Function("memcache.delete").Tag)})
	for i := range 500 {
		if to, _ := mc.ShadowShard(req, Key{Kind: KeyString, Str: fmt.Appendf(nil, "k%d", i)}); to == nil {
			t.Fatalf("key k%d not copied with share 1", i)
		}
	}
}

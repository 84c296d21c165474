package route

import (
	"sync"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// TestClusterFunction: a cluster's Functions are made on first use, one
// per function however many goroutines ask at once, each with its
// counters, and a tag the schemas lack gets none (nor a map entry).
func TestClusterFunction(t *testing.T) {
	tab, err := buildFanoutTable(t, shadowConfig)
	if err != nil {
		t.Fatal(err)
	}
	mc := tab.cluster("mc")
	names := []string{"memcache.get", "memcache.set", "memcache.delete", "memcache.getMulti"}
	got := make([][]*Function, 8)
	var wg sync.WaitGroup
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, n := range names {
				got[g] = append(got[g], mc.Function(&rpc.InvokeReq{Body: tl.AppendUint32(nil, tab.schema.Function(n).Tag)}))
			}
		}()
	}
	wg.Wait()
	for i, n := range names {
		f := got[0][i]
		if f == nil || f.Stats.Cluster != "mc" || f.Stats.Name != n {
			t.Fatalf("%s: %+v", n, f)
		}
		for g := range got {
			if got[g][i] != f {
				t.Fatalf("%s: goroutine %d got other counters", n, g)
			}
		}
	}
	if f := mc.Function(&rpc.InvokeReq{Body: tl.AppendUint32(nil, 0xdeadbeef)}); f != nil {
		t.Fatalf("an unknown tag got counters %+v", f)
	}
	if m := mc.made.Load(); len(*m) != len(names) {
		t.Fatalf("%d functions cached, want %d", len(*m), len(names))
	}
}

package integration

import (
	"fmt"
	"syscall"
	"testing"
)

// TestShadowCopiesSets: cluster mc copies every memcache.set to cluster
// next (its own engines, its own sharding). Each value set through the
// proxy lands on mc's engines, and, a moment later, on next's, where the
// proxy finds it by actor id. With one of next's engines killed, every set
// still succeeds; the copies for the dead engine are counted as failed.
func TestShadowCopiesSets(t *testing.T) {
	mc := startEngines(t, "memcache", 2)
	next := startEngines(t, "memcache", 2)
	p := startProxy(t, newConfig(t,
		cluster{name: "mc", functions: []string{"memcache.*"}, engines: mc,
			extra: "[cluster.shadow]\ncluster = \"next\"\nfunctions = [\"memcache.set\"]\n"},
		cluster{name: "next", actor: 7, engines: next},
	))
	a := newApp(t)
	const keys = 40
	for i := range keys {
		a.set(t, p.addr, fmt.Sprintf("sh:%d", i), fmt.Sprintf("v%d", i), callOpts{})
	}
	for i := range keys {
		k, want := fmt.Sprintf("sh:%d", i), fmt.Sprintf("v%d", i)
		holder(t, a, mc, k)
		waitFor(t, "the copy of "+k+" on the shadow cluster", func() bool {
			got, ok, err := a.get(p.addr, k, callOpts{actor: 7})
			return err == nil && ok && got == want
		})
	}
	if st := p.stats(t).Clusters[0]; st.Name != "mc" || st.Shadowed != keys || st.ShadowBad != 0 {
		t.Fatalf("/stats for mc: shadow sent %d, failed %d; want %d and 0", st.Shadowed, st.ShadowBad, keys)
	}

	next[0].signal(syscall.SIGKILL)
	<-next[0].done
	for i := range keys {
		a.set(t, p.addr, fmt.Sprintf("after:%d", i), "x", callOpts{}) // fails the test on any error
	}
	waitFor(t, "copies to the killed shadow engine to count as failed", func() bool {
		return p.stats(t).Clusters[0].ShadowBad > 0
	})
}

package integration

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// workers is the part every load of these tests shares: goroutines that
// stop on finish, a count of what they did under mu, and progress, which
// receives after every count (non-blocking), so a test can wait for "some
// requests after this point" without sleeping. The load's own results
// are guarded by mu too (tick).
type workers struct {
	stop     chan struct{}
	progress chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	done     int
}

func newWorkers() workers {
	return workers{stop: make(chan struct{}), progress: make(chan struct{}, 1)}
}

// stopped reports whether finish was called.
func (w *workers) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// tick counts one more done, running note (the load's own bookkeeping)
// under mu, and signals progress.
func (w *workers) tick(note func()) {
	w.mu.Lock()
	w.done++
	note()
	w.mu.Unlock()
	select {
	case w.progress <- struct{}{}:
	default:
	}
}

// await waits until the load has done k more, failing the test if its
// workers all ended first.
func (w *workers) await(t *testing.T, k int) {
	t.Helper()
	w.mu.Lock()
	target := w.done + k
	w.mu.Unlock()
	ended := make(chan struct{})
	go func() { w.wg.Wait(); close(ended) }()
	for {
		w.mu.Lock()
		d := w.done
		w.mu.Unlock()
		if d >= target {
			return
		}
		select {
		case <-w.progress:
		case <-ended:
			t.Fatalf("the load ended after %d, before %d", d, target)
		}
	}
}

// finish stops the workers and waits for them.
func (w *workers) finish() {
	if !w.stopped() {
		close(w.stop)
	}
	w.wg.Wait()
}

// load runs set+get pairs through the proxy from several goroutines until
// stopped or n pairs each, and keeps every failure.
type load struct {
	workers
	errs []string
}

func startLoad(t *testing.T, a *app, addr string, workers, n int) *load {
	t.Helper()
	l := &load{workers: newWorkers()}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := range n {
				if l.stopped() {
					return
				}
				key := fmt.Sprintf("load:%d:%d", w, i%100)
				val := fmt.Sprint(i)
				err := error(nil)
				if got, e := a.call(addr, mcSet(key, val), callOpts{}); e != nil || len(got) != 4 {
					err = fmt.Errorf("set %q: %x %v", key, got, e)
				} else if v, ok, e := a.get(addr, key, callOpts{}); e != nil || !ok || v != val {
					err = fmt.Errorf("get %q: %q %v %v", key, v, ok, e)
				}
				l.tick(func() {
					if err != nil {
						l.errs = append(l.errs, err.Error())
					}
				})
			}
		}()
	}
	t.Cleanup(l.finish)
	return l
}

func (l *load) check(t *testing.T) {
	t.Helper()
	l.finish()
	if len(l.errs) > 0 {
		t.Fatalf("load: %d of %d set+get pairs failed; first: %v", len(l.errs), l.done, l.errs[:min(3, len(l.errs))])
	}
	t.Logf("load: %d set+get pairs, none failed", l.done)
}

// TestReloadUnderLoad: SIGHUP with a config that adds a cluster (with its
// own listener) while a concurrent load runs: the new cluster answers, and
// not one request of the load fails.
func TestReloadUnderLoad(t *testing.T) {
	mc := startEngines(t, "memcache", 2)
	added := startEngines(t, "memcache", 1)
	c := newConfig(t, cluster{name: "mc", functions: []string{"memcache.*"}, engines: mc})
	p := startProxy(t, c)
	a := newApp(t)
	l := startLoad(t, a, p.addr, 4, 5000)
	l.await(t, 50)

	c.clusters = append(c.clusters, cluster{name: "added", actor: 9, listen: freeAddr(t), engines: added})
	p.reload(t, c)
	waitFor(t, "the reload to be applied (/stats reloads = 1)", func() bool {
		st := p.stats(t)
		if st.ReloadErrors != 0 {
			t.Fatalf("reload refused:\n%s", p.stderr.String())
		}
		return st.Reloads == 1
	})
	a.set(t, p.addr, "via-actor", "1", callOpts{actor: 9})
	a.set(t, c.clusters[1].listen, "via-port", "2", callOpts{})
	for _, k := range []string{"via-actor", "via-port"} {
		if _, ok := a.mustGet(t, added[0].addr, k); !ok {
			t.Fatalf("%q is not on the added cluster's engine", k)
		}
	}
	l.await(t, 50)
	l.check(t)
}

// TestBadReload: a config with problems is refused on SIGHUP; the proxy
// logs each problem, counts the refusal, and keeps serving the old config.
func TestBadReload(t *testing.T) {
	mc := startEngines(t, "memcache", 2)
	c := newConfig(t, cluster{name: "mc", functions: []string{"memcache.*"}, engines: mc})
	p := startProxy(t, c)
	a := newApp(t)
	a.set(t, p.addr, "before", "1", callOpts{})
	want := holder(t, a, mc, "before")

	bad := c
	bad.raw = `
[[cluster]]
name = "broken"
functions = ["memcache.get"]   # overlaps memcache.* of cluster mc
shards = [ { replicas = ["127.0.0.1:1"] } ]
no_such_key = true
`
	l := startLoad(t, a, p.addr, 2, 5000)
	p.reload(t, bad)
	waitFor(t, "the reload to be refused (/stats reload_errors = 1)", func() bool {
		return p.stats(t).ReloadErrors == 1
	})
	log := p.stderr.String()
	for _, s := range []string{"config reload refused", "no_such_key", "memcache.get"} {
		if !strings.Contains(log, s) {
			t.Errorf("the proxy log does not mention %q:\n%s", s, tail(log, 20))
		}
	}
	if st := p.stats(t); st.Reloads != 0 || len(st.Clusters) != 1 || st.Clusters[0].Name != "mc" {
		t.Fatalf("after a refused reload: reloads %d, clusters %+v", st.Reloads, st.Clusters)
	}
	l.await(t, 50)
	l.check(t)
	if got, ok := a.mustGet(t, p.addr, "before"); !ok || got != "1" {
		t.Fatalf("the old config's key after a refused reload: %q %v", got, ok)
	}
	a.set(t, p.addr, "after", "2", callOpts{})
	holder(t, a, mc, "after")
	if got := holder(t, a, mc, "before"); got != want {
		t.Fatalf("key moved from engine %d to %d", want, got)
	}
}

package integration

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// faultHealth makes a cluster fail fast quickly: 300ms timeout, down
// after 2 timeouts in a row, probed every 200-400ms.
const faultHealth = `
[cluster.health]
consecutive_timeouts = 2
probe_interval = "200ms"
probe_max_interval = "400ms"
`

const faultTimeoutMs = 300

// margin is how late "within its deadline" may be: generous, because the
// machine is shared and the assertion must not flake.
const margin = 5 * time.Second

// faultSetup starts 4 memcache engines behind a proxy with faultHealth and
// stores one key per shard; keys[i] lives on mc[i].
func faultSetup(t *testing.T) (*proxy, []*engine, []string, *app) {
	t.Helper()
	mc := startEngines(t, "memcache", 4)
	p := startProxy(t, newConfig(t, cluster{name: "mc", functions: []string{"memcache.*"}, engines: mc, timeout: "300ms", extra: faultHealth}))
	keys := keyPerShard(t, p, "mc", len(mc))
	a := newApp(t)
	for _, k := range keys {
		a.set(t, p.addr, k, "v:"+k, callOpts{})
	}
	return p, mc, keys, a
}

// keyPerShard returns keys[i] placed on shard i, from one `rpcproxy route`.
func keyPerShard(t *testing.T, p *proxy, cluster string, shards int) []string {
	t.Helper()
	args := []string{"route", "-config", p.config, "-cluster", cluster, "--"}
	for i := range 200 {
		args = append(args, fmt.Sprintf("key:%d", i))
	}
	out, err := exec.Command(bins.proxy, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("rpcproxy route: %v\n%s", err, out)
	}
	keys := make([]string, shards)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var key string
		var idx int
		if _, err := fmt.Sscanf(line, "%s\t%d", &key, &idx); err != nil || idx < 0 || idx >= shards {
			t.Fatalf("rpcproxy route line %q: %v", line, err)
		}
		if keys[idx] == "" {
			keys[idx] = key
		}
	}
	for i, k := range keys {
		if k == "" {
			t.Fatalf("no key of 200 on shard %d", i)
		}
	}
	return keys
}

// background runs gets of the given keys (each on a healthy shard)
// through the proxy until stop is closed or n requests are done, and
// reports how many it made and every failure.
type background struct {
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	done int
	errs []string
}

func startBackground(t *testing.T, a *app, addr string, keys []string, n int) *background {
	t.Helper()
	b := &background{stop: make(chan struct{})}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for i := range n {
			select {
			case <-b.stop:
				return
			default:
			}
			k := keys[i%len(keys)]
			v, ok, err := a.get(addr, k, callOpts{})
			b.mu.Lock()
			b.done++
			if err != nil || !ok || v != "v:"+k {
				b.errs = append(b.errs, fmt.Sprintf("get %q: %q %v %v", k, v, ok, err))
			}
			b.mu.Unlock()
		}
	}()
	t.Cleanup(b.finish)
	return b
}

// finish stops the load and returns the requests made and the failures.
func (b *background) finish() {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	b.wg.Wait()
}

func (b *background) check(t *testing.T) {
	t.Helper()
	b.finish()
	if len(b.errs) > 0 || b.done == 0 {
		t.Fatalf("background gets on healthy shards: %d done, %d failed, first: %v", b.done, len(b.errs), b.errs)
	}
	t.Logf("background gets on healthy shards: %d, all answered", b.done)
}

// TestKilledEngine: after SIGKILL every request for the dead engine's
// shard fails at once with NO_CONNECTIONS; the other shards keep serving.
func TestKilledEngine(t *testing.T) {
	p, mc, keys, a := faultSetup(t)
	const v = 1
	bg := startBackground(t, a, p.addr, others(keys, v), 20000)
	mc[v].signal(syscall.SIGKILL)
	<-mc[v].done
	codes := map[int32]int{}
	for range 20 {
		start := time.Now()
		_, _, err := a.get(p.addr, keys[v], callOpts{timeoutMs: faultTimeoutMs})
		if err == nil {
			t.Fatalf("get %q on the killed engine's shard answered", keys[v])
		}
		if el := time.Since(start); el > faultTimeoutMs*time.Millisecond+margin {
			t.Fatalf("get on the killed shard failed after %v: %v", el, err)
		}
		codes[codeOf(err)]++
	}
	// Requests sent before the proxy saw the connection drop may fail
	// otherwise; once it has, it is NO_CONNECTIONS every time.
	if codes[codeNoConnections] < 15 {
		t.Fatalf("errors for the killed shard by code: %v; want NO_CONNECTIONS (%d) for nearly all", codes, codeNoConnections)
	}
	bg.check(t)
}

// TestStoppedEngine: a hung engine (SIGSTOP) costs its shard's requests
// their deadline (QUERY_TIMEOUT) until consecutive_timeouts mark it down;
// then they fail at once with NO_CONNECTIONS, while the other shards keep
// answering. After SIGCONT traffic returns within a few probe intervals.
func TestStoppedEngine(t *testing.T) {
	p, mc, keys, a := faultSetup(t)
	const v = 2
	bg := startBackground(t, a, p.addr, others(keys, v), 20000)
	mc[v].stop(t)

	timeouts := 0
	for i := 0; ; i++ {
		if i == 10 {
			t.Fatalf("after %d requests (%d timeouts) the hung engine is still not down", i, timeouts)
		}
		start := time.Now()
		_, _, err := a.get(p.addr, keys[v], callOpts{timeoutMs: faultTimeoutMs})
		if el := time.Since(start); el > faultTimeoutMs*time.Millisecond+margin {
			t.Fatalf("get %d on the hung shard took %v (deadline %dms): %v", i, el, faultTimeoutMs, err)
		}
		c := codeOf(err)
		if c == codeNoConnections {
			break
		}
		if c != codeQueryTimeout {
			t.Fatalf("get %d on the hung shard: %v, want QUERY_TIMEOUT then NO_CONNECTIONS", i, err)
		}
		timeouts++
	}
	if timeouts == 0 || timeouts > 2 {
		t.Fatalf("%d timeouts before the engine was marked down; consecutive_timeouts is 2", timeouts)
	}
	if st := p.stats(t).Clusters[0].Shards[v].Engines[0]; st.State != "down" || st.Timeouts < uint64(timeouts) {
		t.Fatalf("/stats for the hung engine: %+v, want state down and %d timeouts", st, timeouts)
	}
	// The timed-out gets waited 300 ms, over the default slow_request
	// (100 ms): /slow names them, their shard, engine and error.
	hung := 0
	for _, r := range p.slow(t) {
		// Only the timeouts: on a loaded machine the set of faultSetup
		// may have been slow too.
		if r.Engine != mc[v].addr || !strings.Contains(r.Error, "QUERY_TIMEOUT") {
			continue
		}
		hung++
		if r.Cluster != "mc" || r.Shard != v || !strings.Contains(r.Function, "memcache.get") || r.LatencyMs < faultTimeoutMs/2 {
			t.Fatalf("/slow record of the hung engine: %+v", r)
		}
	}
	if hung != timeouts {
		t.Fatalf("/slow lists %d requests of the hung engine, want its %d timeouts", hung, timeouts)
	}
	for i := range 10 {
		if _, _, err := a.get(p.addr, keys[v], callOpts{timeoutMs: faultTimeoutMs}); codeOf(err) != codeNoConnections {
			t.Fatalf("get %d while the engine is down: %v, want NO_CONNECTIONS", i, err)
		}
	}
	bg.check(t)

	mc[v].signal(syscall.SIGCONT)
	waitFor(t, "traffic to return to the resumed engine", func() bool {
		got, ok, err := a.get(p.addr, keys[v], callOpts{timeoutMs: faultTimeoutMs})
		return err == nil && ok && got == "v:"+keys[v]
	})
}

// TestRestartedEngine: an engine killed and started again on the same
// address gets its shard's traffic back (as an empty store) within the
// probe interval; nothing moved to another shard meanwhile.
func TestRestartedEngine(t *testing.T) {
	p, mc, keys, a := faultSetup(t)
	const v = 0
	addr := mc[v].addr
	mc[v].signal(syscall.SIGKILL)
	<-mc[v].done
	waitFor(t, "NO_CONNECTIONS for the killed shard", func() bool {
		_, _, err := a.get(p.addr, keys[v], callOpts{timeoutMs: faultTimeoutMs})
		return codeOf(err) == codeNoConnections
	})
	again := startEngine(t, "memcache", addr)
	waitFor(t, "traffic to return to the restarted engine", func() bool {
		_, _, err := a.get(p.addr, keys[v], callOpts{timeoutMs: faultTimeoutMs})
		return err == nil
	})
	a.set(t, p.addr, keys[v], "new", callOpts{})
	if got, ok := a.mustGet(t, again.addr, keys[v]); !ok || got != "new" {
		t.Fatalf("the restarted engine has %q=%q %v, want the new value", keys[v], got, ok)
	}
	for i, k := range keys {
		if i == v {
			continue
		}
		if got, ok := a.mustGet(t, p.addr, k); !ok || got != "v:"+k {
			t.Fatalf("shard %d after the restart: %q=%q %v", i, k, got, ok)
		}
	}
}

// others returns keys without keys[skip].
func others(keys []string, skip int) []string {
	var out []string
	for i, k := range keys {
		if i != skip {
			out = append(out, k)
		}
	}
	return out
}

// TestKilledReplicaRetried: SIGKILL of one replica of a two-replica shard
// under load, with memcache.get marked retry: the gets in flight on the
// killed engine are sent again to its peer, later ones fail over to it,
// and not one get of the load fails. (Both replicas hold every key: the
// test writes them to each engine directly.)
func TestKilledReplicaRetried(t *testing.T) {
	mc := startEngines(t, "memcache", 2)
	p := startProxy(t, newConfig(t, cluster{name: "mc", functions: []string{"memcache.*"}, engines: mc, replicas: 2, extra: `balance = "round_robin"
[[cluster.function]]
name = "memcache.get"
retry = true
`}))
	a := newApp(t)
	var keys []string
	for i := range 50 {
		k := fmt.Sprintf("replicated:%d", i)
		keys = append(keys, k)
		for _, e := range mc {
			a.set(t, e.addr, k, "v:"+k, callOpts{})
		}
	}
	const workers = 16
	var bgs []*background
	for w := range workers {
		bgs = append(bgs, startBackground(t, a, p.addr, append(keys[w%len(keys):], keys[:w%len(keys)]...), 1_000_000))
	}
	done := func() (n int) {
		for _, b := range bgs {
			b.mu.Lock()
			n += b.done
			b.mu.Unlock()
		}
		return n
	}
	waitFor(t, "2000 gets before the kill", func() bool { return done() >= 2000 })
	mc[0].signal(syscall.SIGKILL)
	<-mc[0].done
	after := done()
	waitFor(t, "2000 gets after the kill", func() bool { return done() >= after+2000 })
	for _, b := range bgs {
		b.check(t)
	}
	st := p.stats(t).Clusters[0]
	if e := st.Shards[0].Engines[0]; e.State != "down" {
		t.Fatalf("killed replica %s is %q, want down", e.Addr, e.State)
	}
	t.Logf("%d gets, none failed; %d retried on the live replica (%d denied)", done(), st.Retries, st.Denied)
}

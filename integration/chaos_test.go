package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	vk "github.com/VKCOM/tl/pkg/rpc"

	"github.com/rpcproxy/rpcproxy/engines/memcache"
	"github.com/rpcproxy/rpcproxy/rpcproxy"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// chaosLoad runs sets, gets, diagonal gets and 10-key getMultis through the
// proxy from several goroutines, and sorts every outcome: answers (each
// checked: a value read back must be one some worker wrote for that very
// key, so an answer delivered to the wrong request shows), the error
// answers a fault may cause (allowed), and everything else (unexpected:
// another error code, a malformed answer, a lost connection, no answer at
// all within callWait).
type chaosLoad struct {
	workers
	allowed    map[string]int // error name -> count
	unexpected []string
}

// chaosAllowed are the error answers a stopped, killed or restarted
// engine may cause: its requests time out, or fail fast while it is
// down or at its in-flight cap.
var chaosAllowed = map[int32]bool{rpc.CodeQueryTimeout: true, rpc.CodeNoConnections: true, rpc.CodeTooManyRequests: true}

const chaosKeys = 200

func startChaosLoad(t *testing.T, a *app, addr string, workers, n int) *chaosLoad {
	t.Helper()
	l := &chaosLoad{workers: newWorkers(), allowed: map[string]int{}}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range n {
				if l.stopped() {
					return
				}
				l.record(l.op(a, addr, w, i, rnd))
			}
		}()
	}
	t.Cleanup(l.finish)
	return l
}

// op makes one request and returns its error, nil when the answer is
// right.
func (l *chaosLoad) op(a *app, addr string, w, i int, rnd *rand.Rand) error {
	o := callOpts{timeoutMs: faultTimeoutMs}
	key := func() string { return "chaos:" + strconv.Itoa(rnd.IntN(chaosKeys)) }
	switch r := rnd.IntN(10); {
	case r < 3:
		k := key()
		got, err := a.call(addr, mcSet(k, fmt.Sprintf("v:%s:%d:%d", k, w, i)), o)
		if err == nil {
			if ok, rest, rerr := tl.ReadBool(got); rerr != nil || !ok || len(rest) != 0 {
				err = fmt.Errorf("set %q answered %x", k, got)
			}
		}
		return err
	case r < 7:
		k := key()
		v, ok, err := a.get(addr, k, o)
		if err == nil && ok && !strings.HasPrefix(v, "v:"+k+":") {
			err = fmt.Errorf("get %q answered %q, a value of another key", k, v)
		}
		return err
	case r < 8:
		k := key()
		got, err := a.call(addr, append(tl.AppendUint32(nil, rpc.TagProxyDiagonal), mcGet(k)...), o)
		if err != nil {
			return err
		}
		return checkDiagonal(k, got)
	default:
		keys := make([]string, 10)
		for j := range keys {
			keys[j] = key()
		}
		got, err := a.call(addr, mcGetMulti(keys...), o)
		if err != nil {
			return err
		}
		vals, err := parseValues(got)
		if err == nil && len(vals) != len(keys) {
			err = fmt.Errorf("getMulti of %d keys answered %d values", len(keys), len(vals))
		}
		for j := 0; err == nil && j < len(vals); j++ {
			if vals[j] != "-" && !strings.HasPrefix(vals[j], "v:"+keys[j]+":") {
				err = fmt.Errorf("getMulti key %d %q answered %q, a value of another key", j, keys[j], vals[j])
			}
		}
		return err
	}
}

// checkDiagonal checks a diagonal memcache.get of key k over the chaos
// cluster's 4 shards: Vector (Maybe memcache.Value), one element per
// shard, Nothing for a shard that failed, and any value found is one
// written for k.
func checkDiagonal(k string, b []byte) error {
	r, err := tl.ExpectTag(b, tl.TagVector)
	if err != nil {
		return fmt.Errorf("diagonal get %q: %w", k, err)
	}
	n, r, err := tl.ReadCount(r, 4)
	if err != nil || n != 4 {
		return fmt.Errorf("diagonal get %q: %d elements (%v), want one per shard (4)", k, n, err)
	}
	for range n {
		var tag uint32
		if tag, r, err = tl.ReadUint32(r); err != nil {
			return fmt.Errorf("diagonal get %q: %w", k, err)
		}
		switch tag {
		case tl.TagMaybeFalse:
			continue
		case tl.TagMaybeTrue:
		default:
			return fmt.Errorf("diagonal get %q: Maybe tag %08x", k, tag)
		}
		var v string
		switch tag, r, err = tl.ReadUint32(r); {
		case err != nil:
			return fmt.Errorf("diagonal get %q: %w", k, err)
		case tag == memcache.TagNotFound:
		case tag == memcache.TagStrValue:
			if v, r, err = tl.ReadString(r); err == nil {
				_, r, err = tl.ReadInt32(r)
			}
			if err != nil || !strings.HasPrefix(v, "v:"+k+":") {
				return fmt.Errorf("diagonal get %q: value %q (%v), a value of another key", k, v, err)
			}
		default:
			return fmt.Errorf("diagonal get %q: memcache.Value tag %08x", k, tag)
		}
	}
	if len(r) != 0 {
		return fmt.Errorf("diagonal get %q: %d bytes after the vector", k, len(r))
	}
	return nil
}

func (l *chaosLoad) record(err error) {
	var e *vk.Error
	l.tick(func() {
		switch {
		case err == nil:
		case errors.As(err, &e) && chaosAllowed[e.Code]:
			l.allowed[rpc.CodeName(e.Code)]++
		case len(l.unexpected) < 20:
			l.unexpected = append(l.unexpected, err.Error())
		}
	})
}

// counts returns the requests made, the allowed error answers by name
// and the unexpected outcomes so far.
func (l *chaosLoad) counts() (int, map[string]int, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	allowed := make(map[string]int, len(l.allowed))
	for k, v := range l.allowed {
		allowed[k] = v
	}
	return l.done, allowed, append([]string(nil), l.unexpected...)
}

// TestChaos: a mixed load (sets, gets, diagonals, split getMultis) runs
// through the proxy over 4 shards of 2 replicas while, step after step, an
// engine is stopped (SIGSTOP) and resumed, killed and restarted on its
// address, stopped and then killed, the config is reloaded, an app with
// requests in flight disconnects, and an app sends garbage. Every request
// gets a right answer or one of the error answers a fault may cause, the
// garbage connection is closed, and nothing else is lost. After the faults
// end, every engine is back, requests fail no more, and the proxy's
// goroutines are back to what they were before the faults (no leak per
// connection, link or probe). The steps are paced by the load's progress,
// never by sleeping.
func TestChaos(t *testing.T) {
	for _, transport := range []string{"tcp", "udp"} {
		t.Run("engines over "+transport, func(t *testing.T) { testChaos(t, transport, false) })
	}
}

// TestChaosUDPAppsInterop is TestChaos with the apps on VK's UDP client
// (engines over UDP too): the load, and each step's abrupt app, which
// closes with calls in flight and never acks their answers. The proxy
// forgets those peers once proxy.udp_idle_after (1s here) passes in
// silence, and parks the load's app once it is idle, so its goroutine
// count still returns to where it was.
func TestChaosUDPAppsInterop(t *testing.T) {
	if raceEnabled {
		t.Skip("VK's UDP transport races internally; run without -race (make test does)")
	}
	testChaos(t, "udp", true)
}

// testChaos is TestChaos with the proxy reaching its engines over
// transport, and the apps on VK's client over UDP when udpApps is set,
// else over TCP. Over UDP a killed engine leaves no connection to lose:
// its requests time out until it is marked down.
func testChaos(t *testing.T, transport string, udpApps bool) {
	var engineArgs []string
	keyFile := ""
	if transport == "udp" {
		keyFile = filepath.Join(t.TempDir(), "key")
		if err := os.WriteFile(keyFile, udpKey, 0o600); err != nil {
			t.Fatal(err)
		}
		engineArgs = []string{"-udp", "-key-file", keyFile}
	}
	mc := make([]*engine, 8)
	for i := range mc {
		mc[i] = startEngine(t, "memcache", "127.0.0.1:0", engineArgs...)
	}
	cl := func(timeout string) cluster {
		c := chaosCluster(mc, timeout)
		c.transport = transport
		return c
	}
	c := newConfig(t, cl("250ms"))
	c.pprof, c.keyFile = true, keyFile
	a, appNet := newApp(t), "tcp4"
	if udpApps {
		c.udpIdle = "1s"
		a, appNet = newUDPApp(t), "udp4"
	}
	p := startProxy(t, c)
	for i := range chaosKeys {
		k := "chaos:" + strconv.Itoa(i)
		a.set(t, p.addr, k, fmt.Sprintf("v:%s:-1:%d", k, i), callOpts{})
	}
	base := p.goroutines(t)

	l := startChaosLoad(t, a, p.addr, 8, 1_000_000)
	l.await(t, 500)
	rnd := rand.New(rand.NewPCG(7, 7))
	reloads := 0
	const steps = 12
	for step := range steps {
		e := rnd.IntN(len(mc))
		switch step % 4 {
		case 0: // stopped, then resumed
			mc[e].stop(t)
			l.await(t, 300)
			mc[e].signal(syscall.SIGCONT)
		case 1: // killed, then restarted on its address
			addr := mc[e].addr
			mc[e].signal(syscall.SIGKILL)
			<-mc[e].done
			l.await(t, 200)
			mc[e] = startEngine(t, "memcache", addr, engineArgs...)
		case 2: // reloaded with another timeout
			timeout := []string{"200ms", "250ms"}[reloads%2]
			reloads++
			c.clusters = []cluster{cl(timeout)}
			p.reload(t, c)
			waitFor(t, fmt.Sprintf("reload %d to be applied", reloads), func() bool {
				st := p.stats(t)
				if st.ReloadErrors != 0 {
					t.Fatalf("reload refused:\n%s", p.stderr.String())
				}
				return st.Reloads == uint64(reloads)
			})
		case 3: // stopped, then killed while stopped, then restarted
			addr := mc[e].addr
			mc[e].stop(t)
			l.await(t, 100)
			mc[e].kill(t)
			mc[e] = startEngine(t, "memcache", addr, engineArgs...)
		}
		abruptApp(t, p, appNet, 32)
		garbageApp(t, p.addr, rnd)
		l.await(t, 200)
	}
	waitFor(t, "every engine up and connected again", func() bool {
		for _, s := range p.stats(t).Clusters[0].Shards {
			for _, e := range s.Engines {
				if !e.Connected || e.State != "up" {
					return false
				}
			}
		}
		return true
	})
	// The load ends here, so no request of the faulty time is still in
	// flight when the next load starts.
	l.finish()
	done, allowed, unexpected := l.counts()
	if len(unexpected) > 0 {
		t.Fatalf("during the faults, %d requests (%v allowed errors); unexpected outcomes (first %d): %q", done, allowed, len(unexpected), unexpected)
	}
	t.Logf("during %d fault steps and the recovery: %d requests, allowed error answers %v", steps, done, allowed)

	after := startChaosLoad(t, a, p.addr, 8, 1_000_000)
	after.await(t, 2000)
	after.finish()
	done, allowed, unexpected = after.counts()
	if len(unexpected) > 0 || len(allowed) > 0 {
		t.Fatalf("after recovery, of %d requests: errors %v, unexpected %q", done, allowed, unexpected)
	}
	t.Logf("after recovery: %d requests, none failed", done)

	if p.exited() {
		t.Fatalf("the proxy exited:\n%s", p.stderr.String())
	}
	p.waitGoroutines(t, base, "after the faults")
	if s := p.stderr.String(); strings.Contains(s, "panic") {
		t.Fatalf("the proxy logged a panic:\n%s", tail(s, 40))
	}
	if udpApps {
		// Every abrupt app is forgotten (its answers unacked) or parked
		// (all acked in time), and so is the load's app once idle.
		var u *rpcproxy.UDPStats
		waitFor(t, "no UDP app connection left", func() bool {
			u = p.stats(t).App.Listeners[0].UDP
			return u.Connections == 0
		})
		if u.Resets+u.Parked < steps+1 || u.Dormant != int(u.Parked-u.Revived) {
			t.Fatalf("UDP app peers: %d forgotten and %d parked, want %d at least; %d dormant", u.Resets, u.Parked, steps+1, u.Dormant)
		}
		t.Logf("UDP app peers: %d forgotten, %d parked", u.Resets, u.Parked)
	}
}

// chaosCluster is TestChaos's cluster: 4 shards of 2 replicas with
// failover, and split getMultis that answer not_found for a failed
// shard's keys.
func chaosCluster(mc []*engine, timeout string) cluster {
	return cluster{name: "mc", functions: []string{"memcache.*"}, engines: mc, replicas: 2, timeout: timeout, extra: `[cluster.health]
failover = true
[[cluster.function]]
name = "memcache.getMulti"
key = "keys"
on_error = "partial"
missing = "memcache.not_found"
coalesce = true
`}
}

// abruptApp connects a second VK client (over network: "tcp4", or "udp4"
// on its UDP transport), sends n gets without waiting for them, and
// closes the client while they are in flight: over UDP once the proxy has
// heard from it (VK's UDP client sends nothing after Close, and its calls
// then wait for their context, which ends here).
func abruptApp(t *testing.T, p *proxy, network string, n int) {
	t.Helper()
	peers := func() int64 { return p.stats(t).App.Listeners[0].Accepted }
	before := peers()
	ctx, cancel := context.WithTimeout(context.Background(), callWait)
	defer cancel()
	opts := []vk.ClientOptionsFunc{vk.ClientWithLogf(func(string, ...any) {})}
	if network == "udp4" {
		opts = append(opts, vk.ClientWithCryptoKey(string(udpKey)), vk.ClientWithExperimentalLocalUDPAddress("127.0.0.1:0"))
	}
	cl := vk.NewClient(opts...)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := cl.GetRequest()
			req.Body = append(req.Body[:0], mcGet("chaos:"+strconv.Itoa(i))...)
			if resp, err := cl.Do(ctx, network, p.addr, req); err == nil {
				cl.PutResponse(resp)
			}
		}()
	}
	if network == "udp4" {
		waitFor(t, "the proxy to hear from the abrupt UDP app", func() bool { return peers() > before })
	}
	_ = cl.Close() // fails the calls still in flight
	cancel()
	wg.Wait()
}

// garbageApp sends random bytes to the proxy's TCP listener and checks
// that the proxy closes that connection.
func garbageApp(t *testing.T, addr string, rnd *rand.Rand) {
	t.Helper()
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	junk := make([]byte, 1+rnd.IntN(4096))
	for i := range junk {
		junk[i] = byte(rnd.Uint32())
	}
	if err := c.SetDeadline(time.Now().Add(callWait)); err != nil {
		t.Fatal(err)
	}
	// A write may fail once the proxy has closed: what it read sufficed.
	if _, err := c.Write(junk); err == nil {
		_ = c.(*net.TCPConn).CloseWrite()
	}
	if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("garbage connection (%d bytes, first %x): %v; want the proxy to close it", len(junk), junk[:min(8, len(junk))], err)
	}
}

// goroutines reads the proxy's goroutine count from /debug/pprof/.
func (p *proxy) goroutines(t *testing.T) int {
	t.Helper()
	line, _, _ := strings.Cut(p.goroutineDump(t), "\n")
	var n int
	if _, err := fmt.Sscanf(line, "goroutine profile: total %d", &n); err != nil {
		t.Fatalf("goroutine profile starts %q: %v", line, err)
	}
	return n
}

// waitGoroutines waits until the proxy has at most base goroutines. Some
// end a moment after what ended their work (the admin server's goroutine
// of a keep-alive connection the test just closed, a connection's last
// flush), so it polls, for up to startWait, and then fails with where
// the extra ones are.
func (p *proxy) waitGoroutines(t *testing.T, base int, when string) {
	t.Helper()
	deadline := time.Now().Add(startWait)
	for n := p.goroutines(t); n > base; n = p.goroutines(t) {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy has %d goroutines %v %s, %d before; where they are:\n%s", n, startWait, when, base, p.goroutineDump(t))
		}
		<-time.After(50 * time.Millisecond) // polling another process
	}
}

// goroutineDump is the proxy's goroutine profile in text: a count, then
// the goroutines grouped by stack.
func (p *proxy) goroutineDump(t *testing.T) string {
	t.Helper()
	httpClient.CloseIdleConnections() // an idle keep-alive holds a goroutine
	resp, err := httpClient.Get("http://" + p.admin + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatalf("GET goroutine profile: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET goroutine profile: %s %v", resp.Status, err)
	}
	return string(body)
}

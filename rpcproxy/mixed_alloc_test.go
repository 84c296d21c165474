package rpcproxy

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/engines/events"
	"github.com/rpcproxy/rpcproxy/engines/memcache"
	"github.com/rpcproxy/rpcproxy/sharding"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	rpcclient "github.com/rpcproxy/rpcproxy/tl/rpc/client"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// funcsHandler serves a store's functions (callFuncs).
func funcsHandler(funcs []engines.Func) server.SyncFunc {
	return func(r *server.Request, dst []byte) ([]byte, error) { return callFuncs(funcs, r.Body, dst) }
}

// mixedApps is a proxy in front of 4 memcache and 4 events engines (real
// stores, in process), and of a cluster whose second shard is down, with
// several app connections that each write a mixed burst: a get, a split
// and coalesced getMulti, a diagonal, a call of every merge strategy, a
// get failed fast and a getMulti answered in part.
type mixedApps struct {
	apps  []*packet.Conn
	calls []mixedCall

	// UDP apps: clients, their requests (2 per call each) and the count
	// of answers the round still waits for.
	clients []*rpcclient.Client
	reqs    [][]rpcclient.Request
	left    atomic.Int64
	done    chan struct{}
	bad     atomic.Pointer[string] // the first wrong answer, set once
	mu      sync.Mutex             // want, for the clients' readers

	// want is each call's answer, as the first round got it: every later
	// answer must be the same bytes (the data does not change).
	want [][]byte

	batch packet.Batch
	hdr   []byte
	req   rpc.InvokeReq
	res   rpc.ReqResult
	p     *Proxy
}

// check compares the answer to call i with the first one (kept then):
// the empty string when they match.
func (m *mixedApps) check(i int, isErr bool, body []byte) string {
	c := m.calls[i]
	if m.want == nil {
		m.want = make([][]byte, len(m.calls))
	}
	switch {
	case isErr != c.wantErr:
		return fmt.Sprintf("answer to %x: error %v, want %v", c.body, isErr, c.wantErr)
	case m.want[i] == nil:
		m.want[i] = bytes.Clone(body)
	case !bytes.Equal(body, m.want[i]):
		return fmt.Sprintf("answer to %x: %x, earlier %x", c.body, body, m.want[i])
	}
	return ""
}

// The events calls of a mixed burst, one per merge strategy.
var mixedEventCalls = [][]byte{
	tl.AppendInt32(evQuery(events.TagSearch, "number"), 10),
	tl.AppendInt32(tl.AppendUint32(nil, events.TagListAll), 5),
	evQuery(events.TagCount, "number"),
	evQuery(events.TagMinTs, "number"),
	evQuery(events.TagMaxTs, "number"),
	evQuery(events.TagHas, "number 7"),
	evQuery(events.TagAllMatch, "text"),
	evQuery(events.TagFirstMatch, "number 3"),
}

// cannedHandler answers each of calls with what funcs answered it once:
// a real store's answers, served without the store's own allocations
// (the sample events engine scans and sorts per call), so that the test
// counts the proxy's.
func cannedHandler(t *testing.T, funcs []engines.Func, calls [][]byte) server.SyncFunc {
	t.Helper()
	answers := make([][]byte, len(calls))
	for i, c := range calls {
		out, err := runFuncs(funcs, c)
		if err != nil {
			t.Fatal(err)
		}
		answers[i] = out
	}
	return func(r *server.Request, dst []byte) ([]byte, error) {
		for i, c := range calls {
			if bytes.Equal(c, r.Body) {
				return append(dst, answers[i]...), nil
			}
		}
		return nil, &rpc.Error{Code: rpc.CodeUnknownFunctionID, Description: "no canned answer"}
	}
}

// mixedCall is one call of a burst: its body, the actor that routes it
// (0: by function name) and whether its answer is an error.
type mixedCall struct {
	body    []byte
	actor   int64
	wantErr bool
}

// startMixed starts the proxy and its engines (in process; the "mc" and
// "events" clusters' over engines, tcp or udp), and nApps app
// connections over apps (tcp: packet connections; udp: VK's UDP
// transport through tl/rpc/client).
func startMixed(t *testing.T, nApps int, apps, engines string) *mixedApps {
	t.Helper()
	serve := func(h server.SyncFunc) string {
		if engines == "udp" {
			return startUDPServer(t, func(string) server.SyncFunc { return h }).addr
		}
		addr, stop := syncEngine(t, h)
		t.Cleanup(stop)
		return addr
	}
	var mcShards, evShards, halfShards []string
	var mcStores [4]*memcache.Store
	for i := range 4 {
		mc := newMemcache(t)
		mcStores[i] = mc
		mcShards = append(mcShards, fmt.Sprintf("{ replicas = [%q] }", serve(funcsHandler(mc.Funcs()))))
		if i == 0 {
			// Over TCP whatever the others use: a dead UDP engine would
			// show as timeouts first, not as a connect error.
			addr, stop := syncEngine(t, funcsHandler(mc.Funcs()))
			t.Cleanup(stop)
			halfShards = []string{fmt.Sprintf("{ replicas = [%q] }", addr), fmt.Sprintf("{ replicas = [%q] }", deadAddr(t))}
		}
		ev := newEvents(t)
		for j := range 20 {
			if _, err := runFuncs(ev.Funcs(), addEvent(fmt.Sprintf("k%d_%d", i, j), int64(1000*i+j), "text number "+fmt.Sprint(j))); err != nil {
				t.Fatal(err)
			}
		}
		evShards = append(evShards, fmt.Sprintf("{ replicas = [%q] }", serve(cannedHandler(t, ev.Funcs(), mixedEventCalls))))
	}
	transport := fmt.Sprintf("transport = %q\n", engines)
	head := fmt.Sprintf("[proxy]\nlisten = %q\nschemas = [%q, %q]\n", mainListen, memcacheTL, eventsTL)
	if apps == "udp" || engines == "udp" {
		head += fmt.Sprintf("key_file = %q\n", udpKeyFile(t))
	}
	cfg := parseConfig(t, head+
		fmt.Sprintf(`
[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "hash"
%sshards = [%s]
[[cluster.function]]
name = "memcache.get"
retry = true
[[cluster.function]]
name = "memcache.getMulti"
key = "keys"
coalesce = true

[[cluster]]
name = "events"
functions = ["events.*"]
sharding = "hash"
%sshards = [%s]
%s
# Shard 1 is down (nothing listens): its gets fail fast, getMultis are
# answered from shard 0. No probe dials it while allocations are counted.
[[cluster]]
name = "half"
actor_id = 7
sharding = "hash"
shards = [%s]
[cluster.health]
probe_interval = "1h"
probe_max_interval = "1h"
[[cluster.function]]
name = "memcache.getMulti"
key = "keys"
on_error = "partial"
missing = "memcache.not_found"
`, transport, strings.Join(mcShards, ", "), transport, strings.Join(evShards, ", "), eventsRules(), strings.Join(halfShards, ", ")))
	tp := startProxy(t, cfg, Options{NoAdmin: true})
	p := tp.Proxy
	keys := setPhotos(t, p.Table().Cluster("mc").Picker, mcStores[:])
	m := &mixedApps{p: p, hdr: make([]byte, 0, 64)}
	m.calls = []mixedCall{
		{body: getCallB(keys[0])},
		{body: mcGetMulti(keys...)},
		{body: append(tl.AppendUint32(nil, rpc.TagProxyDiagonal), getCallB(keys[1])...)},
		{body: getCallB(onShard(t, p.Table().Cluster("half").Picker, 1)), actor: 7, wantErr: true},
		{body: mcGetMulti(keys...), actor: 7},
	}
	for _, c := range mixedEventCalls {
		m.calls = append(m.calls, mixedCall{body: c})
	}
	if apps == "udp" {
		// Our client hands an error answer to its handler as a new
		// *rpc.Error (ReqResult.Err allocates it and its text), so the
		// UDP apps send no call answered with an error: the TCP apps
		// cover the proxy's error answers, which take the same path.
		m.calls = slices.DeleteFunc(m.calls, func(c mixedCall) bool { return c.wantErr })
		for range nApps {
			m.clients = append(m.clients, keyedClient(t, tp.addr(t, mainListen), "udp"))
		}
		m.prepareUDP()
		return m
	}
	for range nApps {
		pc := dialPacket(t, tp.addr(t, mainListen))
		t.Cleanup(func() { pc.Close() })
		m.apps = append(m.apps, pc)
	}
	return m
}

// addEvent is events.add key ts text.
func addEvent(key string, ts int64, text string) []byte {
	b := tl.AppendString(tl.AppendUint32(nil, events.TagAdd), key)
	return tl.AppendString(tl.AppendInt64(b, ts), text)
}

// round writes every app's burst (each call twice), all before reading
// any answer, so the proxy works on every connection at once, then reads
// and checks every answer.
func (m *mixedApps) round(t *testing.T) {
	for _, a := range m.apps {
		for range 2 {
			for _, c := range m.calls {
				m.req.QueryID++
				m.req.ActorID = c.actor
				m.hdr = rpc.AppendInvokeReqHeader(m.hdr[:0], &m.req)
				if ok, err := a.TryWritePacketIn(&m.batch, 0, rpc.TypeInvokeReq, m.hdr, c.body); !ok || err != nil {
					t.Fatalf("write: %v %v", ok, err)
				}
			}
		}
	}
	m.batch.Flush()
	for _, a := range m.apps {
		for i := range 2 * len(m.calls) {
			typ, raw, err := a.ReadPacket()
			if err != nil {
				t.Fatal(err)
			}
			// Answers come back in any order; the query id says which
			// call this is (ids count up from 1 across the whole round).
			if err := rpc.ParseResult(typ, raw, &m.res); err != nil {
				t.Fatalf("answer %d %x: %v", i, raw, err)
			}
			if bad := m.check(int((m.res.QueryID-1)%int64(len(m.calls))), m.res.IsError(), m.res.Body); bad != "" {
				t.Fatalf("%s (%d %s)", bad, m.res.ErrorCode, m.res.ErrorText)
			}
		}
	}
}

// prepareUDP builds every UDP app's requests once: Go keeps a pointer to
// the request until it is written.
func (m *mixedApps) prepareUDP() {
	m.done = make(chan struct{}, 1)
	for range m.clients {
		reqs := make([]rpcclient.Request, 2*len(m.calls))
		for i := range reqs {
			c := m.calls[i%len(m.calls)]
			reqs[i] = rpcclient.Request{ActorID: c.actor, Body: c.body}
		}
		m.reqs = append(m.reqs, reqs)
	}
}

// roundUDP is round for UDP apps: every app's calls started at once with
// Go, the round ending when the last answer is in.
func (m *mixedApps) roundUDP(t *testing.T) {
	m.left.Store(int64(len(m.clients) * 2 * len(m.calls)))
	for a, cl := range m.clients {
		for i := range m.reqs[a] {
			if _, err := cl.Go(&m.reqs[a][i], time.Time{}, m, uint64(i%len(m.calls))); err != nil {
				t.Fatal(err)
			}
		}
	}
	<-m.done
	if bad := m.bad.Load(); bad != nil {
		t.Fatal(*bad)
	}
}

// Done is the UDP apps' rpcclient.Handler: token is the call's index.
func (m *mixedApps) Done(token uint64, resp *rpcclient.Response, err error) {
	var body []byte
	if resp != nil {
		body = resp.Body
	}
	m.mu.Lock()
	bad := m.check(int(token), err != nil, body)
	m.mu.Unlock()
	if bad != "" {
		msg := fmt.Sprintf("%s: %v", bad, err)
		m.bad.CompareAndSwap(nil, &msg)
	}
	if m.left.Add(-1) == 0 {
		m.done <- struct{}{}
	}
}

// TestMixedLoadAlloc: with several app connections each sending a burst
// of every kind of call at once (forwards, a coalesced split, a diagonal,
// every merge strategy, a get failed fast, a getMulti answered in part),
// the whole process (apps, proxy, engines) makes no allocation in steady
// state, with apps and engines over TCP or UDP. The one-call tests miss
// what only concurrency reaches: joined calls, bursts shared between
// connections.
func TestMixedLoadAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts need a build without -race")
	}
	for _, tc := range []struct{ apps, engines string }{
		{"tcp", "tcp"},
		{"udp", "tcp"},
		{"tcp", "udp"},
	} {
		t.Run("apps over "+tc.apps+", engines over "+tc.engines, func(t *testing.T) {
			m := startMixed(t, 4, tc.apps, tc.engines)
			round := func() { m.round(t) }
			if tc.apps == "udp" {
				round = func() { m.roundUDP(t) }
			}
			for range 100 {
				round()
			}
			st := m.p.Table().Cluster("mc").Stats
			before := st.Coalesced.Load()
			n := testing.AllocsPerRun(50, round)
			if st.Coalesced.Load() == before {
				t.Fatal("no sub-request was joined: the test does not reach the coalesced path")
			}
			if n != 0 {
				t.Fatalf("%v allocations per round of %d calls", n, 2*max(len(m.apps), len(m.clients))*len(m.calls))
			}
		})
	}
}

// onShard returns a key that pk places on shard s.
func onShard(t *testing.T, pk *sharding.Picker, s int) string {
	t.Helper()
	for i := range 1000 {
		k := fmt.Sprintf("key%d", i)
		if got, err := pk.Pick([]byte(k)); err == nil && got == s {
			return k
		}
	}
	t.Fatalf("no key on shard %d", s)
	return ""
}

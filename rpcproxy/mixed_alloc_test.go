package rpcproxy

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/engines/events"
	"github.com/rpcproxy/rpcproxy/engines/memcache"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// funcsEngine serves a store's functions on loopback, in process, without
// allocating per call (the handler scans funcs by tag), until stop.
func funcsEngine(tb testing.TB, funcs []engines.Func) (addr string, stop func()) {
	return syncEngine(tb, func(r *server.Request, dst []byte) ([]byte, error) {
		tag, args, err := tl.ReadUint32(r.Body)
		if err != nil {
			return nil, err
		}
		for _, f := range funcs {
			if f.Tag == tag {
				return f.Call(args, dst)
			}
		}
		return nil, &rpc.Error{Code: rpc.CodeUnknownFunctionID, Description: "no such function"}
	})
}

// mixedApps is a proxy in front of 4 memcache and 4 events engines (real
// stores, in process), with several app connections that each write a
// mixed burst: a get, a split and coalesced getMulti, a diagonal, and a
// call of every merge strategy.
type mixedApps struct {
	apps  []*packet.Conn
	calls [][]byte
	batch packet.Batch
	hdr   []byte
	req   rpc.InvokeReq
	res   rpc.ReqResult
	p     *Proxy
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

// cannedEngine answers each of calls with what funcs answered it once:
// a real store's answers, served without the store's own allocations
// (the sample events engine scans and sorts per call), so that the test
// counts the proxy's.
func cannedEngine(t *testing.T, funcs []engines.Func, calls [][]byte) (addr string, stop func()) {
	t.Helper()
	answers := make([][]byte, len(calls))
	for i, c := range calls {
		out, err := runFuncs(funcs, c)
		if err != nil {
			t.Fatal(err)
		}
		answers[i] = out
	}
	return syncEngine(t, func(r *server.Request, dst []byte) ([]byte, error) {
		for i, c := range calls {
			if bytes.Equal(c, r.Body) {
				return append(dst, answers[i]...), nil
			}
		}
		return nil, &rpc.Error{Code: rpc.CodeUnknownFunctionID, Description: "no canned answer"}
	})
}

func startMixed(t *testing.T, nApps int) *mixedApps {
	t.Helper()
	var mcShards, evShards []string
	var mcStores [4]*memcache.Store
	for i := range 4 {
		mc := newMemcache(t)
		mcStores[i] = mc
		addr, stop := funcsEngine(t, mc.Funcs())
		t.Cleanup(stop)
		mcShards = append(mcShards, fmt.Sprintf("{ replicas = [%q] }", addr))
		ev := newEvents(t)
		for j := range 20 {
			if _, err := runFuncs(ev.Funcs(), addEvent(fmt.Sprintf("k%d_%d", i, j), int64(1000*i+j), "text number "+fmt.Sprint(j))); err != nil {
				t.Fatal(err)
			}
		}
		addr, stop = cannedEngine(t, ev.Funcs(), mixedEventCalls)
		t.Cleanup(stop)
		evShards = append(evShards, fmt.Sprintf("{ replicas = [%q] }", addr))
	}
	cfg := parseConfig(t, fmt.Sprintf("[proxy]\nlisten = %q\nschemas = [%q, %q]\n", mainListen, memcacheTL, eventsTL)+
		fmt.Sprintf(`
[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "hash"
shards = [%s]
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
shards = [%s]
%s`, strings.Join(mcShards, ", "), strings.Join(evShards, ", "), eventsRules()))
	p, err := New(cfg, Options{Listen: (&listenLog{}).Listen, NoAdmin: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(t.Context()) }()
	t.Cleanup(func() {
		p.Close()
		<-served
	})

	var keys []string
	c := p.Table().Cluster("mc")
	for i := range 10 {
		k := fmt.Sprintf("photo%d_%d", i, 500+i)
		keys = append(keys, k)
		s, _ := c.Picker.Pick([]byte(k))
		if _, err := runFuncs(mcStores[s].Funcs(), mcSet(k, "some photo value")); err != nil {
			t.Fatal(err)
		}
	}
	m := &mixedApps{p: p, hdr: make([]byte, 0, 64)}
	m.calls = [][]byte{
		getCallB(keys[0]),
		mcGetMulti(keys...),
		append(tl.AppendUint32(nil, rpc.TagProxyDiagonal), getCallB(keys[1])...),
	}
	m.calls = append(m.calls, mixedEventCalls...)
	for range nApps {
		nc, err := net.Dial("tcp", p.Addr(mustAddr(mainListen)).String())
		if err != nil {
			t.Fatal(err)
		}
		pc, err := packet.ClientHandshake(nc, packet.Config{})
		if err != nil {
			t.Fatal(err)
		}
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
			for _, body := range m.calls {
				m.req.QueryID++
				m.hdr = rpc.AppendInvokeReqHeader(m.hdr[:0], &m.req)
				if ok, err := a.TryWritePacketIn(&m.batch, 0, rpc.TypeInvokeReq, m.hdr, body); !ok || err != nil {
					t.Fatalf("write: %v %v", ok, err)
				}
			}
		}
	}
	m.batch.Flush()
	for _, a := range m.apps {
		for range 2 * len(m.calls) {
			typ, raw, err := a.ReadPacket()
			if err != nil {
				t.Fatal(err)
			}
			if err := rpc.ParseResult(typ, raw, &m.res); err != nil || m.res.IsError() {
				t.Fatalf("answer %x: %v (%s)", raw, err, m.res.ErrorText)
			}
		}
	}
}

// TestMixedLoadAlloc: with several app connections each sending a burst
// of every kind of call at once (forwards, a coalesced split, a diagonal,
// every merge strategy), the whole process (apps, proxy, engines) makes no
// allocation in steady state. The one-call tests miss what only
// concurrency reaches: joined calls, bursts shared between connections.
func TestMixedLoadAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts need a build without -race")
	}
	m := startMixed(t, 4)
	for range 100 {
		m.round(t)
	}
	st := m.p.Table().Cluster("mc").Stats
	before := st.Coalesced.Load()
	n := testing.AllocsPerRun(50, func() { m.round(t) })
	if st.Coalesced.Load() == before {
		t.Fatal("no sub-request was joined: the test does not reach the coalesced path")
	}
	if n != 0 {
		t.Fatalf("%v allocations per round of %d calls", n, 2*len(m.apps)*len(m.calls))
	}
}

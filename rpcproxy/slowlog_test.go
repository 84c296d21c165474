package rpcproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// stepClock is a clock that moves only when told.
type stepClock struct {
	base time.Time
	ns   atomic.Int64
}

func (c *stepClock) Now() time.Time       { return c.base.Add(time.Duration(c.ns.Load())) }
func (c *stepClock) step(d time.Duration) { c.ns.Add(int64(d)) }

// lockedBuffer is a log sink for several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

// awaitInvoke waits until e receives an rpcInvokeReq of function tag.
func awaitInvoke(t *testing.T, e *enginetest.Server, tag uint32) {
	t.Helper()
	for {
		select {
		case r := <-e.Requests:
			if r.Type == rpc.TypeInvokeReq && r.Function() == tag {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("engine %s got no call %#08x", e.Addr, tag)
		}
	}
}

// TestSlowRequests: with slow_request = "100ms" and a clock that moves
// only when the test says, a get answered at once is not slow; a get held
// 250 ms, a diagonal with one shard held 300 ms and a get that times out
// are: counted, listed newest first at /slow with cluster, function,
// shard, engine, latency and outcome, and logged at most once a second of
// the clock (the line after a quiet one counts what it skipped).
func TestSlowRequests(t *testing.T) {
	eng := startEngines(t, 2)
	slowEng, fastEng := eng[0], eng[1]
	slowEng.Handler = func(r *enginetest.Request) enginetest.Reply {
		switch {
		case r.Type != rpc.TypeInvokeReq || r.Function() == enginetest.TagEnginePid:
			return enginetest.Reply{}
		case bytes.Contains(r.Req.Body, []byte("drop")):
			return enginetest.Reply{Drop: true}
		}
		return enginetest.Reply{Hold: true}
	}
	cfg := parseConfig(t, proxyHeader()+`slow_request = "100ms"
[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "ketama"
shards = [{ replicas = ["`+slowEng.Addr+`"] }, { replicas = ["`+fastEng.Addr+`"] }]
[cluster.health]
probe_interval = "1h"
probe_max_interval = "1h"
`)
	clock := &stepClock{base: time.Now()}
	logs := &lockedBuffer{}
	p := startProxy(t, cfg, Options{NoAdmin: true, Now: clock.Now, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	mc := p.Table().Cluster("mc")
	// A key of each shard, and one of the held shard that its engine drops.
	keyOn := func(shard int, prefix string) string {
		for i := 0; ; i++ {
			k := fmt.Sprintf("%s%d", prefix, i)
			if s, _ := mc.Picker.Pick([]byte(k)); s == shard {
				return k
			}
		}
	}
	fastKey, slowKey, dropKey := keyOn(1, "fast"), keyOn(0, "slow"), keyOn(0, "drop")
	a := dialApp(t, p.addr(t, mainListen))

	if res := a.call(t, &rpc.InvokeReq{QueryID: 1, Body: getCall(t, fastKey)}); res.IsError() {
		t.Fatalf("fast get: %s", res.ErrorText)
	}
	if n := mc.Stats.Slow.Load(); n != 0 || len(p.SlowRequests()) != 0 {
		t.Fatalf("an answer at once counted slow: %d, %v", n, p.SlowRequests())
	}

	a.send(t, &rpc.InvokeReq{QueryID: 2, Body: getCall(t, slowKey)})
	awaitInvoke(t, slowEng, tagMemcacheGet)
	clock.step(250 * time.Millisecond)
	slowEng.Release()
	if res := a.result(t); res.IsError() || res.QueryID != 2 {
		t.Fatalf("held get: %+v", res)
	}

	diag := append(tl.AppendUint32(nil, rpc.TagProxyDiagonal), getCall(t, fastKey)...)
	a.send(t, &rpc.InvokeReq{QueryID: 3, Body: diag})
	awaitInvoke(t, slowEng, tagMemcacheGet)
	clock.step(300 * time.Millisecond)
	slowEng.Release()
	if res := a.result(t); res.IsError() || res.QueryID != 3 {
		t.Fatalf("diagonal: %+v", res)
	}

	a.send(t, &rpc.InvokeReq{QueryID: 4, Body: getCall(t, dropKey)})
	awaitInvoke(t, slowEng, tagMemcacheGet)
	clock.step(2 * headerTimeout) // the pool's ticker fails it at its next tick
	wantError(t, a.result(t), rpc.CodeQueryTimeout, "")

	if n := mc.Stats.Slow.Load(); n != 3 {
		t.Fatalf("%d slow requests counted, want 3", n)
	}
	got := p.SlowRequests()
	if len(got) != 3 {
		t.Fatalf("%d slow requests listed, want 3: %+v", len(got), got)
	}
	getName := fmt.Sprintf("memcache.get (#%08x)", tagMemcacheGet)
	want := []SlowRequest{
		{Cluster: "mc", Function: getName, Shard: 0, Engine: slowEng.Addr, LatencyMs: float64(2*headerTimeout/time.Microsecond) / 1000},
		{Cluster: "mc", Function: "rpcProxy.diagonal " + getName, Shard: -1, Shards: 2, LatencyMs: 300},
		{Cluster: "mc", Function: getName, Shard: 0, Engine: slowEng.Addr, LatencyMs: 250},
	}
	for i, g := range got {
		if g.App == "" || g.At.IsZero() {
			t.Errorf("record %d lacks the app or the time: %+v", i, g)
		}
		if i == 0 && !strings.Contains(g.Error, "QUERY_TIMEOUT") {
			t.Errorf("timed-out record's error %q", g.Error)
		}
		g.App, g.At, g.Error = "", time.Time{}, ""
		if g != want[i] {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, g, want[i])
		}
	}

	// Logged: the first, not the diagonal 300 ms later, then the timeout
	// two minutes on, which counts the one it skipped.
	lines := logs.lines("slow request")
	if len(lines) != 2 || !strings.Contains(lines[0], "latency_ms=250") ||
		!strings.Contains(lines[1], "QUERY_TIMEOUT") || !strings.Contains(lines[1], "slow_since_last_line=1") {
		t.Fatalf("log lines:\n%s", strings.Join(lines, "\n"))
	}

	rec := httptest.NewRecorder()
	p.serveSlow(rec, httptest.NewRequest("GET", "/slow", nil))
	var page struct {
		Threshold string        `json:"threshold"`
		Requests  []SlowRequest `json:"requests"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.Threshold != "100ms" || len(page.Requests) != 3 || page.Requests[1].Shards != 2 {
		t.Fatalf("/slow: %v %s", err, rec.Body)
	}
	rec = httptest.NewRecorder()
	p.serveMetrics(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `rpcproxy_slow_requests_total{cluster="mc"} 3`) {
		t.Fatalf("/metrics lacks the slow count:\n%s", rec.Body)
	}
}

// TestSlowLogCaps: at most slowPerSecond slow requests a second are
// described, /slow keeps the last slowKept, and one line a second is
// logged, counting the slow requests since the last line.
func TestSlowLogCaps(t *testing.T) {
	var l slowLog
	t0 := time.Unix(1000, 0)
	admitted := 0
	for range slowPerSecond + 50 {
		if l.admit(t0) {
			admitted++
		}
	}
	if admitted != slowPerSecond {
		t.Fatalf("%d admitted in one second, want %d", admitted, slowPerSecond)
	}
	if !l.admit(t0.Add(time.Second)) {
		t.Fatal("the next second admits again")
	}
	var logged []int64
	for i := range slowKept + 10 {
		at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		if log, quiet := l.add(SlowRequest{At: at, Shard: i}); log {
			logged = append(logged, quiet)
		}
	}
	// 138 records 10 ms apart: lines at 0 s and 1 s (after 99 quiet
	// ones, plus the 50 refused by admit before).
	if fmt.Sprint(logged) != "[50 99]" {
		t.Fatalf("logged with quiet counts %v, want [50 99]", logged)
	}
	list := l.list()
	if len(list) != slowKept || list[0].Shard != slowKept+9 || list[slowKept-1].Shard != 10 {
		t.Fatalf("kept %d, newest %d, oldest %d", len(list), list[0].Shard, list[len(list)-1].Shard)
	}
}

package rpcproxy

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/fanout"
	"github.com/rpcproxy/rpcproxy/rpcproxy/route"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// Slow requests: a request answered or failed proxy.slow_request or more
// after it arrived is counted in its cluster (metrics.Cluster.Slow), and
// the first slowPerSecond of each second are described: kept among the
// last slowKept for the admin's /slow, and logged at most once a second.
// A request below the threshold costs one comparison; describing one
// allocates (names, addresses, the error's text), which the per-second cap
// bounds when every request is slow (an engine timing out under load).
const (
	slowKept      = 128
	slowPerSecond = 100
)

// SlowRequest describes one slow request, as /slow lists it.
type SlowRequest struct {
	At       time.Time `json:"at"`
	Cluster  string    `json:"cluster"`
	Function string    `json:"function"`
	// Shard is the shard's index, or -1 for a request sent to several
	// (Shards of them, Failed of which failed).
	Shard  int    `json:"shard"`
	Shards int    `json:"shards,omitempty"`
	Failed int    `json:"failed_shards,omitempty"`
	Engine string `json:"engine,omitempty"`
	// LatencyMs is the time from the request's arrival to its answer or
	// failure.
	LatencyMs float64 `json:"latency_ms"`
	// Error is the engine's error answer or the proxy's failure; empty
	// when the request was answered.
	Error string `json:"error,omitempty"`
	// App is the app connection's remote address; empty for no_result
	// requests, which have nobody waiting.
	App string `json:"app,omitempty"`
}

// slowLog holds the last slow requests described. Only slow requests touch
// it.
type slowLog struct {
	second atomic.Int64 // the window of taken, in unix seconds
	taken  atomic.Int64 // slow requests offered in that second
	quiet  atomic.Int64 // slow requests refused by admit since the last log line
	lines  packet.LogLimit

	mu   sync.Mutex
	ring [slowKept]SlowRequest
	next int // where the next record goes
	kept int // records in ring
}

// admit reports whether the slow request of now is described: at most
// slowPerSecond a second. It takes no lock, since every request may be
// slow; the window turns over without one too, and a record more or less
// at the turn does not matter.
func (l *slowLog) admit(now time.Time) bool {
	sec := now.Unix()
	if w := l.second.Load(); w != sec && l.second.CompareAndSwap(w, sec) {
		l.taken.Store(0)
	}
	if l.taken.Add(1) > slowPerSecond {
		l.quiet.Add(1)
		return false
	}
	return true
}

// add keeps rec and reports whether it is to be logged (the first in a
// second), with the slow requests since the last line that were not.
func (l *slowLog) add(rec SlowRequest) (log bool, quiet int64) {
	l.mu.Lock()
	l.ring[l.next] = rec
	l.next = (l.next + 1) % slowKept
	l.kept = min(l.kept+1, slowKept)
	l.mu.Unlock()
	n, ok := l.lines.AllowAt(rec.At)
	if !ok {
		return false, 0
	}
	return true, n + l.quiet.Swap(0)
}

// list returns the records kept, newest first.
func (l *slowLog) list() []SlowRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]SlowRequest, 0, l.kept)
	for i := 1; i <= l.kept; i++ {
		out = append(out, l.ring[(l.next-i+slowKept)%slowKept])
	}
	return out
}

// slowAt is the slow request threshold of f's routing table; 0 is off.
func (f *forward) slowAt() time.Duration { return f.gen.tab.Config.Proxy.SlowRequest }

// isSlow reports whether a request that took lat is slow.
func (f *forward) isSlow(lat time.Duration) bool {
	at := f.slowAt()
	return at > 0 && lat >= at
}

// slow counts f as a slow request and, within the cap, describes it: one
// shard's request (s nil; f.e and f.shard say where it went) or a
// fan-out's (answers are its shards' outcomes). err is the engine's error
// answer or the proxy's failure, nil when answered.
func (f *forward) slow(lat time.Duration, now time.Time, err error, s *scatter, answers []fanout.Answer) {
	p := f.p
	f.c.Stats.Slow.Add(1)
	if !p.slowLog.admit(now) {
		return
	}
	rec := SlowRequest{At: now, Cluster: f.c.Name, Shard: -1, LatencyMs: float64(lat.Microseconds()) / 1000}
	t := f.gen.tab
	switch {
	case s == nil:
		rec.Function = functionName(t, f.req.Body)
		if f.shard != nil {
			rec.Shard = f.shard.Index
		}
		if f.e != nil {
			rec.Engine = f.e.Addr()
		}
	default:
		if s.rule != nil {
			rec.Function = s.rule.Function
		} else {
			rec.Function = "rpcProxy.diagonal " + functionName(t, s.call)
		}
		for i := range answers {
			switch answers[i].Status {
			case fanout.OK:
				rec.Shards++
			case fanout.Failed:
				rec.Shards++
				rec.Failed++
			}
		}
	}
	if err != nil {
		rec.Error = err.Error()
	}
	if f.r != nil {
		rec.App = f.r.RemoteAddr().String()
	}
	log, quiet := p.slowLog.add(rec)
	if !log {
		return
	}
	attrs := []slog.Attr{slog.String("cluster", rec.Cluster), slog.String("function", rec.Function),
		slog.Float64("latency_ms", rec.LatencyMs), slog.Int("shard", rec.Shard)}
	if rec.Engine != "" {
		attrs = append(attrs, slog.String("engine", rec.Engine))
	}
	if rec.Shards > 0 {
		attrs = append(attrs, slog.Int("shards", rec.Shards), slog.Int("failed_shards", rec.Failed))
	}
	if rec.Error != "" {
		attrs = append(attrs, slog.String("error", rec.Error))
	}
	if rec.App != "" {
		attrs = append(attrs, slog.String("app", rec.App))
	}
	attrs = append(attrs, slog.Int64("slow_since_last_line", quiet))
	p.log.LogAttrs(context.Background(), slog.LevelInfo, "rpcproxy: slow request (the last ones are at the admin's /slow)", attrs...)
}

// functionName names the function of call for a record.
func functionName(t *route.Table, call []byte) string {
	if len(call) < 4 {
		return "(no function)"
	}
	return t.FunctionName(binary.LittleEndian.Uint32(call))
}

// SlowRequests returns the last slow requests described, newest first.
func (p *Proxy) SlowRequests() []SlowRequest { return p.slowLog.list() }

// serveSlow is /slow: SlowRequests as JSON.
func (p *Proxy) serveSlow(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(struct {
		Threshold string        `json:"threshold"`
		Requests  []SlowRequest `json:"requests"`
	}{slowText(p.Config().Proxy.SlowRequest), p.SlowRequests()})
}

// slowText is the threshold as configured: a duration, or "off".
func slowText(d time.Duration) string {
	if d <= 0 {
		return "off"
	}
	return d.String()
}

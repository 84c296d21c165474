package rpcproxy

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/health"
	"github.com/rpcproxy/rpcproxy/rpcproxy/metrics"
	"github.com/rpcproxy/rpcproxy/rpcproxy/upstream"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// adminServer is the admin HTTP listener: /healthz, /stats (JSON),
// /metrics (Prometheus text format, written by hand), /slow, and with
// [proxy] pprof = true Go's profiles under /debug/pprof/.
type adminServer struct {
	ln  net.Listener
	srv *http.Server
}

func (p *Proxy) startAdmin(addr netip.AddrPort) (*adminServer, error) {
	ln, err := p.opts.Listen("tcp", addr.String())
	if err != nil {
		return nil, fmt.Errorf("rpcproxy: admin listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", p.serveHealthz)
	mux.HandleFunc("/stats", p.serveStats)
	mux.HandleFunc("/metrics", p.serveMetrics)
	mux.HandleFunc("/slow", p.serveSlow)
	if p.cfg.Load().Proxy.Pprof {
		mountPprof(mux)
	}
	return &adminServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}, nil
}

// mountPprof serves Go's profiles under /debug/pprof/, as net/http/pprof
// does on its default mux (which the proxy never serves): the index, the
// CPU profile and execution trace (?seconds=N), and every runtime profile
// by name (heap, goroutine, allocs, block, mutex, threadcreate).
func mountPprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

func (a *adminServer) start(wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = a.srv.Serve(a.ln)
	}()
}

func (a *adminServer) close() {
	_ = a.srv.Close()
	_ = a.ln.Close()
}

func (p *Proxy) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	select {
	case <-p.stopped:
		http.Error(w, "stopping\n", http.StatusServiceUnavailable)
	default:
		io.WriteString(w, "ok\n")
	}
}

// Stats is the /stats document.
type Stats struct {
	Uptime       string      `json:"uptime"`
	Config       ConfigStats `json:"config"`
	Reloads      uint64      `json:"reloads"`
	ReloadErrors uint64      `json:"reload_errors"`
	NoCluster    uint64      `json:"no_cluster"`
	App          AppStats    `json:"app"`
	// EngineUDP is the UDP transport of the clusters with transport =
	// "udp", once one has been used.
	EngineUDP *UDPStats      `json:"engine_udp,omitempty"`
	Clusters  []ClusterStats `json:"clusters"`
}

// AppStats is the app side in /stats: the caps over all app ports and how
// much of each is used, and each listener's counters.
type AppStats struct {
	Connections     int64           `json:"connections"`
	MaxConnections  int             `json:"max_connections"`
	RequestBytes    int64           `json:"request_bytes"`
	MaxRequestBytes int64           `json:"max_request_bytes"`
	HeldBytes       int64           `json:"answer_bytes_held"`
	MaxHeldBytes    int64           `json:"max_answer_bytes_held"`
	Listeners       []ListenerStats `json:"listeners"`
}

// ListenerStats is one app port (the main listen address or a cluster's
// own) in /stats: its connections (TCP and UDP peers), those refused over
// max_connections and those closed for sending bytes that are not TL RPC,
// its requests, and its UDP transport when proxy.udp is on.
type ListenerStats struct {
	Listen      string    `json:"listen"`
	Connections int64     `json:"connections"`
	Accepted    int64     `json:"connections_total"`
	Rejected    int64     `json:"connections_rejected"`
	BadInput    int64     `json:"connections_bad_input"`
	Requests    int64     `json:"requests"`
	Inflight    int64     `json:"requests_inflight"`
	Malformed   int64     `json:"requests_malformed"`
	Oversized   int64     `json:"requests_oversized"`
	Cancels     int64     `json:"cancels"`
	UDP         *UDPStats `json:"udp,omitempty"`
}

// UDPStats is a UDP transport (VK's) in /stats: its peers, datagrams and
// messages each way, chunks sent again, and datagrams dropped, by reason
// (tl/rpc/udp.DropReason: "crc" for a bad checksum, "key_id" for an
// unknown key, "short" and "header" for garbage...). On an app port, the
// idle peers it parked (proxy.udp_idle_after), the parked ones that came
// back, the records held for them, and those forgotten over the cap.
// Resets: peers that restarted, or fell silent with answers unacked
// (gone: an app that exited).
type UDPStats struct {
	Connections  int               `json:"connections"`
	Parked       uint64            `json:"parked,omitempty"`
	Revived      uint64            `json:"revived,omitempty"`
	Dormant      int               `json:"dormant,omitempty"`
	Evicted      uint64            `json:"dormant_evicted,omitempty"`
	Resets       uint64            `json:"resets"`
	DatagramsIn  uint64            `json:"datagrams_in"`
	DatagramsOut uint64            `json:"datagrams_out"`
	MessagesIn   uint64            `json:"messages_in"`
	MessagesOut  uint64            `json:"messages_out"`
	ChunksResent uint64            `json:"chunks_resent"`
	Dropped      uint64            `json:"dropped"`
	DroppedBy    map[string]uint64 `json:"dropped_by_reason,omitempty"`
}

func udpStats(s udp.Stats) *UDPStats {
	u := &UDPStats{Connections: s.Conns, Parked: s.Parked, Revived: s.Revived, Dormant: s.Dormant, Evicted: s.Evicted, Resets: s.Resets,
		DatagramsIn: s.DatagramsIn, DatagramsOut: s.DatagramsOut,
		MessagesIn: s.MessagesIn, MessagesOut: s.MessagesOut, ChunksResent: s.ChunksResent, Dropped: s.DroppedTotal()}
	for i, n := range s.Dropped {
		if n > 0 {
			if u.DroppedBy == nil {
				u.DroppedBy = map[string]uint64{}
			}
			u.DroppedBy[udp.DropReason(i).String()] = n
		}
	}
	return u
}

// appStats fills AppStats.
func (p *Proxy) appStats() AppStats {
	lim := p.limits
	a := AppStats{Connections: lim.Conns(), MaxConnections: lim.MaxConns(),
		RequestBytes: lim.RequestBytes(), MaxRequestBytes: lim.MaxRequestBytes(),
		HeldBytes: lim.Budget().Held(), MaxHeldBytes: lim.Budget().Limit(), Listeners: []ListenerStats{}}
	for _, l := range p.shownListeners() {
		c := l.srv.Counters()
		ls := ListenerStats{Listen: l.addr.String(), Connections: c.ConnsActive, Accepted: c.ConnsTotal,
			Rejected: c.ConnsRejected, BadInput: c.BadInput, Requests: c.Requests, Inflight: c.Active,
			Malformed: c.Malformed, Oversized: c.Oversized, Cancels: c.Cancels}
		if l.udp != nil {
			ls.UDP = udpStats(l.udp.Stats())
		}
		a.Listeners = append(a.Listeners, ls)
	}
	return a
}

// ConfigStats is the running config in /stats (its file and the SHA-256
// of the text it was read from, to tell which version of the file runs)
// and how the last reload ended: "none" yet, "applied" or "refused", with
// the reason.
type ConfigStats struct {
	File            string `json:"file"`
	SHA256          string `json:"sha256"`
	LoadedAt        string `json:"loaded_at"`
	LastReload      string `json:"last_reload"`
	LastReloadAt    string `json:"last_reload_at,omitempty"`
	LastReloadError string `json:"last_reload_error,omitempty"`
}

// configStats fills ConfigStats; times are RFC 3339 in UTC.
func (p *Proxy) configStats() ConfigStats {
	cfg, st := p.cfg.Load(), p.reloadState.status()
	cs := ConfigStats{File: cfg.File, SHA256: hex.EncodeToString(cfg.SHA256[:]),
		LoadedAt: st.loadedAt.UTC().Format(time.RFC3339), LastReload: "none"}
	if !st.lastAt.IsZero() {
		cs.LastReload, cs.LastReloadAt = "applied", st.lastAt.UTC().Format(time.RFC3339)
	}
	if st.lastErr != nil {
		cs.LastReload, cs.LastReloadError = "refused", st.lastErr.Error()
	}
	return cs
}

// ClusterStats is one cluster in /stats. The fan-out counters are
// requests sent to several shards, their sub-requests written to engines
// and failed (refused at once, error answer, no answer), and answers
// built although a shard failed; retries are requests sent again after a
// lost connection, and those the retry budget refused (metrics.Cluster).
type ClusterStats struct {
	Name      string       `json:"name"`
	Requests  uint64       `json:"requests"`
	Answers   uint64       `json:"answers"`
	Errors    uint64       `json:"errors"`
	Timeouts  uint64       `json:"timeouts"`
	Refused   uint64       `json:"refused"`
	NoTarget  uint64       `json:"no_target"`
	Fanouts   uint64       `json:"fanouts"`
	SubSent   uint64       `json:"fanout_subrequests"`
	SubFailed uint64       `json:"fanout_subrequests_failed"`
	Partial   uint64       `json:"fanout_partial_answers"`
	Coalesced uint64       `json:"fanout_subrequests_coalesced"`
	Retries   uint64       `json:"retries"`
	Denied    uint64       `json:"retries_denied"`
	Slow      uint64       `json:"slow_requests"`
	Limited   uint64       `json:"rate_limited"`
	Shadowed  uint64       `json:"shadow_sent"`
	ShadowBad uint64       `json:"shadow_failed"`
	P50       string       `json:"latency_p50"`
	P99       string       `json:"latency_p99"`
	DownCap   int64        `json:"max_down"`
	DownNow   int64        `json:"down"`
	Shards    []ShardStats `json:"shards"`
	// Functions are the cluster's functions that had requests, by name.
	Functions []FunctionStats `json:"functions,omitempty"`
}

// FunctionStats is one function of a cluster in /stats
// (metrics.Function): requests, errors (by an engine or the proxy),
// timeouts, and the latency of the answered ones.
type FunctionStats struct {
	Name     string `json:"name"`
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
	Timeouts uint64 `json:"timeouts"`
	P50      string `json:"latency_p50"`
	P99      string `json:"latency_p99"`
}

// ShardStats is one shard in /stats.
type ShardStats struct {
	Index   int           `json:"index"`
	Name    string        `json:"name"`
	Engines []EngineStats `json:"engines"`
}

// EngineStats is one engine in /stats.
type EngineStats struct {
	Addr      string `json:"addr"`
	State     string `json:"state"` // up, down, fail_open (failing, kept up by max_down_share), busy (at max_inflight)
	Connected bool   `json:"connected"`
	Inflight  int64  `json:"inflight"`
	Requests  uint64 `json:"requests"`
	Answers   uint64 `json:"answers"`
	Latency   string `json:"latency"` // recent answers' moving average; "0s" before any
	Errors    uint64 `json:"errors"`
	Timeouts  uint64 `json:"timeouts"`
	Refused   uint64 `json:"refused"`
	Downs     uint64 `json:"downs"`
}

// Snapshot returns the proxy's stats.
func (p *Proxy) Snapshot() Stats {
	tab := p.Table()
	st := Stats{
		Uptime:       p.now().Sub(p.started).Round(time.Second).String(),
		Config:       p.configStats(),
		Reloads:      p.reloads.Load(),
		ReloadErrors: p.reloadErrors.Load(),
		NoCluster:    p.noTarget.Load(),
		App:          p.appStats(),
	}
	if u, ok := p.pool.UDPStats(); ok {
		st.EngineUDP = udpStats(u)
	}
	funcs := p.stats.Functions()
	for _, c := range tab.Clusters {
		m := c.Stats
		cs := ClusterStats{
			Name: c.Name, Requests: m.Requests.Load(), Answers: m.Answers.Load(), Errors: m.Errors.Load(),
			Timeouts: m.Timeouts.Load(), Refused: m.Refused.Load(), NoTarget: m.NoTarget.Load(),
			Fanouts: m.Fanouts.Load(), SubSent: m.SubSent.Load(), SubFailed: m.SubFailed.Load(), Partial: m.Partial.Load(),
			Coalesced: m.Coalesced.Load(), Retries: m.Retries.Load(), Denied: m.RetriesDenied.Load(), Slow: m.Slow.Load(),
			Limited: m.RateLimited.Load(), Shadowed: m.ShadowSent.Load(), ShadowBad: m.ShadowFailed.Load(), P50: m.Quantile(0.5).String(), P99: m.Quantile(0.99).String(),
			DownCap: c.Group.Max(), DownNow: c.Group.Down(),
		}
		for i := range c.Shards {
			s := &c.Shards[i]
			ss := ShardStats{Index: s.Index, Name: s.Name}
			for _, e := range s.Replicas {
				ss.Engines = append(ss.Engines, engineStats(e))
			}
			cs.Shards = append(cs.Shards, ss)
		}
		for _, fn := range funcs {
			if fn.Cluster == c.Name {
				cs.Functions = append(cs.Functions, FunctionStats{Name: fn.Name, Requests: fn.Requests.Load(),
					Errors: fn.Errors.Load(), Timeouts: fn.Timeouts.Load(),
					P50: fn.Quantile(0.5).String(), P99: fn.Quantile(0.99).String()})
			}
		}
		st.Clusters = append(st.Clusters, cs)
	}
	return st
}

func engineStats(e *upstream.Engine) EngineStats {
	h := e.Health()
	state := h.State().String()
	switch {
	case h.FailOpen():
		state = "fail_open"
	case h.State() == health.StateUp && h.Settings().MaxInflight > 0 && h.Inflight() >= int64(h.Settings().MaxInflight):
		state = "busy"
	}
	s := e.Stats()
	return EngineStats{
		Addr: e.Addr(), State: state, Connected: e.Connected(), Inflight: h.Inflight(),
		Requests: s.Requests.Load(), Answers: s.Answers.Load(), Latency: s.Latency().String(),
		Errors: s.Errors.Load(), Timeouts: s.Timeouts.Load(),
		Refused: s.Failed.Load(), Downs: h.Downs(),
	}
}

func (p *Proxy) serveStats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(p.Snapshot())
}

// labelEscaper escapes a Prometheus label value (any UTF-8 text; %q's Go
// escapes such as \u00e9 are not the format's).
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// serveMetrics writes the Prometheus text exposition format (version
// 0.0.4) by hand: counters per cluster and engine, a latency histogram per
// cluster.
func (p *Proxy) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	var b strings.Builder
	header := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	clusters := p.stats.Clusters()
	type metric struct {
		name, help string
		get        func(i int) uint64
	}
	for _, m := range []metric{
		{"rpcproxy_requests_total", "Requests routed to the cluster.", func(i int) uint64 { return clusters[i].Requests.Load() }},
		{"rpcproxy_answers_total", "Requests answered by an engine.", func(i int) uint64 { return clusters[i].Answers.Load() }},
		{"rpcproxy_errors_total", "Requests answered with an error (by an engine or the proxy).", func(i int) uint64 { return clusters[i].Errors.Load() }},
		{"rpcproxy_timeouts_total", "Requests, and fan-out sub-requests, without an answer before their deadline.", func(i int) uint64 { return clusters[i].Timeouts.Load() }},
		{"rpcproxy_refused_total", "Requests failed fast: engine down, busy or not connected.", func(i int) uint64 { return clusters[i].Refused.Load() }},
		{"rpcproxy_no_target_total", "Requests without a key or shard.", func(i int) uint64 { return clusters[i].NoTarget.Load() }},
		{"rpcproxy_fanouts_total", "Requests fanned out to several shards (split, merge, diagonal).", func(i int) uint64 { return clusters[i].Fanouts.Load() }},
		{"rpcproxy_fanout_subrequests_total", "Fan-out sub-requests written to an engine.", func(i int) uint64 { return clusters[i].SubSent.Load() }},
		{"rpcproxy_fanout_subrequests_failed_total", "Fan-out sub-requests refused at once, answered with an error or not answered.", func(i int) uint64 { return clusters[i].SubFailed.Load() }},
		{"rpcproxy_fanout_partial_answers_total", "Fan-out answers built although at least one shard failed.", func(i int) uint64 { return clusters[i].Partial.Load() }},
		{"rpcproxy_fanout_subrequests_coalesced_total", "Fan-out sub-requests sent joined with others in one engine call (coalesce = true).", func(i int) uint64 { return clusters[i].Coalesced.Load() }},
		{"rpcproxy_retries_total", "Requests and sub-requests sent again to another replica after their connection was lost (functions marked retry).", func(i int) uint64 { return clusters[i].Retries.Load() }},
		{"rpcproxy_retries_denied_total", "Retries refused by the cluster's retry budget.", func(i int) uint64 { return clusters[i].RetriesDenied.Load() }},
		{"rpcproxy_rate_limited_total", "Requests refused at once (FLOOD_CONTROL) because their function was over its rate_limit.", func(i int) uint64 { return clusters[i].RateLimited.Load() }},
		{"rpcproxy_shadow_sent_total", "Copies of requests sent to the cluster's shadow cluster ([cluster.shadow]).", func(i int) uint64 { return clusters[i].ShadowSent.Load() }},
		{"rpcproxy_shadow_failed_total", "Shadow copies refused at once, answered with an error or not answered.", func(i int) uint64 { return clusters[i].ShadowFailed.Load() }},
		{"rpcproxy_slow_requests_total", "Requests answered or failed proxy.slow_request or more after they arrived (admin /slow).", func(i int) uint64 { return clusters[i].Slow.Load() }},
	} {
		header(m.name, "counter", m.help)
		for i, c := range clusters {
			fmt.Fprintf(&b, "%s{cluster=%q} %d\n", m.name, c.Name, m.get(i))
		}
	}
	header("rpcproxy_latency_seconds", "histogram", "Time from request to engine answer.")
	for _, c := range clusters {
		writeHistogram(&b, "rpcproxy_latency_seconds", fmt.Sprintf("cluster=%q", c.Name), &c.Latency)
	}
	funcs := p.stats.Functions()
	for _, m := range []struct {
		name, help string
		get        func(f *metrics.Function) uint64
	}{
		{"rpcproxy_function_requests_total", "Requests of the function routed to the cluster.", func(f *metrics.Function) uint64 { return f.Requests.Load() }},
		{"rpcproxy_function_errors_total", "Requests of the function answered with an error (by an engine or the proxy).", func(f *metrics.Function) uint64 { return f.Errors.Load() }},
		{"rpcproxy_function_timeouts_total", "Requests of the function without an answer before their deadline (whole requests; a fan-out's sub-requests count in rpcproxy_timeouts_total).", func(f *metrics.Function) uint64 { return f.Timeouts.Load() }},
	} {
		header(m.name, "counter", m.help)
		for _, f := range funcs {
			fmt.Fprintf(&b, "%s{cluster=%q,function=%q} %d\n", m.name, f.Cluster, f.Name, m.get(f))
		}
	}
	header("rpcproxy_function_latency_seconds", "histogram", "Time from request to engine answer, per function.")
	for _, f := range funcs {
		writeHistogram(&b, "rpcproxy_function_latency_seconds", fmt.Sprintf("cluster=%q,function=%q", f.Cluster, f.Name), &f.Latency)
	}
	header("rpcproxy_engine_up", "gauge", "Whether the engine takes requests (1) or is down (0).")
	engines := p.pool.Engines()
	sort.Slice(engines, func(i, j int) bool { return engines[i].Addr() < engines[j].Addr() })
	for _, e := range engines {
		up := 0
		if e.Health().Up() {
			up = 1
		}
		fmt.Fprintf(&b, "rpcproxy_engine_up{engine=%q} %d\n", e.Addr(), up)
	}
	header("rpcproxy_engine_inflight", "gauge", "Requests in flight to the engine.")
	for _, e := range engines {
		fmt.Fprintf(&b, "rpcproxy_engine_inflight{engine=%q} %d\n", e.Addr(), e.Health().Inflight())
	}
	header("rpcproxy_engine_latency_seconds", "summary", "Time from a request's arrival to its engine's answer, per engine.")
	for _, e := range engines {
		s := e.Stats()
		fmt.Fprintf(&b, "rpcproxy_engine_latency_seconds_sum{engine=%q} %g\nrpcproxy_engine_latency_seconds_count{engine=%q} %d\n",
			e.Addr(), time.Duration(s.LatencyNs.Load()).Seconds(), e.Addr(), s.Answers.Load())
	}
	header("rpcproxy_engine_downs_total", "counter", "Times the engine was marked down.")
	for _, e := range engines {
		fmt.Fprintf(&b, "rpcproxy_engine_downs_total{engine=%q} %d\n", e.Addr(), e.Health().Downs())
	}
	p.writeAppMetrics(&b, header)
	header("rpcproxy_reloads_total", "counter", "Config reloads applied.")
	fmt.Fprintf(&b, "rpcproxy_reloads_total %d\n", p.reloads.Load())
	header("rpcproxy_reload_errors_total", "counter", "Config reloads refused.")
	fmt.Fprintf(&b, "rpcproxy_reload_errors_total %d\n", p.reloadErrors.Load())
	cfg, st := p.cfg.Load(), p.reloadState.status()
	ok := 1
	if st.lastErr != nil {
		ok = 0
	}
	header("rpcproxy_config_last_reload_successful", "gauge", "Whether the last config reload was applied (1, also before any reload) or refused (0).")
	fmt.Fprintf(&b, "rpcproxy_config_last_reload_successful %d\n", ok)
	header("rpcproxy_config_last_reload_success_timestamp_seconds", "gauge", "When the running config was applied, at start or by a reload.")
	fmt.Fprintf(&b, "rpcproxy_config_last_reload_success_timestamp_seconds %d\n", st.loadedAt.Unix())
	header("rpcproxy_config_info", "gauge", "The running config: its file and the SHA-256 of its text.")
	fmt.Fprintf(&b, "rpcproxy_config_info{file=\"%s\",sha256=\"%x\"} 1\n", labelEscaper.Replace(cfg.File), cfg.SHA256[:])
	io.WriteString(w, b.String())
}

// writeAppMetrics writes the app side: per listener (label listen) its
// connections and requests, over all listeners the caps and their use,
// and the UDP transports' counters (the listeners', and the engines' with
// listen="engines").
func (p *Proxy) writeAppMetrics(b *strings.Builder, header func(name, typ, help string)) {
	ls := p.shownListeners()
	counters := make([]server.Counters, len(ls))
	for i, l := range ls {
		counters[i] = l.srv.Counters()
	}
	for _, m := range []struct {
		name, typ, help string
		get             func(c *server.Counters) int64
	}{
		{"rpcproxy_app_connections", "gauge", "App connections (TCP, and UDP peers) open on the listener.", func(c *server.Counters) int64 { return c.ConnsActive }},
		{"rpcproxy_app_connections_total", "counter", "App connections accepted by the listener.", func(c *server.Counters) int64 { return c.ConnsTotal }},
		{"rpcproxy_app_connections_rejected_total", "counter", "App connections closed at once because proxy.max_connections were open.", func(c *server.Counters) int64 { return c.ConnsRejected }},
		{"rpcproxy_app_connections_bad_input_total", "counter", "App connections closed because the app sent bytes that are not TL RPC (handshake, framing, CRC, envelope).", func(c *server.Counters) int64 { return c.BadInput }},
		{"rpcproxy_app_requests_total", "counter", "Requests read from apps on the listener.", func(c *server.Counters) int64 { return c.Requests }},
		{"rpcproxy_app_requests_inflight", "gauge", "Requests read from apps on the listener and not answered yet.", func(c *server.Counters) int64 { return c.Active }},
		{"rpcproxy_app_requests_malformed_total", "counter", "Requests whose envelope did not parse (answered with an error).", func(c *server.Counters) int64 { return c.Malformed }},
		{"rpcproxy_app_requests_oversized_total", "counter", "UDP requests over proxy.max_request_size (answered with an error; over TCP such a packet closes the connection).", func(c *server.Counters) int64 { return c.Oversized }},
		{"rpcproxy_app_cancels_total", "counter", "rpcCancelReq received for a request in flight.", func(c *server.Counters) int64 { return c.Cancels }},
	} {
		header(m.name, m.typ, m.help)
		for i, l := range ls {
			fmt.Fprintf(b, "%s{listen=%q} %d\n", m.name, l.addr.String(), m.get(&counters[i]))
		}
	}
	lim := p.limits
	for _, m := range []struct {
		name, help string
		v          int64
	}{
		{"rpcproxy_app_connections_limit", "proxy.max_connections, over all app ports.", int64(lim.MaxConns())},
		{"rpcproxy_app_request_bytes", "Bytes of app requests read and not answered yet, over all app ports.", lim.RequestBytes()},
		{"rpcproxy_app_request_bytes_limit", "proxy.max_request_bytes_in_flight.", lim.MaxRequestBytes()},
		{"rpcproxy_answer_bytes_held", "Answer bytes held: for app connections behind on reading, and fan-out shard answers waiting for their merge.", lim.Budget().Held()},
		{"rpcproxy_answer_bytes_held_limit", "proxy.max_response_bytes_in_flight.", lim.Budget().Limit()},
	} {
		header(m.name, "gauge", m.help)
		fmt.Fprintf(b, "%s %d\n", m.name, m.v)
	}

	type transport struct {
		listen string
		s      udp.Stats
	}
	var ts []transport
	for _, l := range ls {
		if l.udp != nil {
			ts = append(ts, transport{l.addr.String(), l.udp.Stats()})
		}
	}
	if s, ok := p.pool.UDPStats(); ok {
		ts = append(ts, transport{"engines", s})
	}
	if len(ts) == 0 {
		return
	}
	family := func(name, typ, help string, write func(listen string, s *udp.Stats)) {
		header(name, typ, help)
		for i := range ts {
			write(ts[i].listen, &ts[i].s)
		}
	}
	family("rpcproxy_udp_connections", "gauge", "Peers of the UDP transport (listen: an app port, or \"engines\").", func(l string, s *udp.Stats) {
		fmt.Fprintf(b, "rpcproxy_udp_connections{listen=%q} %d\n", l, s.Conns)
	})
	family("rpcproxy_udp_dormant", "gauge", "Idle UDP peers parked and on record: their next datagram resumes them (proxy.udp_idle_after).", func(l string, s *udp.Stats) {
		fmt.Fprintf(b, "rpcproxy_udp_dormant{listen=%q} %d\n", l, s.Dormant)
	})
	family("rpcproxy_udp_park_events_total", "counter", "UDP peers parked when idle (parked), resumed by their next datagram (revived), and forgotten over the record cap (evicted: their next call fails once).", func(l string, s *udp.Stats) {
		for _, e := range []struct {
			name string
			n    uint64
		}{{"parked", s.Parked}, {"revived", s.Revived}, {"evicted", s.Evicted}} {
			fmt.Fprintf(b, "rpcproxy_udp_park_events_total{listen=%q,event=%q} %d\n", l, e.name, e.n)
		}
	})
	family("rpcproxy_udp_resets_total", "counter", "UDP connections reset: the peer restarted, or stayed silent with data unacked (an app that exited; proxy.udp_idle_after).", func(l string, s *udp.Stats) {
		fmt.Fprintf(b, "rpcproxy_udp_resets_total{listen=%q} %d\n", l, s.Resets)
	})
	family("rpcproxy_udp_datagrams_total", "counter", "Datagrams received (in) and sent (out) by the UDP transport.", func(l string, s *udp.Stats) {
		fmt.Fprintf(b, "rpcproxy_udp_datagrams_total{listen=%q,direction=\"in\"} %d\nrpcproxy_udp_datagrams_total{listen=%q,direction=\"out\"} %d\n",
			l, s.DatagramsIn, l, s.DatagramsOut)
	})
	family("rpcproxy_udp_chunks_resent_total", "counter", "Message chunks the UDP transport sent again (lost or not acknowledged in time).", func(l string, s *udp.Stats) {
		fmt.Fprintf(b, "rpcproxy_udp_chunks_resent_total{listen=%q} %d\n", l, s.ChunksResent)
	})
	family("rpcproxy_udp_dropped_total", "counter", "Datagrams or chunks the UDP transport dropped, by reason (crc, key_id, short, header, window...).", func(l string, s *udp.Stats) {
		for i, n := range s.Dropped {
			fmt.Fprintf(b, "rpcproxy_udp_dropped_total{listen=%q,reason=%q} %d\n", l, udp.DropReason(i).String(), n)
		}
	})
}

// writeHistogram writes h as the Prometheus histogram name{labels}:
// cumulative buckets, sum and count.
func writeHistogram(b *strings.Builder, name, labels string, h *metrics.Latency) {
	buckets, n, sum := h.Histogram()
	for _, bk := range buckets {
		le := "+Inf"
		if bk.Le != 0 {
			le = fmt.Sprint(bk.Le.Seconds())
		}
		fmt.Fprintf(b, "%s_bucket{%s,le=%q} %d\n", name, labels, le, bk.Count)
	}
	fmt.Fprintf(b, "%s_sum{%s} %g\n%s_count{%s} %d\n", name, labels, sum.Seconds(), name, labels, n)
}

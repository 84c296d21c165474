package rpcproxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

func oneShardConfig(addr string, extra string) string {
	return proxyHeader() + fmt.Sprintf(`
[[cluster]]
name = "mc"
functions = ["memcache.*"]
shards = [{ replicas = [%q] }]
%s`, addr, extra)
}

func TestReloadUnderTrafficLosesNothing(t *testing.T) {
	eng := startEngines(t, 2)
	p := startProxy(t, parseConfig(t, oneShardConfig(eng[0].Addr, "")), Options{NoAdmin: true})
	const workers, perWorker = 4, 200
	var failed, answered atomic.Int64
	var wg sync.WaitGroup
	half := make(chan struct{}, workers)
	for w := range workers {
		a := dialApp(t, p.addr(t, mainListen))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				if i == perWorker/2 {
					half <- struct{}{}
				}
				req := &rpc.InvokeReq{QueryID: int64(w*perWorker + i + 1), Body: getCall(t, "k")}
				if err := a.pc.WritePacket(rpc.TypeInvokeReq, rpc.AppendInvokeReqHeader(nil, req), req.Body); err != nil {
					failed.Add(1)
					return
				}
				select {
				case m, ok := <-a.msgs:
					var res rpc.ReqResult
					if !ok || rpc.ParseResult(m.typ, m.body, &res) != nil || res.IsError() || res.QueryID != req.QueryID {
						failed.Add(1)
						continue
					}
					answered.Add(1)
				case <-time.After(5 * time.Second):
					failed.Add(1)
					return
				}
			}
		}()
	}
	for range workers {
		<-half
	}
	// Move the cluster to the other engine and add a cluster port.
	next := parseConfig(t, oneShardConfig(eng[1].Addr, `listen = "127.0.0.1:19311"`))
	next.Clusters[0].Listen = mustAddr("127.0.0.1:19311")
	if err := p.Apply(next); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if failed.Load() != 0 || answered.Load() != workers*perWorker {
		t.Fatalf("%d failed, %d answered of %d", failed.Load(), answered.Load(), workers*perWorker)
	}
	if len(eng[1].Invokes()) == 0 {
		t.Fatal("no request reached the new engine after the reload")
	}
	// The old engine is released once its last request is done.
	waitFor(t, "old engine released", func() bool { return len(p.pool.Engines()) == 1 })
	a := dialApp(t, p.addr(t, "127.0.0.1:19311"))
	body := getCall(t, "k")
	res := a.call(t, &rpc.InvokeReq{QueryID: 1, Body: body})
	if !bytes.Equal(res.Body, enginetest.Echo(eng[1].Addr, body)) {
		t.Fatalf("new cluster port answered %q", res.Body)
	}
}

func TestReloadKeepsEngineConnections(t *testing.T) {
	eng := startEngines(t, 1)
	p := startProxy(t, parseConfig(t, oneShardConfig(eng[0].Addr, "")), Options{NoAdmin: true})
	before := p.dials.count(eng[0].Addr)
	if err := p.Apply(parseConfig(t, oneShardConfig(eng[0].Addr, `timeout = "3s"`))); err != nil {
		t.Fatal(err)
	}
	a := dialApp(t, p.addr(t, mainListen))
	if res := a.call(t, &rpc.InvokeReq{QueryID: 1, Body: getCall(t, "k")}); res.IsError() {
		t.Fatalf("error %s", res.ErrorText)
	}
	if n := p.dials.count(eng[0].Addr); n != before {
		t.Fatalf("reload redialled an engine that stayed (%d dials, was %d)", n, before)
	}
	if p.Table().Cluster("mc").Timeout != 3*time.Second {
		t.Fatal("new table not in use")
	}
}

// TestReloadKeepsRetryBudget: a reload hands a cluster's retry budget to
// its new table when retry_budget stays the same, so its window goes on
// (a retry storm cannot restart at every reload); a new share gets a new
// budget.
func TestReloadKeepsRetryBudget(t *testing.T) {
	eng := startEngines(t, 1)
	p := startProxy(t, parseConfig(t, oneShardConfig(eng[0].Addr, "")), Options{NoAdmin: true})
	first := p.Table().Cluster("mc").Retry
	if err := p.Apply(parseConfig(t, oneShardConfig(eng[0].Addr, `timeout = "3s"`))); err != nil {
		t.Fatal(err)
	}
	if got := p.Table().Cluster("mc").Retry; got != first {
		t.Fatal("a reload with the same retry_budget made a new budget")
	}
	if err := p.Apply(parseConfig(t, oneShardConfig(eng[0].Addr, "[cluster.health]\nretry_budget = 0.2\n"))); err != nil {
		t.Fatal(err)
	}
	if got := p.Table().Cluster("mc").Retry; got == first {
		t.Fatal("a reload with another retry_budget kept the old budget")
	}
}

func TestBadReloadKeepsOldTable(t *testing.T) {
	eng := startEngines(t, 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "proxy.toml")
	abs, _ := filepath.Abs(memcacheTL)
	good := strings.Replace(oneShardConfig(eng[0].Addr, ""), memcacheTL, abs, 1)
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configsLoad(path)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, cfg, Options{NoAdmin: true, ConfigPath: path})
	before := p.Table()
	goodSum := fmt.Sprintf("%x", sha256.Sum256([]byte(good)))
	if c := p.Snapshot().Config; c.SHA256 != goodSum || c.File != path || c.LastReload != "none" {
		t.Fatalf("config stats at start: %+v, want file %s, sha256 %s, last reload none", c, path, goodSum)
	}
	tests := []struct {
		name, text, want string
	}{
		{"syntax error", "[proxy\n", "TOML syntax"},
		{"invalid value", strings.Replace(good, `timeout = "1m0s"`, `timeout = "-1s"`, 1), "timeout"},
		{"missing schema", strings.Replace(good, abs, filepath.Join(dir, "nope.tl"), 1), "schemas"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			err := p.Reload()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("reload: %v, want an error containing %q", err, tc.want)
			}
			if p.Table() != before {
				t.Fatal("a bad config replaced the table")
			}
			if c := p.Snapshot().Config; c.SHA256 != goodSum || c.LastReload != "refused" || !strings.Contains(c.LastReloadError, tc.want) {
				t.Fatalf("config stats: %+v, want the good file's sha256 and refused with %q", c, tc.want)
			}
			a := dialApp(t, p.addr(t, mainListen))
			if res := a.call(t, &rpc.InvokeReq{QueryID: 1, Body: getCall(t, "k")}); res.IsError() {
				t.Fatalf("old table stopped serving: %s", res.ErrorText)
			}
		})
	}
	if got := p.reloadErrors.Load(); got != uint64(len(tests)) {
		t.Fatalf("reload errors %d", got)
	}
	fixed := strings.Replace(good, `timeout = "1m0s"`, `timeout = "2m"`, 1)
	if err := os.WriteFile(path, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	c := p.Snapshot().Config
	if want := fmt.Sprintf("%x", sha256.Sum256([]byte(fixed))); c.SHA256 != want || c.LastReload != "applied" || c.LastReloadError != "" || c.LastReloadAt == "" {
		t.Fatalf("config stats after a good reload: %+v, want sha256 %s, applied", c, want)
	}
}

func TestWatcherReloadsOnChange(t *testing.T) {
	eng := startEngines(t, 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "proxy.toml")
	abs, _ := filepath.Abs(memcacheTL)
	good := strings.Replace(oneShardConfig(eng[0].Addr, ""), memcacheTL, abs, 1)
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configsLoad(path)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, cfg, Options{NoAdmin: true, ConfigPath: path, WatchInterval: 5 * time.Millisecond})
	changed := strings.Replace(good, `timeout = "1m0s"`, `timeout = "2m"`, 1)
	if err := os.WriteFile(path, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the watcher to reload", func() bool { return p.Config().Proxy.Timeout == 2*time.Minute })
	if p.reloads.Load() != 1 {
		t.Fatalf("%d reloads, want 1", p.reloads.Load())
	}
}

// TestPollSkipsWhatReloadRead: a SIGHUP reload (Reload) of an edit leaves
// nothing for the watcher's next poll, which reloads only content not
// read yet: a new edit, not a rewrite of the same bytes, and not a
// refused file again.
func TestPollSkipsWhatReloadRead(t *testing.T) {
	eng := startEngines(t, 1)
	path := filepath.Join(t.TempDir(), "proxy.toml")
	abs, _ := filepath.Abs(memcacheTL)
	good := strings.Replace(oneShardConfig(eng[0].Addr, ""), memcacheTL, abs, 1)
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(good)
	cfg, err := configsLoad(path)
	if err != nil {
		t.Fatal(err)
	}
	// No watcher goroutine (WatchInterval 0): the test polls.
	p := startProxy(t, cfg, Options{NoAdmin: true, ConfigPath: path})
	counts := func() string { return fmt.Sprintf("%d reloads, %d refused", p.reloads.Load(), p.reloadErrors.Load()) }
	steps := []struct {
		what   string
		do     func()
		counts string
	}{
		{"poll, file unchanged", p.poll, "0 reloads, 0 refused"},
		{"edit, SIGHUP", func() { write(strings.Replace(good, `timeout = "1m0s"`, `timeout = "2m"`, 1)); _ = p.Reload() }, "1 reloads, 0 refused"},
		{"poll after the SIGHUP", p.poll, "1 reloads, 0 refused"},
		{"same bytes rewritten, poll", func() { write(strings.Replace(good, `timeout = "1m0s"`, `timeout = "2m"`, 1)); p.poll() }, "1 reloads, 0 refused"},
		{"edit, poll", func() { write(strings.Replace(good, `timeout = "1m0s"`, `timeout = "3m"`, 1)); p.poll() }, "2 reloads, 0 refused"},
		{"bad edit, SIGHUP", func() { write(good + "nonsense = 1\n"); _ = p.Reload() }, "2 reloads, 1 refused"},
		{"poll after the refused SIGHUP", p.poll, "2 reloads, 1 refused"},
		{"fixed, poll", func() { write(good); p.poll() }, "3 reloads, 1 refused"},
	}
	for _, st := range steps {
		st.do()
		if got := counts(); got != st.counts {
			t.Fatalf("%s: %s, want %s", st.what, got, st.counts)
		}
	}
	if got := p.Config().Proxy.Timeout; got != time.Minute {
		t.Fatalf("running timeout %v, want the fixed file's 1m", got)
	}
}

func TestShutdownDrains(t *testing.T) {
	eng := startEngines(t, 1)
	eng[0].Handler = func(*enginetest.Request) enginetest.Reply { return enginetest.Reply{Hold: true} }
	p := startProxy(t, parseConfig(t, oneShardConfig(eng[0].Addr, "")), Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, mainListen))
	a.send(t, &rpc.InvokeReq{QueryID: 9, Body: getCall(t, "k")})
	nextInvoke(t, eng[0])
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- p.Shutdown(ctx)
	}()
	if m := a.next(t); m.typ != rpc.TypeServerWantsFin {
		t.Fatalf("app got %08x, want rpcServerWantsFin", m.typ)
	}
	// As VK clients do: with a request in flight, ask to finish.
	if err := a.pc.WritePacket(rpc.TypeClientWantsFin, nil, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("shutdown returned %v with a request in flight", err)
	default:
	}
	eng[0].Release()
	res := a.result(t)
	if res.QueryID != 9 || res.IsError() {
		t.Fatalf("in-flight request got %+v", res)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown did not finish after the drain")
	}
}

func TestAdmin(t *testing.T) {
	eng := startEngines(t, 1)
	text := oneShardConfig(eng[0].Addr, "")
	p := startProxy(t, parseConfig(t, text), Options{})
	sum := fmt.Sprintf("%x", sha256.Sum256([]byte(text)))
	a := dialApp(t, p.addr(t, mainListen))
	a.call(t, &rpc.InvokeReq{QueryID: 1, Body: getCall(t, "k")})
	base := "http://" + p.AdminAddr().String()
	tests := []adminPage{
		{"/healthz", []string{"ok"}},
		{"/stats", []string{`"name": "mc"`, `"requests": 1`, `"state": "up"`, eng[0].Addr, `"last_reload": "none"`, `"sha256": "` + sum}},
		{"/metrics", []string{`rpcproxy_requests_total{cluster="mc"} 1`, `rpcproxy_latency_seconds_count{cluster="mc"} 1`,
			fmt.Sprintf(`rpcproxy_engine_up{engine=%q} 1`, eng[0].Addr), "# TYPE rpcproxy_latency_seconds histogram",
			"rpcproxy_config_last_reload_successful 1\n", `rpcproxy_config_info{file="test.toml",sha256="` + sum + `"} 1`,
			fmt.Sprintf(`rpcproxy_engine_latency_seconds_count{engine=%q} 1`, eng[0].Addr), "# TYPE rpcproxy_engine_latency_seconds summary"}},
	}
	checkAdminPages(t, base, tests)
	if e := p.Snapshot().Clusters[0].Shards[0].Engines[0]; e.Answers != 1 || e.Latency == "0s" {
		t.Errorf("engine stats after one answer: %+v, want 1 answer and its latency", e)
	}
}

// TestMetricsLabelEscape: label values in /metrics follow the Prometheus
// text format (backslash, quote and newline escaped, other UTF-8 as is),
// not Go's %q.
func TestMetricsLabelEscape(t *testing.T) {
	for in, want := range map[string]string{
		"/etc/rpcproxy/proxy.toml": "/etc/rpcproxy/proxy.toml",
		`C:\cfg "new"` + "\nx":     `C:\\cfg \"new\"\nx`,
		"/srv/café.toml":           "/srv/café.toml",
	} {
		if got := labelEscaper.Replace(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAdminPprof: [proxy] pprof = true serves Go's profiles on the admin
// listener, a CPU profile included; without it /debug/pprof/ is not
// there.
func TestAdminPprof(t *testing.T) {
	eng := startEngines(t, 1)
	for _, tc := range []struct {
		name  string
		extra string
		want  int // status of every page
	}{
		{"off by default", "", http.StatusNotFound},
		{"on", "pprof = true\n", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(oneShardConfig(eng[0].Addr, ""), "[[cluster]]", tc.extra+"[[cluster]]", 1)
			p := startProxy(t, parseConfig(t, text), Options{})
			base := "http://" + p.AdminAddr().String()
			for _, pg := range []struct{ path, body string }{
				{"/debug/pprof/", "goroutine"},
				{"/debug/pprof/goroutine?debug=1", "goroutine profile:"},
				{"/debug/pprof/heap?debug=1", "heap profile:"},
				{"/debug/pprof/cmdline", ""},
				// A CPU profile is gzipped protobuf: gzip's magic first.
				{"/debug/pprof/profile?seconds=1", "\x1f\x8b"},
			} {
				resp, err := http.Get(base + pg.path)
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatalf("%s: %v", pg.path, err)
				}
				if resp.StatusCode != tc.want {
					t.Errorf("%s: status %d, want %d", pg.path, resp.StatusCode, tc.want)
					continue
				}
				if tc.want == http.StatusOK && !strings.Contains(string(body), pg.body) {
					t.Errorf("%s lacks %q:\n%.300s", pg.path, pg.body, body)
				}
			}
			http.DefaultClient.CloseIdleConnections()
		})
	}
}

package rpcproxy

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/rpcproxy/metrics"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// TestAdminFanoutCounters: a getMulti over 4 shards with one down
// (on_error = "partial") and a plain get show in /stats and /metrics as
// 1 fan-out, 3 sub-requests sent, 1 failed, 1 partial answer.
func TestAdminFanoutCounters(t *testing.T) {
	var addrs [4]string
	for i := range addrs {
		addrs[i] = storeEngine(t, newMemcache(t).Funcs()).Addr
	}
	addrs[2] = deadAddr(t)
	cfg := parseConfig(t, fourShards("2s", addrs[:])+`
[[cluster.function]]
name = "memcache.getMulti"
on_error = "partial"
missing = "memcache.not_found"
`)
	p := startProxy(t, cfg, Options{})
	var keys []string
	for s := range 4 {
		keys = append(keys, keysFor(t, p, "mc", s, 1)...)
	}
	a := dialApp(t, p.addr(t, mainListen))
	res := a.call(t, &rpc.InvokeReq{QueryID: 1, Body: mcGetMulti(keys...), Extra: rpc.InvokeReqExtra{Flags: rpc.FlagReturnFailedSubqueries}})
	mustOK(t, res)
	if res.Extra.FailedSubqueries != 1 {
		t.Fatalf("failed_subqueries %d, want 1", res.Extra.FailedSubqueries)
	}
	mustOK(t, a.call(t, &rpc.InvokeReq{QueryID: 2, Body: getCallB(keys[0])})) // not a fan-out

	m := p.Table().Cluster("mc").Stats
	for _, c := range []struct {
		name string
		got  func(*metrics.Cluster) uint64
		want uint64
	}{
		{"requests", func(m *metrics.Cluster) uint64 { return m.Requests.Load() }, 2},
		{"fan-outs", func(m *metrics.Cluster) uint64 { return m.Fanouts.Load() }, 1},
		{"sub-requests sent", func(m *metrics.Cluster) uint64 { return m.SubSent.Load() }, 3},
		{"sub-requests failed", func(m *metrics.Cluster) uint64 { return m.SubFailed.Load() }, 1},
		{"partial answers", func(m *metrics.Cluster) uint64 { return m.Partial.Load() }, 1},
	} {
		if got := c.got(m); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	base := "http://" + p.AdminAddr().String()
	tests := []adminPage{
		{"/stats", []string{`"requests": 2`, `"fanouts": 1`, `"fanout_subrequests": 3`, `"fanout_subrequests_failed": 1`, `"fanout_partial_answers": 1`}},
		{"/metrics", []string{
			`rpcproxy_fanouts_total{cluster="mc"} 1`,
			`rpcproxy_fanout_subrequests_total{cluster="mc"} 3`,
			`rpcproxy_fanout_subrequests_failed_total{cluster="mc"} 1`,
			`rpcproxy_fanout_partial_answers_total{cluster="mc"} 1`,
			"# TYPE rpcproxy_fanout_partial_answers_total counter",
		}},
	}
	checkAdminPages(t, base, tests)
}

// adminPage is an admin endpoint and the texts its body must contain.
type adminPage struct {
	path string
	want []string
}

// checkAdminPages gets every page from the admin server at base and
// checks that its body contains each wanted text.
func checkAdminPages(t *testing.T, base string, pages []adminPage) {
	t.Helper()
	for _, tc := range pages {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get(base + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, w := range tc.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("%s lacks %q:\n%s", tc.path, w, body)
				}
			}
		})
	}
	http.DefaultClient.CloseIdleConnections()
}

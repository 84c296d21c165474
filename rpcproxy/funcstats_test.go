package rpcproxy

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// TestFunctionStats: every function routed to a cluster has its own
// requests, errors and latency in /stats and /metrics; an engine's error
// answer counts for its function only, and the counters survive a reload.
func TestFunctionStats(t *testing.T) {
	eng := startEngines(t, 1)
	eng[0].Handler = func(r *enginetest.Request) enginetest.Reply {
		if bytes.Contains(r.Req.Body, []byte("bad")) {
			return enginetest.Reply{ErrCode: rpc.CodeBadValue, ErrText: "bad key"}
		}
		return enginetest.Reply{}
	}
	cfg := oneShardConfig(eng[0].Addr, "")
	p := startProxy(t, parseConfig(t, cfg), Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, mainListen))
	qid := int64(0)
	call := func(body []byte) rpc.ReqResult {
		qid++
		return a.call(t, &rpc.InvokeReq{QueryID: qid, Body: body})
	}
	for _, k := range []string{"a", "b", "c"} {
		if res := call(getCall(t, k)); res.IsError() {
			t.Fatalf("get %s: %s", k, res.ErrorText)
		}
	}
	wantError(t, call(getCall(t, "bad")), rpc.CodeBadValue, "bad key")
	if err := p.Apply(parseConfig(t, cfg+"[[cluster.function]]\nname = \"memcache.set\"\n")); err != nil {
		t.Fatal(err)
	}
	if res := call(mcSet("a", "v")); res.IsError() {
		t.Fatalf("set: %s", res.ErrorText)
	}

	got := map[string]string{}
	for _, fn := range p.Snapshot().Clusters[0].Functions {
		got[fn.Name] = fmt.Sprintf("%d/%d/%d", fn.Requests, fn.Errors, fn.Timeouts)
	}
	want := map[string]string{"memcache.get": "4/1/0", "memcache.set": "1/0/0"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("/stats functions (requests/errors/timeouts): %v, want %v", got, want)
	}
	rec := httptest.NewRecorder()
	p.serveMetrics(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range []string{
		`rpcproxy_function_requests_total{cluster="mc",function="memcache.get"} 4`,
		`rpcproxy_function_errors_total{cluster="mc",function="memcache.get"} 1`,
		`rpcproxy_function_errors_total{cluster="mc",function="memcache.set"} 0`,
		`rpcproxy_function_latency_seconds_count{cluster="mc",function="memcache.get"} 4`,
		`rpcproxy_function_latency_seconds_count{cluster="mc",function="memcache.set"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	if strings.Contains(rec.Body.String(), `function="memcache.delete"`) {
		t.Error("/metrics lists a function that had no request")
	}
}

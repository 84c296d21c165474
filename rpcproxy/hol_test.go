package rpcproxy

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// A hung engine must not delay answers from another engine on the same app
// connection: answers come back by query id, in any order.
func TestSlowEngineDoesNotBlockOthers(t *testing.T) {
	eng := startEngines(t, 2)
	eng[0].Handler = func(*enginetest.Request) enginetest.Reply { return enginetest.Reply{Hold: true} }
	cfg := parseConfig(t, proxyHeader()+fmt.Sprintf(`
[[cluster]]
name = "slow"
actor_id = 1
shards = [{ replicas = [%q] }]
[[cluster]]
name = "fast"
actor_id = 2
shards = [{ replicas = [%q] }]
`, eng[0].Addr, eng[1].Addr))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, mainListen))
	for i := range 10 {
		a.send(t, &rpc.InvokeReq{QueryID: int64(100 + i), ActorID: 1, Body: getCall(t, "k")})
	}
	for i := range 10 {
		res := a.call(t, &rpc.InvokeReq{QueryID: int64(i + 1), ActorID: 2, Body: getCall(t, "k")})
		if res.IsError() {
			t.Fatalf("fast engine: %s", res.ErrorText)
		}
	}
	// Release answers what the engine holds now: wait until it holds all
	// 10 (the fast calls may finish before the slow engine has read them).
	waitFor(t, "the slow engine to hold all 10 requests", func() bool { return len(eng[0].Invokes()) == 10 })
	eng[0].Release()
	for range 10 {
		if res := a.result(t); res.QueryID < 100 || res.IsError() {
			t.Fatalf("held answer %+v", res)
		}
	}
}

// An app that stops reading its answers must not stall the engine reader
// that other apps' answers come through.
func TestSlowAppDoesNotBlockOthers(t *testing.T) {
	eng := startEngines(t, 1)
	cfg := parseConfig(t, oneShardConfig(eng[0].Addr, ""))
	p := startProxy(t, cfg, Options{NoAdmin: true, MaxAppPending: 1 << 20})
	slow := dialSilent(t, p.addr(t, mainListen))
	fast := dialApp(t, p.addr(t, mainListen))
	// The slow app never reads: the kernel buffers and then the proxy's
	// bounded per-app queue fill with ~100 KiB answers.
	big := getCall(t, strings.Repeat("x", 100<<10))
	for i := range 400 {
		req := &rpc.InvokeReq{QueryID: int64(i + 1), Body: big}
		if err := slow.WritePacket(rpc.TypeInvokeReq, rpc.AppendInvokeReqHeader(nil, req), big); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the slow app's answers to back up", func() bool {
		return p.Table().Cluster("mc").Stats.Answers.Load() >= 200
	})
	body := getCall(t, "k")
	for i := range 20 {
		res := fast.call(t, &rpc.InvokeReq{QueryID: int64(i + 1), Body: body})
		if res.IsError() || !bytes.Equal(res.Body, enginetest.Echo(eng[0].Addr, body)) {
			t.Fatalf("fast app: %+v", res)
		}
	}
}

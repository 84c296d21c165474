package rpcproxy

import (
	"net"
	"testing"

	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// An engine that dies is refused at once; when it is back on the same
// address a probe finds it and requests flow again.
func TestEngineComesBackAfterProbe(t *testing.T) {
	eng := startEngines(t, 1)
	addr := eng[0].Addr
	cfg := parseConfig(t, oneShardConfig(addr, `
[cluster.health]
probe_interval = "5ms"
probe_max_interval = "20ms"
`))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, mainListen))
	if res := a.call(t, &rpc.InvokeReq{QueryID: 1, Body: getCall(t, "k")}); res.IsError() {
		t.Fatal(string(res.ErrorText))
	}
	e := p.Table().Cluster("mc").Shards[0].Replicas[0]
	eng[0].Close()
	waitFor(t, "the engine marked down", func() bool { return !e.Health().Up() })
	res := a.call(t, &rpc.InvokeReq{QueryID: 2, Body: getCall(t, "k")})
	wantError(t, res, rpc.CodeNoConnections, addr)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	back := enginetest.StartOn(ln)
	t.Cleanup(back.Close)
	waitFor(t, "a probe to bring the engine back", e.Health().Up)
	if res := a.call(t, &rpc.InvokeReq{QueryID: 3, Body: getCall(t, "k")}); res.IsError() {
		t.Fatalf("after recovery: %s", res.ErrorText)
	}
	if e.Health().Downs() != 1 {
		t.Fatalf("%d downs, want 1", e.Health().Downs())
	}
}

// A reload that removes a cluster port finishes its app connections
// gracefully: they get rpcServerWantsFin.
func TestReloadClosesRemovedListener(t *testing.T) {
	eng := startEngines(t, 1)
	withPort := oneShardConfig(eng[0].Addr, `listen = "127.0.0.1:19312"`)
	p := startProxy(t, parseConfig(t, withPort), Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, "127.0.0.1:19312"))
	if res := a.call(t, &rpc.InvokeReq{QueryID: 1, Body: getCall(t, "k")}); res.IsError() {
		t.Fatal(string(res.ErrorText))
	}
	if err := p.Apply(parseConfig(t, oneShardConfig(eng[0].Addr, ""))); err != nil {
		t.Fatal(err)
	}
	if m := a.next(t); m.typ != rpc.TypeServerWantsFin {
		t.Fatalf("app on the removed port got %08x, want rpcServerWantsFin", m.typ)
	}
	if p.Addr(mustAddr("127.0.0.1:19312")) != nil {
		t.Fatal("removed listener still listed")
	}
	a.pc.Close()
}

package rpcproxy

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// TestResponseBudget: proxy.max_response_bytes_in_flight caps the answer
// bytes the proxy holds over all apps. An app that stops reading gets 12
// MiB of answers; its own cap (MaxAppPending, 32 MiB) would hold them
// all, so with a budget beyond that nothing is dropped. With a budget of 1
// MiB the answers beyond it become CONGESTION_CONTROL_DISCARD, and while
// it is full an app that reads keeps getting its answers, and a fan-out's
// shard answer (which would be held until the merge) is dropped: the
// diagonal answers Nothing for that shard. Once the slow app reads
// everything, nothing is held.
func TestResponseBudget(t *testing.T) {
	for _, tc := range []struct {
		budget  string
		discard bool
	}{{"64GiB", false}, {"1MiB", true}} {
		t.Run(tc.budget, func(t *testing.T) {
			eng := startEngines(t, 1)
			cfg := parseConfig(t, strings.Replace(oneShardConfig(eng[0].Addr, ""), "[proxy]\n",
				fmt.Sprintf("[proxy]\nmax_response_bytes_in_flight = %q\n", tc.budget), 1))
			p := startProxy(t, cfg, Options{NoAdmin: true, MaxAppPending: 32 << 20})
			slow := dialSilentBuffer(t, p.addr(t, mainListen), 16<<10)
			fast := dialApp(t, p.addr(t, mainListen))

			const n = 120
			big := getCall(t, strings.Repeat("x", 100<<10))
			for i := range n {
				req := &rpc.InvokeReq{QueryID: int64(i + 1), Body: big}
				if err := slow.WritePacket(rpc.TypeInvokeReq, rpc.AppendInvokeReqHeader(nil, req), big); err != nil {
					t.Fatal(err)
				}
			}
			budget := p.limits.Budget()
			waitFor(t, "the engine to answer every request of the slow app", func() bool {
				return p.Table().Cluster("mc").Stats.Answers.Load() >= n
			})
			if got := budget.Over(); got != tc.discard {
				t.Fatalf("budget over: %v (%d bytes held), want %v", got, budget.Held(), tc.discard)
			}

			body := getCall(t, "k")
			for i := range 20 {
				res := fast.call(t, &rpc.InvokeReq{QueryID: int64(i + 1), Body: body})
				if res.IsError() || !bytes.Equal(res.Body, enginetest.Echo(eng[0].Addr, body)) {
					t.Fatalf("reading app, answer %d: %+v", i, res)
				}
			}
			diag := fast.call(t, &rpc.InvokeReq{QueryID: 99, Body: append(tl.AppendUint32(nil, rpc.TagProxyDiagonal), body...)})
			wantDiag := tl.AppendUint32(tl.AppendUint32(tl.AppendUint32(nil, tl.TagVector), 1), tl.TagMaybeFalse)
			if !tc.discard {
				wantDiag = append(tl.AppendUint32(tl.AppendUint32(tl.AppendUint32(nil, tl.TagVector), 1), tl.TagMaybeTrue), enginetest.Echo(eng[0].Addr, body)...)
			}
			if diag.IsError() || !bytes.Equal(diag.Body, wantDiag) {
				t.Fatalf("diagonal with the budget over %v: %+v, want body %x", tc.discard, diag, wantDiag)
			}

			ok, dropped := 0, 0
			for range n {
				typ, b, err := slow.ReadPacket()
				if err != nil {
					t.Fatalf("slow app after %d answers: %v", ok+dropped, err)
				}
				var res rpc.ReqResult
				if err := rpc.ParseResult(typ, b, &res); err != nil {
					t.Fatal(err)
				}
				switch {
				case res.IsError() && res.ErrorCode == rpc.CodeCongestionControlDiscard:
					dropped++
				case res.IsError():
					t.Fatalf("slow app: error %d %s", res.ErrorCode, res.ErrorText)
				default:
					ok++
				}
			}
			if (dropped > 0) != tc.discard {
				t.Fatalf("budget %s: %d answers, %d dropped", tc.budget, ok, dropped)
			}
			t.Logf("budget %s: the app that did not read got %d answers and %d CONGESTION_CONTROL_DISCARD", tc.budget, ok, dropped)
			waitFor(t, "the held bytes to be given back", func() bool { return budget.Held() == 0 })
		})
	}
}

// TestAppLimitsAcrossListeners: proxy.max_connections counts the app
// connections of every listener together (the main port and a cluster's
// own), and a reload changes it, and max_request_size, for the listeners
// that stay open.
func TestAppLimitsAcrossListeners(t *testing.T) {
	eng := startEngines(t, 1)
	text := func(conns int, size string) string {
		return strings.Replace(proxyHeader(), "[proxy]\n", fmt.Sprintf("[proxy]\nmax_connections = %d\nmax_request_size = %q\n", conns, size), 1) +
			fmt.Sprintf(`
[[cluster]]
name = "mc"
functions = ["memcache.*"]
listen = "127.0.0.1:19311"
shards = [{ replicas = [%q] }]
`, eng[0].Addr)
	}
	p := startProxy(t, parseConfig(t, text(2, "1MiB")), Options{NoAdmin: true})
	main, port := p.addr(t, mainListen), p.addr(t, "127.0.0.1:19311")
	body := getCall(t, "k")
	for i, addr := range []string{main, main} {
		if res := dialApp(t, addr).call(t, &rpc.InvokeReq{QueryID: int64(i + 1), Body: body}); res.IsError() {
			t.Fatalf("connection %d: %s", i, res.ErrorText)
		}
	}
	refused := func(addr string) bool {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		pc, err := packet.ClientHandshake(nc, packet.Config{})
		if err != nil {
			return true
		}
		pc.Close()
		return false
	}
	if !refused(port) {
		t.Fatal("the cluster's port admitted a third app connection over max_connections = 2 (counted per listener?)")
	}

	if err := p.Apply(parseConfig(t, text(4, "1MiB"))); err != nil {
		t.Fatal(err)
	}
	if refused(port) {
		t.Fatal("the cluster's port refused a third app connection after a reload raised max_connections to 4")
	}
	old := dialApp(t, port)
	big := getCall(t, strings.Repeat("x", 600<<10))
	if res := old.call(t, &rpc.InvokeReq{QueryID: 7, Body: big}); res.IsError() {
		t.Fatalf("600 KiB request under max_request_size 1MiB: %s", res.ErrorText)
	}

	// Lowered to 512 KiB: a connection made after the reload has its
	// 600 KiB request refused (the connection is closed); one made before
	// keeps the size it was accepted with.
	if err := p.Apply(parseConfig(t, text(10, "512KiB"))); err != nil {
		t.Fatal(err)
	}
	if res := old.call(t, &rpc.InvokeReq{QueryID: 8, Body: big}); res.IsError() {
		t.Fatalf("600 KiB request on a connection older than the reload: %s", res.ErrorText)
	}
	a := dialApp(t, main)
	a.send(t, &rpc.InvokeReq{QueryID: 9, Body: big})
	select {
	case m, ok := <-a.msgs:
		if ok {
			t.Fatalf("600 KiB request over max_request_size 512KiB answered: type %x", m.typ)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("600 KiB request over max_request_size 512KiB: connection not closed")
	}
}

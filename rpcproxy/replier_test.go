package rpcproxy

import (
	"net"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// TestSlowAppAnswersReplaced: an app that sends but does not read gets
// its answers replaced by CONGESTION_CONTROL_DISCARD once its connection's
// pending bytes reach the limit (answered from the engine's reader, which
// never waits for it). If even those short errors stop fitting, the proxy
// closes the connection (tl/rpc/server's TestTryReplyResultFull covers
// that step); reading ends then.
func TestSlowAppAnswersReplaced(t *testing.T) {
	eng := startEngines(t, 1)
	cfg := parseConfig(t, oneShardConfig(eng[0].Addr, ""))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	// A small receive buffer stops the kernel from absorbing megabytes of
	// answers (loopback autotuning), so the proxy's side fills quickly.
	nc, err := net.Dial("tcp", p.addr(t, mainListen))
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	app, err := packet.ClientHandshake(nc, packet.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	big := getCall(t, strings.Repeat("x", 100<<10))
	small := getCall(t, "k")
	const bigN, smallN = 300, 2000
	sent := 0
	for i := range bigN + smallN {
		body := small
		if i < bigN {
			body = big
		}
		req := &rpc.InvokeReq{QueryID: int64(i + 1), Body: body}
		if err := app.WritePacket(rpc.TypeInvokeReq, rpc.AppendInvokeReqHeader(nil, req), body); err != nil {
			break // closed by the proxy already
		}
		sent++
	}
	answers, discards := 0, 0
	for answers < sent {
		typ, raw, err := app.ReadPacket()
		if err != nil {
			break
		}
		var res rpc.ReqResult
		if err := rpc.ParseResult(typ, raw, &res); err != nil {
			t.Fatalf("answer %d: %v", answers, err)
		}
		answers++
		if res.IsError() && res.ErrorCode == rpc.CodeCongestionControlDiscard {
			discards++
		}
	}
	if discards == 0 {
		t.Fatalf("%d answers of %d sent, none CONGESTION_CONTROL_DISCARD", answers, sent)
	}
	t.Logf("%d sent, %d answers read, %d of them discarded", sent, answers, discards)
}

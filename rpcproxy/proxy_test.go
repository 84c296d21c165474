package rpcproxy

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// routingConfig: "mc" by function on the main port (2 shards), "users" by
// actor id 7, "port" by its own listen address.
func routingConfig(eng []*enginetest.Server) string {
	return proxyHeader() + fmt.Sprintf(`
[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "hash"
shards = [{ replicas = [%q] }, { replicas = [%q] }]

[[cluster]]
name = "users"
actor_id = 7
shards = [{ replicas = [%q] }]

[[cluster]]
name = "port"
listen = "127.0.0.1:19310"
shards = [{ replicas = [%q] }]
`, eng[0].Addr, eng[1].Addr, eng[2].Addr, eng[3].Addr)
}

func TestRouting(t *testing.T) {
	eng := startEngines(t, 4)
	cfg := parseConfig(t, routingConfig(eng))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	mc := p.Table().Cluster("mc")
	shardOf := func(key string) int {
		i, err := mc.Picker.Pick([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	main := dialApp(t, p.addr(t, mainListen))
	port := dialApp(t, p.addr(t, "127.0.0.1:19310"))
	tests := []struct {
		name   string
		app    *app
		actor  int64
		key    string
		engine int
	}{
		{"function to shard of a", main, 0, "a", shardOf("a")},
		{"function to shard of b", main, 0, "b", shardOf("b")},
		{"function to shard of photo100_500", main, 0, "photo100_500", shardOf("photo100_500")},
		{"actor id", main, 7, "a", 2},
		{"cluster port", port, 0, "a", 3},
		{"actor id wins on a cluster port", port, 7, "a", 2},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := getCall(t, tc.key)
			req := &rpc.InvokeReq{QueryID: int64(1000 + i), ActorID: tc.actor, Body: body}
			res := tc.app.call(t, req)
			if res.IsError() {
				t.Fatalf("error %d %s", res.ErrorCode, res.ErrorText)
			}
			want := eng[tc.engine]
			if !bytes.Equal(res.Body, enginetest.Echo(want.Addr, body)) {
				t.Fatalf("answer %q, want engine %d's echo", res.Body, tc.engine)
			}
			got := nextInvoke(t, want)
			// What the engine receives: a new query id, no actor, the
			// time left as custom_timeout_ms, the body as sent.
			if !bytes.Equal(got.Req.Body, body) || got.Req.ActorID != 0 {
				t.Fatalf("engine got %+v", got.Req)
			}
			if ms, ok := got.Req.Extra.Timeout(); !ok || ms <= 0 || int64(ms) > headerTimeout.Milliseconds() {
				t.Fatalf("engine got custom_timeout_ms %d %v, want (0, %d]", ms, ok, headerTimeout.Milliseconds())
			}
			if got.Req.Extra.Flags != rpc.FlagCustomTimeoutMs {
				t.Fatalf("engine got extra flags %#x", got.Req.Extra.Flags)
			}
		})
	}
}

func TestNoTarget(t *testing.T) {
	eng := startEngines(t, 4)
	cfg := parseConfig(t, routingConfig(eng))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, mainListen))
	tests := []struct {
		name  string
		actor int64
		body  []byte
		want  string
	}{
		{"unknown actor", 99, getCall(t, "a"), "no cluster has actor id 99"},
		{"unknown function", 0, tl.AppendUint32(nil, 0xabcdef01), "no cluster for function #abcdef01 (not in the schemas): no actor id, 127.0.0.1:19300 is not a cluster's port"},
		// A vector key (getMulti) is split across shards: fanout_test.go.
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := a.call(t, &rpc.InvokeReq{QueryID: int64(i + 1), ActorID: tc.actor, Body: tc.body})
			wantError(t, res, rpc.CodeProxyNoTarget, tc.want)
		})
	}
	for _, e := range eng {
		if n := len(e.Invokes()); n != 0 {
			t.Errorf("engine %s got %d requests for unroutable calls", e.Addr, n)
		}
	}
}

func TestForwardKeysReachEngine(t *testing.T) {
	eng := startEngines(t, 4)
	cfg := parseConfig(t, routingConfig(eng))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	mc := p.Table().Cluster("mc")
	a := dialApp(t, p.addr(t, mainListen))
	tests := []struct {
		name      string
		extra     rpc.InvokeReqExtra
		routeKey  string
		wantExtra rpc.InvokeReqExtra
	}{
		{"string_forward_keys: first used and removed",
			rpc.InvokeReqExtra{Flags: rpc.FlagStringForwardKeys, StringForwardKeys: rpc.MakeStringVector("k1", "k2")}, "k1",
			rpc.InvokeReqExtra{Flags: rpc.FlagStringForwardKeys, StringForwardKeys: rpc.MakeStringVector("k2")}},
		{"int_forward_keys: first used and removed",
			rpc.InvokeReqExtra{Flags: rpc.FlagIntForwardKeys, IntForwardKeys: rpc.MakeLongVector(5, 6)}, "5",
			rpc.InvokeReqExtra{Flags: rpc.FlagIntForwardKeys, IntForwardKeys: rpc.MakeLongVector(6)}},
		{"string_forward kept",
			rpc.InvokeReqExtra{Flags: rpc.FlagStringForward, StringForward: []byte("k3")}, "k3",
			rpc.InvokeReqExtra{Flags: rpc.FlagStringForward, StringForward: []byte("k3")}},
		{"int_forward kept",
			rpc.InvokeReqExtra{Flags: rpc.FlagIntForward, IntForward: 77}, "77",
			rpc.InvokeReqExtra{Flags: rpc.FlagIntForward, IntForward: 77}},
		{"other extra fields pass through",
			rpc.InvokeReqExtra{Flags: rpc.FlagReturnPid | rpc.FlagRequesterID | rpc.FlagStringForward, RequesterID: 9, StringForward: []byte("k4")}, "k4",
			rpc.InvokeReqExtra{Flags: rpc.FlagReturnPid | rpc.FlagRequesterID | rpc.FlagStringForward, RequesterID: 9, StringForward: []byte("k4")}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := getCall(t, "body-key-ignored")
			tc.extra.SetCustomTimeoutMs(1500)
			res := a.call(t, &rpc.InvokeReq{QueryID: int64(i + 1), Extra: tc.extra, Body: body})
			if res.IsError() {
				t.Fatalf("error %d %s", res.ErrorCode, res.ErrorText)
			}
			shard, _ := mc.Picker.Pick([]byte(tc.routeKey))
			got := nextInvoke(t, eng[shard])
			// Exactly what the engine receives: the envelope with the
			// engine's query id and the expected extra; custom_timeout_ms
			// is the time left, at most the app's 1500.
			ms, ok := got.Req.Extra.Timeout()
			if !ok || ms > 1500 {
				t.Fatalf("custom_timeout_ms %d %v", ms, ok)
			}
			want := rpc.InvokeReq{QueryID: got.Req.QueryID, Extra: tc.wantExtra, Body: body}
			want.Extra.SetCustomTimeoutMs(ms)
			if wantRaw := rpc.AppendInvokeReq(nil, &want); !bytes.Equal(got.Raw, wantRaw) {
				t.Fatalf("engine got\n%x\nwant\n%x", got.Raw, wantRaw)
			}
		})
	}
}

func TestEngineErrorsPassThrough(t *testing.T) {
	eng := startEngines(t, 4)
	eng[2].Handler = func(*enginetest.Request) enginetest.Reply {
		return enginetest.Reply{ErrCode: -5001, ErrText: "engine says no"}
	}
	cfg := parseConfig(t, routingConfig(eng))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	a := dialApp(t, p.addr(t, mainListen))
	res := a.call(t, &rpc.InvokeReq{QueryID: 42, ActorID: 7, Body: getCall(t, "a")})
	wantError(t, res, -5001, "engine says no")
	if res.ErrorForm != rpc.ErrorFormNested {
		t.Fatalf("error form %v, want nested (the one KPHP parses)", res.ErrorForm)
	}
}

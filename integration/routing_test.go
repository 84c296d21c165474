package integration

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	vk "github.com/VKCOM/tl/pkg/rpc"

	"github.com/rpcproxy/rpcproxy/engines/events"
	"github.com/rpcproxy/rpcproxy/engines/memcache"
	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// TestRouteByKey: keys written through the proxy land on exactly the
// engine `rpcproxy route` names, and read back through the proxy.
func TestRouteByKey(t *testing.T) {
	mc := startEngines(t, "memcache", 4)
	p := startProxy(t, newConfig(t, cluster{name: "mc", functions: []string{"memcache.*"}, engines: mc}))
	a := newApp(t)
	// The ring is built from the engines' (random) ports, so which keys
	// land where changes from run to run: keep writing keys, at least 24,
	// until every shard has had one. 400 keys all missing one shard would
	// take a shard holding under 1% of the ring.
	const minKeys, maxKeys = 24, 400
	used := map[int]bool{}
	n := 0
	for ; n < maxKeys && (n < minKeys || len(used) < len(mc)); n++ {
		key := fmt.Sprintf("user:%d", n)
		a.set(t, p.addr, key, "v"+key, callOpts{})
		want := p.shardOf(t, "mc", key, false)
		if got := holder(t, a, mc, key); got != want {
			t.Fatalf("%q stored on engine %d, rpcproxy route says shard %d", key, got, want)
		}
		used[want] = true
		if v, ok := a.mustGet(t, p.addr, key); !ok || v != "v"+key {
			t.Fatalf("get %q through the proxy: %q %v", key, v, ok)
		}
	}
	if len(used) != len(mc) {
		t.Fatalf("%d keys used shards %v of %d: placement looks broken", n, used, len(mc))
	}
}

// TestRouteByActorPortAndFunction: one proxy, three ways in. memcache.*
// goes to cluster mc by function name, events.* to cluster ev by function
// name, actor id 7 and the side cluster's own port both reach side
// whatever the function; an actor id that names no cluster is refused.
func TestRouteByActorPortAndFunction(t *testing.T) {
	mc := startEngines(t, "memcache", 2)
	side := startEngines(t, "memcache", 1)
	ev := startEngines(t, "events", 1)
	c := newConfig(t,
		cluster{name: "mc", functions: []string{"memcache.*"}, engines: mc},
		cluster{name: "ev", functions: []string{"events.*"}, engines: ev},
		cluster{name: "side", actor: 7, listen: freeAddr(t), engines: side},
	)
	c.schemas = append(c.schemas, schemaPath(t, "events"))
	p := startProxy(t, c)
	a := newApp(t)

	a.set(t, p.addr, "by-function", "1", callOpts{})
	a.set(t, p.addr, "by-actor", "2", callOpts{actor: 7})
	a.set(t, c.clusters[2].listen, "by-port", "3", callOpts{})
	for _, key := range []string{"by-actor", "by-port"} {
		if v, ok := a.mustGet(t, side[0].addr, key); !ok {
			t.Errorf("%q not on the side engine (got %q)", key, v)
		}
		for i, e := range mc {
			if _, ok := a.mustGet(t, e.addr, key); ok {
				t.Errorf("%q also on mc engine %d", key, i)
			}
		}
	}
	if _, ok := a.mustGet(t, side[0].addr, "by-function"); ok {
		t.Error(`"by-function" reached the side cluster`)
	}
	holder(t, a, mc, "by-function")

	// events.add by function name: only the events engine knows it (a
	// memcache engine would answer UNKNOWN_FUNCTION_ID).
	add := tl.AppendString(tl.AppendUint32(nil, events.TagAdd), "k")
	add = tl.AppendString(tl.AppendInt64(add, 100), "hello")
	if _, err := a.call(p.addr, add, callOpts{}); err != nil {
		t.Fatalf("events.add through the proxy: %v", err)
	}
	count := tl.AppendString(tl.AppendUint32(nil, events.TagCount), "hello")
	got, err := a.call(ev[0].addr, count, callOpts{})
	if want := tl.AppendInt32(tl.AppendUint32(nil, tl.TagInt), 1); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("events.count on the events engine: %x %v, want %x", got, err, want)
	}

	// An actor id that names no cluster is refused, never routed by
	// function instead.
	if _, _, err := a.get(p.addr, "x", callOpts{actor: 99}); codeOf(err) != rpc.CodeProxyNoTarget {
		t.Fatalf("actor 99: %v, want PROXY_NO_TARGET", err)
	}
}

// TestForwardKeys: int_forward and string_forward_keys choose the shard
// instead of the body's key; what the engine stores is the body's key on
// the shard the forward key names. A recording engine behind its own
// cluster shows the first string_forward_keys element removed on the way
// and int_forward kept.
func TestForwardKeys(t *testing.T) {
	mc := startEngines(t, "memcache", 4)
	rec, err := enginetest.Start() // in-process: it logs what it receives
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rec.Close)
	c := newConfig(t,
		cluster{name: "mc", functions: []string{"memcache.*"}, engines: mc},
		cluster{name: "rec", actor: 42, engines: []*engine{{addr: rec.Addr}}},
	)
	p := startProxy(t, c)
	a := newApp(t)

	// A forward key whose shard differs from the body key's, so the test
	// tells the two apart.
	const body = "fk-body"
	own := p.shardOf(t, "mc", body, false)
	var ik int64
	for ik = 1; p.shardOf(t, "mc", fmt.Sprint(ik), true) == own; ik++ {
	}
	var sk string
	for i := 0; ; i++ {
		if sk = fmt.Sprintf("fwd-%d", i); p.shardOf(t, "mc", sk, false) != own {
			break
		}
	}

	a.set(t, p.addr, body, "int", callOpts{edit: func(x *vk.RequestExtra) { x.SetIntForward(ik) }})
	if got, want := holder(t, a, mc, body), p.shardOf(t, "mc", fmt.Sprint(ik), true); got != want {
		t.Fatalf("int_forward %d: stored on engine %d, want shard %d (the body key's is %d)", ik, got, want, own)
	}
	if v, ok, err := a.get(p.addr, body, callOpts{edit: func(x *vk.RequestExtra) { x.SetIntForward(ik) }}); err != nil || !ok || v != "int" {
		t.Fatalf("get with the same int_forward: %q %v %v", v, ok, err)
	}
	_, _ = a.call(mc[holder(t, a, mc, body)].addr, tl.AppendString(tl.AppendUint32(nil, memcache.TagDelete), body), callOpts{})

	a.set(t, p.addr, body, "str", callOpts{edit: func(x *vk.RequestExtra) { x.SetStringForwardKeys([]string{sk, "second"}) }})
	if got, want := holder(t, a, mc, body), p.shardOf(t, "mc", sk, false); got != want {
		t.Fatalf("string_forward_keys [%s second]: stored on engine %d, want shard %d (the body key's is %d)", sk, got, want, own)
	}

	// What an engine receives: the first string forward key is gone, the
	// second is left for the next hop; int_forward stays.
	if _, err := a.call(p.addr, mcGet("x"), callOpts{actor: 42, edit: func(x *vk.RequestExtra) {
		x.SetStringForwardKeys([]string{"first", "second"})
		x.SetIntForward(5)
	}}); err != nil {
		t.Fatalf("call to the recording engine: %v", err)
	}
	inv := rec.Invokes()
	if len(inv) != 1 {
		t.Fatalf("the recording engine received %d requests, want 1", len(inv))
	}
	got := inv[0].Req.Extra
	var keys []string
	for k := range got.StringForwardKeys.All() {
		keys = append(keys, string(k))
	}
	if !slices.Equal(keys, []string{"second"}) || got.Flags&rpc.FlagIntForward == 0 || got.IntForward != 5 {
		t.Fatalf("engine received string_forward_keys %q, int_forward %d (flags %#x); want [second] and 5", keys, got.IntForward, got.Flags)
	}
}

package events

import (
	"bytes"
	"testing"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/engines/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

// startEngine runs an events engine on 127.0.0.1:0 until the test ends.
func startEngine(t testing.TB) (string, *Store) {
	t.Helper()
	st, _ := newStore(t, Config{})
	return enginetest.Start(t, engines.Config{Kind: "events", Version: "events-test", Funcs: st.Funcs(), Stats: st.Stats}), st
}

// wireCases are calls and their expected answers or error codes, in order.
func wireCases(t testing.TB) []enginetest.WireCase {
	return []enginetest.WireCase{
		{Name: "add", Req: enginetest.Unhex(t, "00502dfa 05757365 72310000 e803000000000000 0568656c 6c6f0000"), Want: enginetest.Unhex(t, "ba6c0722 0100000000000000")},
		{Name: "add 2", Req: add("user2", 2000, "help"), Want: long(2)},
		{Name: "add 3", Req: add("user1", 1500, "bye"), Want: long(3)},
		{Name: "search", Req: enginetest.Unhex(t, "ebc11254 02686500 0a000000"), Want: vector(ev{2, 2000, "user2", "help"}, ev{1, 1000, "user1", "hello"})},
		{Name: "search limit 1", Req: search("", 1), Want: vector(ev{2, 2000, "user2", "help"})},
		{Name: "list", Req: list("user1", 0), Want: vector(ev{1, 1000, "user1", "hello"}, ev{3, 1500, "user1", "bye"})},
		{Name: "count", Req: byQuery(TagCount, "e"), Want: int32v(3)},
		{Name: "minTs", Req: byQuery(TagMinTs, "hel"), Want: long(1000)},
		{Name: "firstMatch", Req: byQuery(TagFirstMatch, "bye"), Want: just(ev{3, 1500, "user1", "bye"})},
		{Name: "has", Req: byQuery(TagHas, "zzz"), Want: boolean(false)},
		{Name: "limit too large", Req: search("", MaxLimit+1), Code: rpc.CodeValueNotInRange},
		{Name: "negative ts", Req: add("k", -5, ""), Code: rpc.CodeValueNotInRange},
		{Name: "trailing", Req: append(search("", 1), 0, 0, 0, 0), Code: rpc.CodeExtraData},
		{Name: "truncated", Req: tl.AppendUint32(nil, TagAdd), Code: rpc.CodeSyntax},
	}
}

// TestOurClient: tl/rpc/client against the engine.
func TestOurClient(t *testing.T) {
	enginetest.LeakCheck(t)
	addr, st := startEngine(t)
	cl, err := client.New(addr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := enginetest.Context(t)
	var resp client.Response
	do := func(body []byte) ([]byte, error) {
		err := cl.Do(ctx, &client.Request{Body: body}, &resp)
		return resp.Body, err
	}
	enginetest.CheckWire(t, wireCases(t), do, enginetest.RPCCode)
	if st.Len() != 3 {
		t.Fatalf("Len %d, want 3", st.Len())
	}
}

// TestVKClient: VK's own Go client calls events.add and events.search
// (and the rest of the cases), reads our errors as *vk.Error, and sees
// the events counters in engine.stat.
func TestVKClient(t *testing.T) {
	enginetest.LeakCheck(t)
	addr, _ := startEngine(t)
	ctx := enginetest.Context(t)
	vkDo := enginetest.VKDo(t, addr)
	do := func(body []byte) ([]byte, error) { return vkDo(ctx, body) }
	enginetest.CheckWire(t, wireCases(t), do, enginetest.VKCode)
	got, err := do(tl.AppendUint32(nil, engines.TagEngineStat))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"events", "3"}, {"events_last_id", "3"}, {"calls.events.search", "4"}, {"errors.events.search", "2"}, {"engine", "events"}} {
		pair := tl.AppendString(tl.AppendString(nil, kv[0]), kv[1])
		if !bytes.Contains(got, pair) {
			t.Errorf("engine.stat lacks %s=%s", kv[0], kv[1])
		}
	}
}

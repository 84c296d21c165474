package memcache

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/engines/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

// startEngine runs a memcache engine on 127.0.0.1:0 until the test ends.
func startEngine(t testing.TB) (string, *Store) {
	t.Helper()
	st, _ := newStore(t, Config{})
	return enginetest.Start(t, engines.Config{Kind: "memcache", Version: "memcache-test", Funcs: st.Funcs(), Stats: st.Stats}), st
}

// wireCases are calls and their expected answers or error codes, in order.
func wireCases(t testing.TB) []enginetest.WireCase {
	return []enginetest.WireCase{
		{Name: "get missing", Req: enginetest.Unhex(t, "ae133bd3 03666f6f"), Want: enginetest.Unhex(t, "2224c432")},
		{Name: "set", Req: enginetest.Unhex(t, "c454ebee 03666f6f 01000000 00000000 03626172"), Want: enginetest.Unhex(t, "b5757299")},
		{Name: "get hit", Req: enginetest.Unhex(t, "ae133bd3 03666f6f"), Want: enginetest.Unhex(t, "1abbbea6 03626172 01000000")},
		{Name: "add existing", Req: write(TagAdd, "foo", 0, 0, "x"), Want: boolean(false)},
		{Name: "incr non-numeric", Req: incr(TagIncr, "foo", 1), Code: rpc.CodeBadValue},
		{Name: "set counter", Req: set("n", 0, 0, "10"), Want: boolean(true)},
		{Name: "decr", Req: incr(TagDecr, "n", 3), Want: longValue(7, 0)},
		{Name: "getMulti", Req: getMulti("n", "none", "foo"), Want: vector(longValue(7, 0), notFound(), strValue("bar", 1))},
		{Name: "delete", Req: del("foo"), Want: boolean(true)},
		{Name: "trailing", Req: append(get("foo"), 0, 0, 0, 0), Code: rpc.CodeExtraData},
		{Name: "unknown", Req: tl.AppendUint32(nil, 0x12345678), Code: rpc.CodeUnknownFunctionID},
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
	if err := cl.Do(ctx, &client.Request{Body: tl.AppendUint32(nil, engines.TagEnginePID)}, &resp); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.ExpectTag(resp.Body, tl.TagNetPid); err != nil || len(resp.Body) != 16 {
		t.Fatalf("engine.pid answer %x: %v", resp.Body, err)
	}
	if st.Len() != 1 {
		t.Fatalf("Len %d, want 1", st.Len())
	}
}

// TestVKClient: VK's own Go client calls memcache.set/get, engine.pid
// and engine.version, and reads our errors as *vk.Error.
func TestVKClient(t *testing.T) {
	enginetest.LeakCheck(t)
	addr, _ := startEngine(t)
	ctx := enginetest.Context(t)
	vkDo := enginetest.VKDo(t, addr)
	do := func(body []byte) ([]byte, error) { return vkDo(ctx, body) }
	enginetest.CheckWire(t, wireCases(t), do, enginetest.VKCode)
	got, err := do(tl.AppendUint32(nil, engines.TagEnginePID))
	if err != nil || len(got) != 16 {
		t.Fatalf("engine.pid: %x %v", got, err)
	}
	got, err = do(tl.AppendUint32(nil, engines.TagEngineVersion))
	if want := tl.AppendString(tl.AppendUint32(nil, tl.TagString), "memcache-test"); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("engine.version: %x %v", got, err)
	}
}

// TestVKClientStall: VK's client times out against a stalled engine, and
// the late answers released by clearing the stall do not confuse it.
func TestVKClientStall(t *testing.T) {
	enginetest.LeakCheck(t)
	addr, _ := startEngine(t)
	do := enginetest.VKDo(t, addr)
	ctx := enginetest.Context(t)
	if _, err := do(ctx, engines.AppendDebugSetFaults(nil, engines.Faults{Stall: true})); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err := do(short, get("foo"))
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("stalled get: %v, want a deadline error", err)
		}
	}
	if _, err := do(ctx, engines.AppendDebugSetFaults(nil, engines.Faults{})); err != nil {
		t.Fatal(err)
	}
	if got, err := do(ctx, set("foo", 0, 0, "bar")); err != nil || !bytes.Equal(got, boolean(true)) {
		t.Fatalf("set after the stall: %x %v", got, err)
	}
	if got, err := do(ctx, get("foo")); err != nil || !bytes.Equal(got, strValue("bar", 0)) {
		t.Fatalf("get after the stall: %x %v", got, err)
	}
}

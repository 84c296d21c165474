package memcache

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	vk "github.com/VKCOM/tl/pkg/rpc"
	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

const wait = 10 * time.Second

func leakCheck(t testing.TB) {
	t.Helper()
	t.Cleanup(func() {
		// VK's client starts a process-wide CPU usage sampler that never ends.
		goleak.VerifyNone(t, goleak.IgnoreTopFunction("github.com/VKCOM/tl/internal/vkgo/pkg/srvfunc.(*CPUInfo).thisProcessCpuUsageLoop"))
	})
}

// startEngine runs a memcache engine on 127.0.0.1:0 until the test ends.
func startEngine(t testing.TB) (string, *Store) {
	t.Helper()
	st, _ := newStore(t, Config{})
	srv, err := engines.New(engines.Config{Kind: "memcache", Version: "memcache-test", Funcs: st.Funcs(), Stats: st.Stats})
	if err != nil {
		t.Fatal(err)
	}
	a, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return a.String(), st
}

func ctxWait(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// wireCase is a call and its expected answer or error code.
type wireCase struct {
	name string
	req  []byte
	want []byte
	code int32
}

func wireCases(t testing.TB) []wireCase {
	return []wireCase{
		{"get missing", unhex(t, "ae133bd3 03666f6f"), unhex(t, "2224c432"), 0},
		{"set", unhex(t, "c454ebee 03666f6f 01000000 00000000 03626172"), unhex(t, "b5757299"), 0},
		{"get hit", unhex(t, "ae133bd3 03666f6f"), unhex(t, "1abbbea6 03626172 01000000"), 0},
		{"add existing", write(TagAdd, "foo", 0, 0, "x"), boolean(false), 0},
		{"incr non-numeric", incr(TagIncr, "foo", 1), nil, rpc.CodeBadValue},
		{"set counter", set("n", 0, 0, "10"), boolean(true), 0},
		{"decr", incr(TagDecr, "n", 3), longValue(7, 0), 0},
		{"getMulti", getMulti("n", "none", "foo"), vector(longValue(7, 0), notFound(), strValue("bar", 1)), 0},
		{"delete", del("foo"), boolean(true), 0},
		{"trailing", append(get("foo"), 0, 0, 0, 0), nil, rpc.CodeExtraData},
		{"unknown", tl.AppendUint32(nil, 0x12345678), nil, rpc.CodeUnknownFunctionID},
	}
}

// TestOurClient: tl/rpc/client against the engine.
func TestOurClient(t *testing.T) {
	leakCheck(t)
	addr, st := startEngine(t)
	cl, err := client.New(addr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := ctxWait(t)
	var resp client.Response
	for _, tc := range wireCases(t) {
		err := cl.Do(ctx, &client.Request{Body: tc.req}, &resp)
		var e *rpc.Error
		switch {
		case tc.code != 0:
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Fatalf("%s: %v, want code %d", tc.name, err, tc.code)
			}
		case err != nil || !bytes.Equal(resp.Body, tc.want):
			t.Fatalf("%s: %x %v, want %x", tc.name, resp.Body, err, tc.want)
		}
	}
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
	leakCheck(t)
	addr, _ := startEngine(t)
	cl := vk.NewClient(vk.ClientWithLogf(func(string, ...any) {}))
	defer cl.Close()
	ctx := ctxWait(t)
	do := func(body []byte) ([]byte, error) {
		req := cl.GetRequest()
		req.Body = append(req.Body[:0], body...)
		resp, err := cl.Do(ctx, "tcp4", addr, req)
		if err != nil {
			return nil, err
		}
		defer cl.PutResponse(resp)
		return bytes.Clone(resp.Body), nil
	}
	for _, tc := range wireCases(t) {
		got, err := do(tc.req)
		var e *vk.Error
		switch {
		case tc.code != 0:
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Fatalf("%s: %v, want code %d", tc.name, err, tc.code)
			}
		case err != nil || !bytes.Equal(got, tc.want):
			t.Fatalf("%s: %x %v, want %x", tc.name, got, err, tc.want)
		}
	}
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
	leakCheck(t)
	addr, _ := startEngine(t)
	cl := vk.NewClient(vk.ClientWithLogf(func(string, ...any) {}))
	defer cl.Close()
	do := func(ctx context.Context, body []byte) ([]byte, error) {
		req := cl.GetRequest()
		req.Body = append(req.Body[:0], body...)
		resp, err := cl.Do(ctx, "tcp4", addr, req)
		if err != nil {
			return nil, err
		}
		defer cl.PutResponse(resp)
		return bytes.Clone(resp.Body), nil
	}
	ctx := ctxWait(t)
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

package events

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

// startEngine runs an events engine on 127.0.0.1:0 until the test ends.
func startEngine(t testing.TB) (string, *Store) {
	t.Helper()
	st, _ := newStore(t, Config{})
	srv, err := engines.New(engines.Config{Kind: "events", Version: "events-test", Funcs: st.Funcs(), Stats: st.Stats})
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

// wireCase is a call and its expected answer or error code, in order.
type wireCase struct {
	name string
	req  []byte
	want []byte
	code int32
}

func wireCases(t testing.TB) []wireCase {
	return []wireCase{
		{"add", unhex(t, "00502dfa 05757365 72310000 e803000000000000 0568656c 6c6f0000"), unhex(t, "ba6c0722 0100000000000000"), 0},
		{"add 2", add("user2", 2000, "help"), long(2), 0},
		{"add 3", add("user1", 1500, "bye"), long(3), 0},
		{"search", unhex(t, "ebc11254 02686500 0a000000"), vector(ev{2, 2000, "user2", "help"}, ev{1, 1000, "user1", "hello"}), 0},
		{"search limit 1", search("", 1), vector(ev{2, 2000, "user2", "help"}), 0},
		{"list", list("user1", 0), vector(ev{1, 1000, "user1", "hello"}, ev{3, 1500, "user1", "bye"}), 0},
		{"count", byQuery(TagCount, "e"), int32v(3), 0},
		{"minTs", byQuery(TagMinTs, "hel"), long(1000), 0},
		{"firstMatch", byQuery(TagFirstMatch, "bye"), just(ev{3, 1500, "user1", "bye"}), 0},
		{"has", byQuery(TagHas, "zzz"), boolean(false), 0},
		{"limit too large", search("", MaxLimit+1), nil, rpc.CodeValueNotInRange},
		{"negative ts", add("k", -5, ""), nil, rpc.CodeValueNotInRange},
		{"trailing", append(search("", 1), 0, 0, 0, 0), nil, rpc.CodeExtraData},
		{"truncated", tl.AppendUint32(nil, TagAdd), nil, rpc.CodeSyntax},
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
	if st.Len() != 3 {
		t.Fatalf("Len %d, want 3", st.Len())
	}
}

// TestVKClient: VK's own Go client calls events.add and events.search
// (and the rest of the cases), reads our errors as *vk.Error, and sees
// the events counters in engine.stat.
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

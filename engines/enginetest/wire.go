package enginetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	vk "github.com/VKCOM/tl/pkg/rpc"
	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// Wait bounds every network wait in the wire tests.
const Wait = 10 * time.Second

// LeakCheck verifies, when the test ends, that it left no goroutines
// behind. Call it first, so that its check runs after every other cleanup.
func LeakCheck(t testing.TB) {
	t.Helper()
	t.Cleanup(func() {
		// VK's client starts a process-wide CPU usage sampler that never ends.
		goleak.VerifyNone(t, goleak.IgnoreTopFunction("github.com/VKCOM/tl/internal/vkgo/pkg/srvfunc.(*CPUInfo).thisProcessCpuUsageLoop"))
	})
}

// Context is a context that ends after Wait or with the test.
func Context(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	t.Cleanup(cancel)
	return ctx
}

// Start runs an engine server with cfg on 127.0.0.1:0 until the test ends
// and returns its address.
func Start(t testing.TB, cfg engines.Config) string {
	t.Helper()
	srv, err := engines.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return a.String()
}

// VKDo returns a function that calls addr with VK's own Go client and
// returns a copy of the answer body. The client is closed when the test
// ends.
func VKDo(t testing.TB, addr string) func(ctx context.Context, body []byte) ([]byte, error) {
	t.Helper()
	cl := vk.NewClient(vk.ClientWithLogf(func(string, ...any) {}))
	t.Cleanup(func() { _ = cl.Close() })
	return func(ctx context.Context, body []byte) ([]byte, error) {
		req := cl.GetRequest()
		req.Body = append(req.Body[:0], body...)
		resp, err := cl.Do(ctx, "tcp4", addr, req)
		if err != nil {
			return nil, err
		}
		defer cl.PutResponse(resp)
		return bytes.Clone(resp.Body), nil
	}
}

// WireCase is a call and its expected answer or, when Code is not 0, its
// expected TL error code.
type WireCase struct {
	Name string
	Req  []byte
	Want []byte
	Code int32
}

// RPCCode is the code of an *rpc.Error (our client's errors) in err.
func RPCCode(err error) (int32, bool) {
	var e *rpc.Error
	if !errors.As(err, &e) {
		return 0, false
	}
	return e.Code, true
}

// VKCode is the code of a *vk.Error (VK's client's errors) in err.
func VKCode(err error) (int32, bool) {
	var e *vk.Error
	if !errors.As(err, &e) {
		return 0, false
	}
	return e.Code, true
}

// CheckWire runs the cases through do, in order, and fails the test at the
// first answer or error code that differs; code reads a client's error.
func CheckWire(t testing.TB, cases []WireCase, do func([]byte) ([]byte, error), code func(error) (int32, bool)) {
	t.Helper()
	for _, tc := range cases {
		got, err := do(tc.Req)
		switch {
		case tc.Code != 0:
			if c, ok := code(err); !ok || c != tc.Code {
				t.Fatalf("%s: %v, want code %d", tc.Name, err, tc.Code)
			}
		case err != nil || !bytes.Equal(got, tc.Want):
			t.Fatalf("%s: %x %v, want %x", tc.Name, got, err, tc.Want)
		}
	}
}

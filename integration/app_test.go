package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	vk "github.com/VKCOM/tl/pkg/rpc"

	"github.com/rpcproxy/rpcproxy/engines/memcache"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// callWait bounds every call whose answer is expected.
const callWait = 10 * time.Second

// app is VK's Go client, the way a VK app talks to its local proxy.
type app struct {
	cl      vk.Client
	network string // "" means tcp4
}

func newApp(t *testing.T) *app {
	t.Helper()
	cl := vk.NewClient(vk.ClientWithLogf(func(string, ...any) {}))
	t.Cleanup(func() { _ = cl.Close() })
	return &app{cl: cl}
}

// callOpts are the envelope fields a test sets.
type callOpts struct {
	actor     int64
	timeoutMs int32 // custom_timeout_ms; the local deadline is callWait
	edit      func(*vk.RequestExtra)
}

// call sends body to addr and returns the answer body or the error.
func (a *app) call(addr string, body []byte, o callOpts) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callWait)
	defer cancel()
	req := a.cl.GetRequest()
	req.Body = append(req.Body[:0], body...)
	req.ActorID = o.actor
	if o.timeoutMs > 0 {
		// The proxy's answer (QUERY_TIMEOUT) is what the test wants to
		// see, not the client's own cancellation at the same moment.
		req.Extra.SetCustomTimeoutMs(o.timeoutMs)
		req.DoNotCreateLocalCancellationContext = true
	}
	if o.edit != nil {
		o.edit(&req.Extra)
	}
	network := a.network
	if network == "" {
		network = "tcp4"
	}
	resp, err := a.cl.Do(ctx, network, addr, req)
	if err != nil {
		return nil, err
	}
	defer a.cl.PutResponse(resp)
	return bytes.Clone(resp.Body), nil
}

// set stores key=value through addr and fails the test on any error.
func (a *app) set(t *testing.T, addr, key, value string, o callOpts) {
	t.Helper()
	got, err := a.call(addr, mcSet(key, value), o)
	if err != nil || !bytes.Equal(got, tl.AppendBool(nil, true)) {
		t.Fatalf("memcache.set %q via %s: %x %v", key, addr, got, err)
	}
}

// get reads key through addr: its value, whether it was found, the error.
func (a *app) get(addr, key string, o callOpts) (string, bool, error) {
	got, err := a.call(addr, mcGet(key), o)
	if err != nil {
		return "", false, err
	}
	return parseValue(got)
}

// mustGet is get that fails the test on an error.
func (a *app) mustGet(t *testing.T, addr, key string) (string, bool) {
	t.Helper()
	v, ok, err := a.get(addr, key, callOpts{})
	if err != nil {
		t.Fatalf("memcache.get %q via %s: %v", key, addr, err)
	}
	return v, ok
}

func mcGet(key string) []byte {
	return tl.AppendString(tl.AppendUint32(nil, memcache.TagGet), key)
}

func mcSet(key, value string) []byte {
	b := tl.AppendString(tl.AppendUint32(nil, memcache.TagSet), key)
	b = tl.AppendInt32(b, 0) // flags
	b = tl.AppendInt32(b, 0) // delay
	return tl.AppendString(b, value)
}

// parseValue reads a memcache.Value answer.
func parseValue(b []byte) (string, bool, error) {
	tag, r, err := tl.ReadUint32(b)
	if err != nil {
		return "", false, err
	}
	switch tag {
	case memcache.TagNotFound:
		return "", false, nil
	case memcache.TagStrValue:
		v, _, err := tl.ReadString(r)
		return v, err == nil, err
	}
	return "", false, fmt.Errorf("unexpected memcache.Value %x", b)
}

// codeOf returns the TL error code of an error answer, or 0.
func codeOf(err error) int32 {
	var e *vk.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// holder returns the index of the only engine that has key (read
// directly, not through the proxy), failing if none or several do.
func holder(t *testing.T, a *app, es []*engine, key string) int {
	t.Helper()
	found := -1
	for i, e := range es {
		if _, ok := a.mustGet(t, e.addr, key); ok {
			if found >= 0 {
				t.Fatalf("key %q on engines %d and %d", key, found, i)
			}
			found = i
		}
	}
	if found < 0 {
		t.Fatalf("key %q on no engine", key)
	}
	return found
}

// codes for the assertions.
const (
	codeNoConnections = rpc.CodeNoConnections
	codeQueryTimeout  = rpc.CodeQueryTimeout
)

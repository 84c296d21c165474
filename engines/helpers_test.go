package engines_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/engines/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

type serverConfig = server.Config

// wait bounds every wait on the network or a channel; tests never sleep.
const wait = 10 * time.Second

// Tags of the test engine's functions.
const (
	tagEcho  uint32 = 0x0e0e0e0e // test.echo s:string = String
	tagFail  uint32 = 0x0f0f0f0f // test.fail = True, always -5001
	tagCount uint32 = 0x0c0c0c0c // test.count = Int: answers how often it was called
)

func leakCheck(t testing.TB) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

func ctxWait(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// testFuncs is a tiny engine: echo, a failing function and a counter.
func testFuncs() []engines.Func {
	var mu sync.Mutex
	n := int32(0)
	return []engines.Func{
		{Name: "test.echo", Tag: tagEcho, Call: func(args, dst []byte) ([]byte, error) {
			s, rest, err := tl.ReadBytes(args)
			if err != nil {
				return dst, err
			}
			if err := engines.End(rest); err != nil {
				return dst, err
			}
			return tl.AppendBytes(tl.AppendUint32(dst, tl.TagString), s), nil
		}},
		{Name: "test.fail", Tag: tagFail, Call: func(args, dst []byte) ([]byte, error) {
			return dst, &rpc.Error{Code: -5001, Description: "test says no"}
		}},
		{Name: "test.count", Tag: tagCount, Call: func(args, dst []byte) ([]byte, error) {
			mu.Lock()
			n++
			v := n
			mu.Unlock()
			return tl.AppendInt32(tl.AppendUint32(dst, tl.TagInt), v), nil
		}},
	}
}

func echo(s string) []byte { return tl.AppendString(tl.AppendUint32(nil, tagEcho), s) }

func echoAnswer(s string) []byte { return tl.AppendString(tl.AppendUint32(nil, tl.TagString), s) }

// lockedRand is a seeded, goroutine-safe Config.Rand.
func lockedRand(seed uint64) func(n uint32) uint32 {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func(n uint32) uint32 {
		mu.Lock()
		defer mu.Unlock()
		return r.Uint32N(n)
	}
}

// engine is a running test engine and a client of ours to it.
type engine struct {
	*engines.Server
	addr  string
	clock *enginetest.Clock
	cl    *client.Client
}

func startEngine(t testing.TB, cfg engines.Config) *engine {
	t.Helper()
	if cfg.Kind == "" {
		cfg.Kind = "test"
	}
	if cfg.Funcs == nil {
		cfg.Funcs = testFuncs()
	}
	clk := enginetest.NewClock(time.Now())
	if cfg.Clock == nil {
		cfg.Clock = clk
	}
	s, err := engines.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(a.String(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &engine{Server: s, addr: a.String(), clock: clk, cl: cl}
	t.Cleanup(func() {
		_ = cl.Close()
		_ = s.Close()
	})
	return e
}

// do calls body and returns the answer or the error.
func (e *engine) do(ctx context.Context, body []byte) ([]byte, error) {
	var resp client.Response
	if err := e.cl.Do(ctx, &client.Request{Body: body}, &resp); err != nil {
		return nil, err
	}
	return append([]byte(nil), resp.Body...), nil
}

// result is an answer delivered on a channel by goDo.
type result struct {
	body []byte
	err  error
}

// goDo calls body in the background; the result arrives on the channel.
func (e *engine) goDo(ctx context.Context, body []byte) <-chan result {
	ch := make(chan result, 1)
	go func() {
		b, err := e.do(ctx, body)
		ch <- result{b, err}
	}()
	return ch
}

func recv(t testing.TB, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(wait):
		t.Fatal("no answer")
		return result{}
	}
}

// rpcCode returns the TL error code of err, or 0.
func rpcCode(err error) int32 {
	var e *rpc.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func serverConfigWithNegativeConns() (c serverConfig) {
	c.MaxConns = -1
	return c
}

func itoa(n int) string { return strconv.Itoa(n) }

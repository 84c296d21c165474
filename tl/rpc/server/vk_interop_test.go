// Interop with VK's Go client and server (github.com/VKCOM/tl v1.5.7), and
// the echo benchmarks against them; part of every test run.

package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"

	vk "github.com/VKCOM/tl/pkg/rpc"

	rpcclient "github.com/rpcproxy/rpcproxy/tl/rpc/client"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

func vkClient(version uint32, force bool) vk.Client {
	return vk.NewClient(
		vk.ClientWithLogf(func(string, ...any) {}),
		vk.ClientWithProtocolVersion(version),
		vk.ClientWithCryptoKey(string(testKey)),
		vk.ClientWithForceEncryption(force))
}

// vkDo makes one call and copies the answer out of VK's pooled Response.
func vkDo(ctx context.Context, cl vk.Client, addr string, fill func(*vk.Request)) ([]byte, error) {
	req := cl.GetRequest()
	fill(req)
	resp, err := cl.Do(ctx, "tcp", addr, req)
	if err != nil {
		return nil, err
	}
	defer cl.PutResponse(resp)
	return bytes.Clone(resp.Body), nil
}

func TestVKClient(t *testing.T) {
	leakCheck(t)
	type seen struct {
		actor   int64
		timeout int32
		key     string
		intKey  int64
		version uint32
		aes     bool
	}
	got := make(chan seen, 1)
	h := HandlerFunc(func(r *Request) {
		switch tag, _ := r.FunctionTag(); tag {
		case 0x0badf00e:
			r.ReplyError(-5005, "engine says no")
		default:
			k, _ := r.Extra.FirstStringForwardKey()
			ik, _ := r.Extra.IntForwardKeys.First()
			ms, _ := r.Extra.Timeout()
			got <- seen{r.ActorID, ms, string(k), ik, r.conn.pc.ProtocolVersion(), r.conn.pc.Encrypted()}
			r.Reply(r.Body)
		}
	})
	ts := startServer(t, Config{Handler: h, Packet: packet.Config{Key: testKey}})
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, tc := range []struct {
		name    string
		version uint32
		force   bool
	}{
		{"plain/v0", 0, false},
		{"plain/v1", 1, false},
		{"aes/v0", 0, true},
		{"aes/v1", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := vkClient(tc.version, tc.force)
			defer cl.Close()
			ctx := ctxWait(t)
			for _, payload := range [][]byte{nil, []byte("abcd"), big} {
				body, err := vkDo(ctx, cl, ts.addr, func(req *vk.Request) {
					req.Body = append(fn(tagEcho), payload...)
					req.ActorID = 77
					req.Extra.SetStringForwardKeys([]string{"user:1", "x"})
					req.Extra.SetIntForwardKeys([]int64{-5})
					req.Extra.SetCustomTimeoutMs(4321)
				})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(body, append(fn(tagEcho), payload...)) {
					t.Fatalf("echo of %d bytes came back as %d", len(payload), len(body))
				}
				s := recv(t, got, "handler")
				want := seen{77, 4321, "user:1", -5, tc.version, tc.force}
				if s.timeout > want.timeout || s.timeout < want.timeout-1000 {
					t.Fatalf("custom_timeout_ms %d, want about %d", s.timeout, want.timeout)
				}
				s.timeout = want.timeout
				if s != want {
					t.Fatalf("handler saw %+v, want %+v", s, want)
				}
			}
			_, err := vkDo(ctx, cl, ts.addr, func(req *vk.Request) { req.Body = fn(0x0badf00e) })
			var e *vk.Error
			if !errors.As(err, &e) || e.Code != -5005 || e.Description != "engine says no" {
				t.Fatalf("got %v, want *vk.Error -5005", err)
			}
		})
	}
}

// TestVKClientConcurrent: 1,000 concurrent calls answered out of order
// from other goroutines are paired correctly.
func TestVKClientConcurrent(t *testing.T) {
	leakCheck(t)
	ts := startServer(t, Config{Handler: HandlerFunc(func(r *Request) {
		r.Retain()
		go r.Reply(r.Body)
	})})
	cl := vkClient(1, false)
	defer cl.Close()
	ctx := ctxWait(t)
	const n = 1000
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fn(tagEcho, []byte(fmt.Sprintf("%08d", i))...)
			body, err := vkDo(ctx, cl, ts.addr, func(req *vk.Request) { req.Body = append(req.Body, want...) })
			if err == nil && !bytes.Equal(body, want) {
				err = fmt.Errorf("call %d got %q", i, body)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestVKClientShutdown: calls in flight at Shutdown finish; later calls
// reconnect to the next server on the same address.
func TestVKClientShutdown(t *testing.T) {
	leakCheck(t)
	h := newHolder()
	ts := startServer(t, Config{Handler: HandlerFunc(func(r *Request) {
		r.Retain()
		h.reqs <- r
	})})
	cl := vkClient(1, false)
	defer cl.Close()
	ctx := ctxWait(t)
	const n = 10
	errs := make(chan error, n)
	for i := range n {
		go func() {
			want := fn(tagEcho, byte(i), 0, 0, 0)
			body, err := vkDo(ctx, cl, ts.addr, func(req *vk.Request) { req.Body = append(req.Body, want...) })
			if err == nil && !bytes.Equal(body, want) {
				err = fmt.Errorf("call %d got % x", i, body)
			}
			errs <- err
		}()
	}
	held := make([]*Request, n)
	for i := range held {
		held[i] = recv(t, h.reqs, "request")
	}
	shut := make(chan error, 1)
	go func() { shut <- ts.Shutdown(ctx) }()
	for _, r := range held {
		r.Reply(r.Body)
	}
	for range n {
		if err := recv(t, errs, "call"); err != nil {
			t.Fatal(err)
		}
	}
	if err := recv(t, shut, "Shutdown"); err != nil {
		t.Fatal(err)
	}

	// The next server on the same port gets the next calls.
	ln, err := net.Listen("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	next, err := New(Config{Handler: echo})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- next.Serve(ln) }()
	defer func() {
		_ = next.Close()
		<-served
	}()
	for i := range 3 {
		want := fn(tagEcho, byte(i), 1, 2, 3)
		body, err := vkDo(ctx, cl, ts.addr, func(req *vk.Request) { req.Body = append(req.Body, want...) })
		if err != nil || !bytes.Equal(body, want) {
			t.Fatalf("call %d after restart: % x, %v", i, body, err)
		}
	}
}

// vkEchoServer runs VK's server with an echo handler.
func vkEchoServer(tb testing.TB) (addr string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := vk.NewServer(
		vk.ServerWithLogf(func(string, ...any) {}),
		vk.ServerWithHandler(func(_ context.Context, hctx *vk.HandlerContext) error {
			hctx.Response = append(hctx.Response, hctx.Request...)
			return nil
		}))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	return ln.Addr().String(), func() {
		_ = srv.Close()
		<-served
	}
}

var benchPayload = fn(tagEcho, make([]byte, 64)...)

// runCallers runs b.N calls over callers goroutines and reports calls/s.
func runCallers(b *testing.B, callers int, call func() error) {
	b.ReportAllocs()
	if callers == 1 {
		for b.Loop() {
			if err := call(); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		// RunParallel starts parallelism * GOMAXPROCS goroutines.
		b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := call(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkServerEcho: VK's client against our server and against VK's
// server, in the same run.
func BenchmarkServerEcho(b *testing.B) {
	ours := startServer(b, Config{Handler: echo})
	vkAddr, stop := vkEchoServer(b)
	defer stop()
	for _, srv := range []struct{ name, addr string }{{"ours", ours.addr}, {"vk", vkAddr}} {
		for _, callers := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/callers=%d", srv.name, callers), func(b *testing.B) {
				cl := vkClient(1, false)
				defer cl.Close()
				ctx := context.Background()
				runCallers(b, callers, func() error {
					req := cl.GetRequest()
					req.Body = append(req.Body, benchPayload...)
					resp, err := cl.Do(ctx, "tcp", srv.addr, req)
					if err == nil {
						cl.PutResponse(resp)
					}
					return err
				})
			})
		}
	}
}

// BenchmarkEcho: our client and server against VK's client and server.
func BenchmarkEcho(b *testing.B) {
	ours := startServer(b, Config{Handler: echo})
	vkAddr, stop := vkEchoServer(b)
	defer stop()
	for _, callers := range []int{1, 64} {
		b.Run(fmt.Sprintf("ours/callers=%d", callers), func(b *testing.B) {
			cl, err := newOurClient(ours.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			pool := sync.Pool{New: func() any { return new(ourResponse) }}
			req := ourRequest(benchPayload)
			ctx := context.Background()
			runCallers(b, callers, func() error {
				resp := pool.Get().(*ourResponse)
				err := cl.Do(ctx, req, resp)
				pool.Put(resp)
				return err
			})
		})
	}
	for _, callers := range []int{1, 64} {
		b.Run(fmt.Sprintf("vk/callers=%d", callers), func(b *testing.B) {
			cl := vkClient(1, false)
			defer cl.Close()
			ctx := context.Background()
			runCallers(b, callers, func() error {
				req := cl.GetRequest()
				req.Body = append(req.Body, benchPayload...)
				resp, err := cl.Do(ctx, "tcp", vkAddr, req)
				if err == nil {
					cl.PutResponse(resp)
				}
				return err
			})
		})
	}
}

type ourResponse = rpcclient.Response

func newOurClient(addr string) (*rpcclient.Client, error) {
	return rpcclient.New(addr, rpcclient.Options{})
}

func ourRequest(body []byte) *rpcclient.Request { return &rpcclient.Request{Body: body} }

// TestVKClientServerForcesAES: our server's ForceEncryption makes a VK
// client that merely has the key (NONE_OR_AES on loopback) encrypt.
func TestVKClientServerForcesAES(t *testing.T) {
	leakCheck(t)
	encrypted := make(chan bool, 1)
	ts := startServer(t, Config{
		Handler: HandlerFunc(func(r *Request) {
			encrypted <- r.conn.pc.Encrypted()
			r.Reply(r.Body)
		}),
		Packet: packet.Config{Key: testKey, ForceEncryption: true},
	})
	for _, version := range []uint32{0, 1} {
		cl := vkClient(version, false)
		body, err := vkDo(ctxWait(t), cl, ts.addr, func(req *vk.Request) { req.Body = fn(tagEcho) })
		_ = cl.Close()
		if err != nil || !bytes.Equal(body, fn(tagEcho)) {
			t.Fatalf("v%d: % x, %v", version, body, err)
		}
		if !recv(t, encrypted, "handler") {
			t.Fatalf("v%d: connection not encrypted", version)
		}
	}
}

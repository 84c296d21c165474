// Interop with VK's own Go server and client (github.com/VKCOM/tl v1.5.7),
// part of every test run.

package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	vk "github.com/VKCOM/tl/pkg/rpc"
	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

var vkKey = "0123456789abcdef0123456789abcdef-vk-interop"

const (
	tagEcho  = 0x0badf00d // echoed by the VK handler (little-endian bytes 0d f0 ad 0b)
	tagFail  = 0x0badf00e // answered with error -2000
	tagSlow  = 0x0badf00f // answered when the test releases it
	tagCheck = 0x0badf010 // echoed after recording actor and extra
)

func tagged(tag uint32, payload []byte) []byte {
	b := []byte{byte(tag), byte(tag >> 8), byte(tag >> 16), byte(tag >> 24)}
	return append(b, payload...)
}

// seen is what VK's handler observed for a tagCheck request.
type seen struct {
	actor      int64
	timeout    int32
	hasTimeout bool
	strKeys    []string
	intKeys    []int64
	version    uint32
	encrypted  bool
}

type vkServer struct {
	srv     *vk.Server
	ln      net.Listener
	served  chan error
	seen    chan seen
	slow    chan struct{} // a tagSlow request arrived
	release chan struct{} // close to answer tagSlow requests
}

func startVK(t testing.TB, force bool) *vkServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &vkServer{ln: ln, served: make(chan error, 1), seen: make(chan seen, 16),
		slow: make(chan struct{}, 64), release: make(chan struct{})}
	s.srv = vk.NewServer(
		vk.ServerWithCryptoKeys([]string{vkKey}),
		vk.ServerWithForceEncryption(force),
		vk.ServerWithLogf(func(string, ...any) {}),
		vk.ServerWithMaxWorkers(64),
		vk.ServerWithHandler(s.handle))
	go func() { s.served <- s.srv.Serve(ln) }()
	return s
}

func (s *vkServer) handle(_ context.Context, hctx *vk.HandlerContext) error {
	switch hctx.RequestTag() {
	case tagFail:
		return &vk.Error{Code: rpc.CodeUnknownFunctionID, Description: "vk says no"}
	case tagSlow:
		s.slow <- struct{}{}
		<-s.release
	case tagCheck:
		e := &hctx.RequestExtra
		s.seen <- seen{actor: hctx.ActorID(), timeout: e.CustomTimeoutMs, hasTimeout: e.IsSetCustomTimeoutMs(),
			strKeys: e.StringForwardKeys, intKeys: e.IntForwardKeys,
			version: hctx.ProtocolVersion(), encrypted: hctx.KeyID() != [4]byte{}}
		// Only the asked-for binlog_pos may come back: the server masks
		// the answer's extra with the request's flags.
		hctx.ResponseExtra.SetBinlogPos(77)
		hctx.ResponseExtra.SetBinlogTime(88)
	}
	hctx.Response = append(hctx.Response, hctx.Request...)
	return nil
}

func (s *vkServer) close() {
	_ = s.srv.Close()
	<-s.served
}

// vkLeaks: verifyNoLeaks already ignores VK's process-wide CPU sampler.
func vkLeaks(t testing.TB) {
	t.Helper()
	verifyNoLeaks(t)
}

// checkVKEnvelope calls VK's tagCheck handler with an actor, forward keys,
// a timeout and the binlog_pos ask; it checks the echo, the result extra
// VK added and what VK saw. tcp holds the expected TCP-only notions
// (version, encryption); nil (UDP) leaves them unchecked.
func checkVKEnvelope(t *testing.T, ctx context.Context, cl *Client, srv *vkServer, tcp *seen) {
	t.Helper()
	req := &Request{ActorID: 4242, Body: tagged(tagCheck, []byte("abcd"))}
	req.Extra.Flags = rpc.FlagStringForwardKeys | rpc.FlagIntForwardKeys | rpc.FlagReturnBinlogPos
	req.Extra.StringForwardKeys = rpc.MakeStringVector("user:1", "x")
	req.Extra.IntForwardKeys = rpc.MakeLongVector(7, -8)
	req.Extra.SetCustomTimeoutMs(1500)
	var resp Response
	if err := cl.Do(ctx, req, &resp); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp.Body, req.Body) {
		t.Fatalf("echo %x, want %x", resp.Body, req.Body)
	}
	if x := resp.Result.Extra; !resp.Result.HasExtra || x.Flags != rpc.ResultFlagBinlogPos || x.BinlogPos != 77 {
		t.Fatalf("result extra %+v (present %v), want binlog_pos 77 only", x, resp.Result.HasExtra)
	}
	got := <-srv.seen
	want := seen{actor: 4242, timeout: 1500, hasTimeout: true, strKeys: []string{"user:1", "x"}, intKeys: []int64{7, -8}}
	if tcp != nil {
		want.version, want.encrypted = tcp.version, tcp.encrypted
	} else {
		got.version, got.encrypted = 0, false
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("VK saw %+v, want %+v", got, want)
	}
}

// checkVKError: VK's tagFail answer arrives as an *rpc.Error with its code
// and text.
func checkVKError(t *testing.T, ctx context.Context, cl *Client) {
	t.Helper()
	err := cl.Do(ctx, &Request{Body: tagged(tagFail, nil)}, nil)
	var re *rpc.Error
	if !errors.As(err, &re) || re.Code != rpc.CodeUnknownFunctionID || re.Description != "vk says no" {
		t.Fatalf("err %v, want *rpc.Error -2000", err)
	}
}

// checkVKConcurrent makes n echo calls at once with Go; each answer must
// reach its own token.
func checkVKConcurrent(t *testing.T, cl *Client, n int) {
	t.Helper()
	h := make(chanHandler, n)
	for i := range n {
		if _, err := cl.Go(&Request{Body: tagged(tagEcho, fmt.Appendf(nil, "%08d", i))}, time.Now().Add(wait), h, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		r := recvResult(t, h)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if want := fmt.Sprintf("%08d", r.token); string(r.body[4:]) != want {
			t.Fatalf("token %d got %q", r.token, r.body[4:])
		}
	}
}

func TestVKServer(t *testing.T) {
	defer vkLeaks(t)
	cases := []struct {
		name    string
		version packet.Version
		aes     bool
	}{
		{"plain/v0", packet.Version0, false},
		{"plain/v1", packet.Version1, false},
		{"aes/v0", packet.Version0, true},
		{"aes/v1", packet.Version1, true},
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startVK(t, tc.aes)
			defer srv.close()
			cl := newClient(t, srv.ln.Addr().String(), Options{Packet: packet.Config{
				Key: []byte(vkKey), ForceEncryption: tc.aes, ProtocolVersion: tc.version}})
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()

			t.Run("envelope", func(t *testing.T) {
				checkVKEnvelope(t, ctx, cl, srv, &seen{version: tc.version.Wire(), encrypted: tc.aes})
			})
			t.Run("error", func(t *testing.T) { checkVKError(t, ctx, cl) })
			t.Run("1MiB", func(t *testing.T) {
				req := &Request{Body: tagged(tagEcho, big)}
				var resp Response
				if err := cl.Do(ctx, req, &resp); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(resp.Body, req.Body) {
					t.Fatal("1 MiB echo differs")
				}
			})
			t.Run("1000 concurrent", func(t *testing.T) { checkVKConcurrent(t, cl, 1000) })
		})
	}
}

// TestVKServerShutdown: VK's Shutdown sends rpcServerWantsFin; calls in
// flight still complete and new calls go to a fresh connection (here, via
// the redirecting dialer, to a second server: the first stops listening).
func TestVKServerShutdown(t *testing.T) {
	defer vkLeaks(t)
	a := startVK(t, false)
	defer a.close()
	b := startVK(t, false)
	defer b.close()
	rd := newRedirect(a.ln.Addr().String())
	ups := make(chan bool, 16)
	cl := newClient(t, "engine:vk", Options{Dial: rd.dial, OnState: func(_ string, up bool, _ error) { ups <- up }})
	defer cl.Close()

	const n = 3
	h := make(chanHandler, n+1)
	for i := range n {
		if _, err := cl.Go(&Request{Body: tagged(tagSlow, nil)}, time.Now().Add(wait), h, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	expectState(t, ups, true)
	for range n {
		select {
		case <-a.slow:
		case <-time.After(wait):
			t.Fatal("slow requests did not reach VK's handler")
		}
	}
	rd.set(b.ln.Addr().String())
	a.srv.Shutdown()
	expectState(t, ups, true) // the fresh connection, to b
	var resp Response
	req := &Request{ActorID: 1, Body: tagged(tagCheck, []byte("new!"))}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := cl.Do(ctx, req, &resp); err != nil {
		t.Fatalf("new call after shutdown: %v", err)
	}
	select {
	case <-b.seen:
	default:
		t.Fatal("the new call did not go to the fresh connection")
	}
	close(a.release)
	for range n {
		if r := recvResult(t, h); r.err != nil {
			t.Fatalf("in-flight call %d: %v", r.token, r.err)
		}
	}
	if st := cl.Stats(); st.Failed != 0 || st.Connects != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// BenchmarkVKClientEcho: VK's client against the same in-test server as
// BenchmarkClientEcho, for the ratio.
func BenchmarkVKClientEcho(b *testing.B) {
	defer verifyNoLeaks(b, goleak.IgnoreCurrent())
	srv := newTestServer(b, echoFast)
	defer srv.close()
	benchVKClient(b, srv.addr())
}

// BenchmarkVKPairEcho: VK's client against VK's server, the pair to
// compare with BenchmarkOurPairEcho.
func BenchmarkVKPairEcho(b *testing.B) {
	defer verifyNoLeaks(b, goleak.IgnoreCurrent())
	srv := startVK(b, false)
	defer srv.close()
	benchVKClient(b, srv.ln.Addr().String())
}

func benchVKClient(b *testing.B, addr string) {
	payload := tagged(tagEcho, make([]byte, 64))
	do := func(c vk.Client) error {
		req := c.GetRequest()
		req.Body = append(req.Body, payload...)
		resp, err := c.Do(context.Background(), "tcp4", addr, req)
		if resp != nil {
			c.PutResponse(resp)
		}
		return err
	}
	b.Run("callers=1", func(b *testing.B) {
		c := vk.NewClient(vk.ClientWithLogf(func(string, ...any) {}))
		defer c.Close()
		b.ReportAllocs()
		for b.Loop() {
			if err := do(c); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	})
	b.Run("callers=64", func(b *testing.B) {
		c := vk.NewClient(vk.ClientWithLogf(func(string, ...any) {}))
		defer c.Close()
		b.SetParallelism(max(1, 64/runtimeProcs()))
		b.ReportAllocs()
		var once sync.Once
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := do(c); err != nil {
					once.Do(func() { b.Error(err) })
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	})
}

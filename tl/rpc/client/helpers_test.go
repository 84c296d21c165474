package client

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// wait is the bound for anything a test waits for; generous because the
// shared CI machine is slow under -race, and never a synchronisation
// device by itself.
const wait = 10 * time.Second

// verifyNoLeaks fails the test if goroutines outlive it. VK's CPU sampler
// is process-wide, and VK's UDP server never stops its goroutines (its
// Transport.Close does not wake goRead; ServeUDP never returns), so once
// an interop test ran they stay for every later test: those are VK's and
// ignored by name.
func verifyNoLeaks(t testing.TB, opts ...goleak.Option) {
	t.Helper()
	opts = append(opts, goleak.IgnoreTopFunction("github.com/VKCOM/tl/internal/vkgo/pkg/srvfunc.(*CPUInfo).thisProcessCpuUsageLoop"),
		goleak.IgnoreAnyFunction("github.com/VKCOM/tl/pkg/rpc.(*Server).ServeUDP"))
	for _, f := range []string{"goRead", "goSend", "goReceive", "goWrite", "goResend", "goAck", "goResendRequest", "goRegenerate", "Run"} {
		opts = append(opts, goleak.IgnoreAnyFunction("github.com/VKCOM/tl/pkg/rpc/udp.(*Transport)."+f))
	}
	goleak.VerifyNone(t, opts...)
}

// srvReq is one request as the test server saw it.
type srvReq struct {
	conn *srvConn
	req  rpc.InvokeReq // Body and extra slices copied
}

// answer echoes the request body (or answers with body if not nil).
func (r *srvReq) answer(body []byte) {
	if body == nil {
		body = r.req.Body
	}
	head := rpc.AppendResultHeader(nil, r.req.QueryID, nil, 0, false)
	_ = r.conn.pc.WritePacket(rpc.TypeReqResult, head, body)
}

func (r *srvReq) answerError(code int32, text string) {
	head := rpc.AppendResultHeader(nil, r.req.QueryID, nil, 0, false)
	_ = r.conn.pc.WritePacket(rpc.TypeReqResult, head, rpc.AppendErrorBody(nil, r.req.QueryID, code, text))
}

type srvConn struct {
	pc   wire         // *packet.Conn or *udp.Conn
	reqs atomic.Int64 // requests received
	head []byte       // reader goroutine's answer scratch
}

// echoFast answers from the reader goroutine without allocating, for
// benchmarks and allocation tests.
func echoFast(r *srvReq) bool {
	c := r.conn
	c.head = rpc.AppendResultHeader(c.head[:0], r.req.QueryID, nil, 0, false)
	_ = c.pc.WritePacket(rpc.TypeReqResult, c.head, r.req.Body)
	return true
}

// testServer is a tiny TL RPC server built directly on the packet layer.
// handle runs on the connection's reader goroutine; by default it echoes.
// Requests handle declines to answer, cancels and client fins are sent to
// channels for the test to inspect.
type testServer struct {
	t      testing.TB
	ln     net.Listener         // TCP; nil for UDP
	udp    *udp.Transport       // UDP; nil for TCP
	handle func(r *srvReq) bool // true: answered
	held   chan *srvReq
	cancel chan int64
	fin    chan *srvConn
	conns  chan *srvConn // every accepted connection

	mu   sync.Mutex
	live map[*srvConn]bool
	wg   sync.WaitGroup
	n    atomic.Int64 // requests received
}

func echo(r *srvReq) bool { r.answer(nil); return true }
func hold(*srvReq) bool   { return false }

func newTestServer(t testing.TB, handle func(r *srvReq) bool) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := baseServer(t, handle)
	s.ln = ln
	s.wg.Add(1)
	go s.accept()
	return s
}

func baseServer(t testing.TB, handle func(r *srvReq) bool) *testServer {
	return &testServer{t: t, handle: handle, held: make(chan *srvReq, 4096),
		cancel: make(chan int64, 4096), fin: make(chan *srvConn, 16), conns: make(chan *srvConn, 64),
		live: map[*srvConn]bool{}}
}

// udpKey is the UDP test key (UDP is always encrypted).
var udpKey = []byte("0123456789abcdef0123456789abcdef-udp-test")

// newUDPTestServer is testServer on tl/rpc/udp: a Transport on
// 127.0.0.1:0 accepting connections, one reader goroutine each.
func newUDPTestServer(t testing.TB, handle func(r *srvReq) bool) *testServer {
	t.Helper()
	s := baseServer(t, handle)
	s.udp = newUDPTransport(t)
	s.wg.Add(1)
	go s.acceptUDP()
	return s
}

// newUDPTransport is a Transport on 127.0.0.1:0 with udpKey; the caller
// closes it.
func newUDPTransport(t testing.TB) *udp.Transport {
	t.Helper()
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := udp.New(sock, udp.Config{Keys: [][]byte{udpKey}})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func (s *testServer) acceptUDP() {
	defer s.wg.Done()
	for {
		c, err := s.udp.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveWire(c)
		}()
	}
}

// udpOptions are client Options for a UDP test server.
func udpOptions() Options {
	return Options{Network: "udp", Packet: packet.Config{Key: udpKey}}
}

func (s *testServer) addr() string {
	if s.udp != nil {
		return s.udp.LocalAddr().String()
	}
	return s.ln.Addr().String()
}

func (s *testServer) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go s.serve(nc)
	}
}

func (s *testServer) serve(nc net.Conn) {
	defer s.wg.Done()
	pc, err := packet.ServerHandshake(nc, packet.Config{})
	if err != nil {
		return
	}
	s.serveWire(pc)
}

// serveWire reads requests from one connection until it ends.
func (s *testServer) serveWire(pc wire) {
	c := &srvConn{pc: pc}
	s.mu.Lock()
	s.live[c] = true
	s.mu.Unlock()
	select {
	case s.conns <- c:
	default:
	}
	defer func() {
		s.mu.Lock()
		delete(s.live, c)
		s.mu.Unlock()
		_ = pc.Close()
	}()
	r := &srvReq{conn: c} // reused: the handler must not keep it
	for {
		typ, body, err := pc.ReadPacket()
		if err != nil {
			return
		}
		switch typ {
		case rpc.TypeInvokeReq:
			s.n.Add(1)
			c.reqs.Add(1)
			if err := rpc.ParseInvokeReq(body, &r.req); err != nil {
				s.t.Errorf("server: bad request: %v", err)
				return
			}
			if !s.handle(r) {
				// Keep a copy: body aliases the read buffer.
				h := &srvReq{conn: c, req: r.req}
				h.req.Body = append([]byte(nil), r.req.Body...)
				h.req.Extra = rpc.InvokeReqExtra{Flags: r.req.Extra.Flags, CustomTimeoutMs: r.req.Extra.CustomTimeoutMs}
				s.held <- h
			}
		case rpc.TypeCancelReq:
			id, err := rpc.ParseCancelReq(body)
			if err != nil {
				s.t.Errorf("server: bad cancel: %v", err)
			}
			s.cancel <- id
		case rpc.TypeClientWantsFin:
			s.fin <- c
		}
	}
}

// kill closes the listener and every connection abruptly.
func (s *testServer) kill() {
	if s.udp != nil {
		_ = s.udp.Close() // ends Accept and every connection
	} else {
		_ = s.ln.Close()
	}
	s.mu.Lock()
	for c := range s.live {
		_ = c.pc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *testServer) close() { s.kill() }

// dropConns closes every connection but keeps listening.
func (s *testServer) dropConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.live {
		_ = c.pc.Close()
	}
}

// nextHeld waits for a request the handler did not answer.
func (s *testServer) nextHeld(t testing.TB) *srvReq {
	t.Helper()
	select {
	case r := <-s.held:
		return r
	case <-time.After(wait):
		t.Fatal("server: no request arrived")
		return nil
	}
}

// pipeConn makes a net.Pipe end look like loopback TCP, so the packet
// layer's loopback exemption from encryption applies as over sockets.
type pipeConn struct {
	net.Conn
	local, remote net.Addr
}

func (c pipeConn) LocalAddr() net.Addr  { return c.local }
func (c pipeConn) RemoteAddr() net.Addr { return c.remote }

// dialPipe is a Dial that connects to s over an in-memory pipe: the
// benchmark then measures CPU cost without the kernel.
func (s *testServer) dialPipe(context.Context, string, string) (net.Conn, error) {
	a, b := net.Pipe()
	ca := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	sa := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2442}
	s.wg.Add(1)
	go s.serve(pipeConn{b, sa, ca})
	return pipeConn{a, ca, sa}, nil
}

// redirect is a dialer whose target the test switches, so a "restarted"
// server can live on a new port while the Client keeps one address.
type redirect struct {
	target atomic.Pointer[string]
	dials  atomic.Int64
}

func newRedirect(addr string) *redirect {
	r := &redirect{}
	r.set(addr)
	return r
}

func (r *redirect) set(addr string) { r.target.Store(&addr) }

func (r *redirect) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	r.dials.Add(1)
	var d net.Dialer
	return d.DialContext(ctx, network, *r.target.Load())
}

func newClient(t testing.TB, addr string, o Options) *Client {
	t.Helper()
	cl, err := New(addr, o)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// clientOf returns a Client of srv with o. The client, then srv, are
// closed when the test ends, and then no goroutine may be left.
func clientOf(t *testing.T, srv *testServer, o Options) *Client {
	t.Helper()
	t.Cleanup(func() { verifyNoLeaks(t) })
	t.Cleanup(srv.close)
	cl := newClient(t, srv.addr(), o)
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

func echoReq(payload []byte) *Request {
	body := append([]byte{0x0d, 0xf0, 0xad, 0x0b}, payload...) // an unknown function tag, then the payload
	return &Request{Body: body}
}

// asyncResult is one Handler.Done call.
type asyncResult struct {
	token uint64
	body  []byte
	err   error
}

type chanHandler chan asyncResult

func (h chanHandler) Done(token uint64, resp *Response, err error) {
	var body []byte
	if resp != nil {
		body = append([]byte(nil), resp.Body...)
	}
	h <- asyncResult{token, body, err}
}

func recvResult(t testing.TB, ch chanHandler) asyncResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(wait):
		t.Fatal("no completion")
		return asyncResult{}
	}
}

package client

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// ourServer runs tl/rpc/server on 127.0.0.1:0 with handle.
type ourServer struct {
	srv    *server.Server
	ln     net.Listener
	served chan struct{} // closed when Serve returns
}

func startOurServer(t testing.TB, handle server.HandlerFunc) *ourServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Handler: handle})
	if err != nil {
		t.Fatal(err)
	}
	s := &ourServer{srv: srv, ln: ln, served: make(chan struct{})}
	go func() {
		_ = srv.Serve(ln) // ErrServerClosed after Close or Shutdown
		close(s.served)
	}()
	return s
}

func (s *ourServer) close() {
	_ = s.srv.Close()
	<-s.served
}

func ourEcho(r *server.Request) { r.Reply(r.Body) }

// TestOurServer: the client against tl/rpc/server: echo, error answers,
// and graceful Shutdown with calls in flight.
func TestOurServer(t *testing.T) {
	defer verifyNoLeaks(t)
	held := make(chan *server.Request, 16)
	a := startOurServer(t, func(r *server.Request) {
		switch tag, _ := r.FunctionTag(); tag {
		case 0x0badf00e:
			r.ReplyError(rpc.CodeUnknownFunctionID, "ours says no")
		case 0x0badf00f:
			held <- r // answered later, from the test goroutine
		default:
			r.Reply(r.Body)
		}
	})
	defer a.close()
	b := startOurServer(t, ourEcho)
	defer b.close()
	rd := newRedirect(a.ln.Addr().String())
	ups := make(chan bool, 16)
	cl := newClient(t, "engine:ours", Options{Dial: rd.dial, OnState: func(_ string, up bool, _ error) { ups <- up }})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	req := echoReq(bytes.Repeat([]byte("x"), 1<<20))
	var resp Response
	if err := cl.Do(ctx, req, &resp); err != nil || !bytes.Equal(resp.Body, req.Body) {
		t.Fatalf("echo: %v", err)
	}
	var re *rpc.Error
	if err := cl.Do(ctx, &Request{Body: []byte{0x0e, 0xf0, 0xad, 0x0b}}, nil); !errors.As(err, &re) || re.Code != rpc.CodeUnknownFunctionID {
		t.Fatalf("error answer: %v", err)
	}

	const n = 3
	h := make(chanHandler, n)
	for i := range n {
		if _, err := cl.Go(&Request{Body: []byte{0x0f, 0xf0, 0xad, 0x0b}}, time.Now().Add(wait), h, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	var reqs []*server.Request
	for range n {
		select {
		case r := <-held:
			reqs = append(reqs, r)
		case <-time.After(wait):
			t.Fatal("held requests did not arrive")
		}
	}
	expectState(t, ups, true)
	rd.set(b.ln.Addr().String())
	shut := make(chan error, 1)
	go func() { shut <- a.srv.Shutdown(ctx) }()
	expectState(t, ups, true) // the fresh connection, to b
	if err := cl.Do(ctx, echoReq([]byte("new")), &resp); err != nil {
		t.Fatalf("new call after shutdown: %v", err)
	}
	for _, r := range reqs {
		r.Reply([]byte{1, 2, 3, 4})
	}
	for range n {
		if r := recvResult(t, h); r.err != nil || !bytes.Equal(r.body, []byte{1, 2, 3, 4}) {
			t.Fatalf("in-flight call %d: %x %v", r.token, r.body, r.err)
		}
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if st := cl.Stats(); st.Failed != 0 || st.Connects != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// BenchmarkOurPairEcho: our client against our server (tl/rpc/server),
// the pair the proxy and engines use. BenchmarkVKPairEcho
// runs VK's pair the same way.
func BenchmarkOurPairEcho(b *testing.B) {
	srv := startOurServer(b, ourEcho)
	defer srv.close()
	benchOurClient(b, srv.ln.Addr().String())
}

func benchOurClient(b *testing.B, addr string) { benchClientOpts(b, addr, Options{}) }

// benchClientOpts: Do with 1 and 64 concurrent callers, Clients made with o.
func benchClientOpts(b *testing.B, addr string, o Options) {
	payload := make([]byte, 64)
	b.Run("callers=1", func(b *testing.B) {
		cl := newClient(b, addr, o)
		defer cl.Close()
		req, resp := echoReq(payload), &Response{}
		b.ReportAllocs()
		for b.Loop() {
			if err := cl.Do(context.Background(), req, resp); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	})
	b.Run("callers=64", func(b *testing.B) {
		cl := newClient(b, addr, o)
		defer cl.Close()
		benchParallelDo(b, cl, payload, 64)
	})
}

// benchParallelDo measures Do of an echo of payload from callers
// goroutines (at least one per P), each with its own Request and Response.
func benchParallelDo(b *testing.B, cl *Client, payload []byte, callers int) {
	b.SetParallelism(max(1, callers/runtimeProcs()))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := echoReq(payload), &Response{}
		for pb.Next() {
			if err := cl.Do(context.Background(), req, resp); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

package client

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// BenchmarkClientEcho: our client against the in-test packet server over
// loopback, with 1 and 64 concurrent callers using Do (the same
// sub-benchmarks as BenchmarkVKClientEcho, for benchstat), and a proxy-style
// pipeline keeping 64 calls in flight with Go from one goroutine.
func BenchmarkClientEcho(b *testing.B) {
	defer verifyNoLeaks(b, goleak.IgnoreCurrent())
	srv := newTestServer(b, echoFast)
	defer srv.close()
	benchOurClient(b, srv.addr())
	b.Run("Go/window=64", func(b *testing.B) {
		cl := newClient(b, srv.addr(), Options{})
		defer cl.Close()
		req := echoReq(make([]byte, 64))
		h := make(chanHandler2, 64)
		b.ReportAllocs()
		inflight := 0
		for b.Loop() {
			if inflight == cap(h) {
				if err := <-h; err != nil {
					b.Fatal(err)
				}
				inflight--
			}
			if _, err := cl.Go(req, time.Time{}, h, 0); err != nil {
				b.Fatal(err)
			}
			inflight++
		}
		for ; inflight > 0; inflight-- {
			<-h
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	})
}

// BenchmarkClientEchoPipe: as BenchmarkClientEcho over an in-memory pipe
// instead of loopback TCP: the CPU cost of client, packet layer and test
// server without the kernel.
func BenchmarkClientEchoPipe(b *testing.B) {
	defer verifyNoLeaks(b, goleak.IgnoreCurrent())
	srv := newTestServer(b, echoFast)
	defer srv.close()
	payload := make([]byte, 64)
	for _, callers := range []int{1, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			cl := newClient(b, "pipe", Options{Dial: srv.dialPipe})
			defer cl.Close()
			benchParallelDo(b, cl, payload, callers)
		})
	}
}

// chanHandler2 reports only the error, allocation-free.
type chanHandler2 chan error

func (h chanHandler2) Done(_ uint64, _ *Response, err error) { h <- err }

// TestDoNoAllocs: a steady stream of Do calls with one Request and one
// Response allocates nothing (client and in-test server together).
func TestDoNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items on purpose")
	}
	srv := newTestServer(t, echoFast)
	cl := clientOf(t, srv, Options{})
	req, resp := echoReq(make([]byte, 64)), &Response{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	do := func() {
		if err := cl.Do(ctx, req, resp); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 { // warm up: connection, pools, buffers
		do()
	}
	if a := testing.AllocsPerRun(2000, do); a > 0.05 {
		t.Fatalf("%v allocs per Do", a)
	}
	h := make(chanHandler2, 1)
	goCall := func() {
		if _, err := cl.Go(req, time.Now().Add(time.Hour), h, 0); err != nil {
			t.Fatal(err)
		}
		if err := <-h; err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		goCall()
	}
	if a := testing.AllocsPerRun(2000, goCall); a > 0.05 {
		t.Fatalf("%v allocs per Go", a)
	}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// BenchmarkClientEchoUDP: as BenchmarkClientEcho over our UDP transport
// (loopback, AES-256-IGE both ways) against the in-test UDP server.
func BenchmarkClientEchoUDP(b *testing.B) {
	defer verifyNoLeaks(b, goleak.IgnoreCurrent())
	srv := newUDPTestServer(b, echoFast)
	defer srv.close()
	benchClientOpts(b, srv.addr(), udpOptions())
}

// TestUDPDoNoAllocs: TestDoNoAllocs over UDP: client, both Transports and
// the in-test server together allocate nothing per Do in steady state.
func TestUDPDoNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items on purpose")
	}
	srv := newUDPTestServer(t, echoFast)
	cl := clientOf(t, srv, udpOptions())
	req, resp := echoReq(make([]byte, 64)), &Response{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	do := func() {
		if err := cl.Do(ctx, req, resp); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		do()
	}
	if a := testing.AllocsPerRun(2000, do); a > 0.05 {
		t.Fatalf("%v allocs per Do", a)
	}
}

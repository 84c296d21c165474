package main

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/cmd/internal/memcache"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// TestRatePaces: with -rate the run sends what the schedule says, not what
// the target could take. The trivial engine answers tens of thousands of
// gets a second; paced, a run sends at most rate x time (plus one request
// per slot, each slot's first), and -n requests take at least the time
// their schedule spans.
func TestRatePaces(t *testing.T) {
	defer goleak.VerifyNone(t)
	addr, stop := startTrivial(t)
	defer stop()
	tests := []struct {
		name string
		args []string
		// check inspects the decoded report.
		check func(t *testing.T, r *report)
	}{
		{"duration", []string{"-rate", "2000", "-c", "4", "-d", "1", "-duration", "300ms"}, func(t *testing.T, r *report) {
			// Requests due in 300 ms at 2000/s: 600, and each slot's
			// first at most once more.
			if r.Requests > 600+4 || r.Requests < 150 {
				t.Errorf("%d requests in 300 ms at -rate 2000, want at most 604 (and the run to have sent some)", r.Requests)
			}
		}},
		{"n", []string{"-rate", "1000", "-c", "2", "-d", "1", "-n", "100"}, func(t *testing.T, r *report) {
			// The 100th request is due at 99 ms, and leaves at most
			// paceSlack early.
			if r.Requests != 100 || r.ElapsedSec < 0.099-paceSlack.Seconds() {
				t.Errorf("%d requests in %.3fs at -rate 1000; want 100 in at least 98 ms", r.Requests, r.ElapsedSec)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-addr", addr, "-warmup", "0", "-quiet", "-json", "-mix", "get=1"}, tc.args...)
			code, stdout, stderr := runBench(t, context.Background(), args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			r := decodeReport(t, stdout)
			if r.Errors != 0 || r.OK != r.Requests || r.LatencyUs.Samples != r.OK {
				t.Errorf("requests %d ok %d errors %d samples %d; want all ok", r.Requests, r.OK, r.Errors, r.LatencyUs.Samples)
			}
			if r.Params.Rate == 0 {
				t.Errorf("the report's params lost the rate: %+v", r.Params)
			}
			tc.check(t, &r)
		})
	}
}

// TestRateCountsQueueing: against an engine slower than the schedule, a
// paced request's latency counts from when it was due, so the queue that
// builds up shows in the percentiles (no coordinated omission), where the
// closed loop reports the engine's service time only.
func TestRateCountsQueueing(t *testing.T) {
	defer goleak.VerifyNone(t)
	const service = 5 * time.Millisecond
	miss := tl.AppendUint32(nil, memcache.TagNotFound)
	addr, stop := startEngine(t, func(r *server.Request) {
		time.AfterFunc(service, func() { r.Reply(miss) }) // the engine's own slowness
	})
	defer stop()
	p50 := func(args ...string) float64 {
		t.Helper()
		args = append([]string{"-addr", addr, "-warmup", "0", "-quiet", "-json", "-mix", "get=1", "-c", "1", "-d", "1", "-duration", "300ms"}, args...)
		code, stdout, stderr := runBench(t, context.Background(), args...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		r := decodeReport(t, stdout)
		if r.OK == 0 || r.Errors != 0 {
			t.Fatalf("%d ok, %d errors", r.OK, r.Errors)
		}
		return r.LatencyUs.P50 / 1e3
	}
	// One slot serves at most 200 a second; the schedule asks 2000, so
	// the request sent at t was due at about t/10: the median waited
	// about 0.9 x 150 ms. The closed loop's median is the service time.
	closed, paced := p50(), p50("-rate", "2000")
	if paced < 5*service.Seconds()*1e3 || paced < 3*closed {
		t.Errorf("p50 %.1f ms paced at 2000/s against %.1f ms closed-loop, with a %v engine; want the paced one to show the queue (over 25 ms)",
			paced, closed, service)
	}
}

// TestRateStopsAtOnce: at -rate 1 over 8 slots, slot i's first request is
// due i seconds in; a run of 100 ms sends one request and must not wait
// for the others' timers to end (nor leak them: goleak).
func TestRateStopsAtOnce(t *testing.T) {
	defer goleak.VerifyNone(t)
	addr, stop := startTrivial(t)
	defer stop()
	done := make(chan struct{})
	var code int
	var stdout, stderr string
	go func() {
		defer close(done)
		code, stdout, stderr = runBench(t, context.Background(), "-addr", addr, "-warmup", "0", "-quiet", "-json", "-mix", "get=1",
			"-rate", "1", "-c", "8", "-duration", "100ms", "-timeout", "200ms")
	}()
	// Without the wake-up at stop the run would end only at the last
	// slot's due time, 7 s in; the drain's grace alone is 1.2 s.
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a paced run of 100 ms still running after 5 s: stop did not wake the slots waiting for their due time")
	}
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if r := decodeReport(t, stdout); r.Requests != 1 || r.OK != 1 {
		t.Errorf("%d requests (%d ok) in 100 ms at -rate 1 over 8 slots; want the first slot's one", r.Requests, r.OK)
	}
}

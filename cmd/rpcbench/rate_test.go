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
// gets a second; paced, a run sends at most rate x (time + paceSlack),
// plus one request per slot, each slot's first, and -n requests take at
// least the time their schedule spans.
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
			// Requests due before the run stopped (the report's elapsed
			// time, 300 ms and whatever the end timer was late on a
			// busy machine), or within paceSlack after: 2000 a second,
			// and each slot's first at most once more. A closed loop
			// sends tens of thousands.
			limit := uint64(2000*(r.ElapsedSec+paceSlack.Seconds())) + 4
			if r.Requests > limit || r.Requests == 0 {
				t.Errorf("%d requests in %.3f s at -rate 2000, want at most %d (and some)", r.Requests, r.ElapsedSec, limit)
			}
		}},
		{"first due", []string{"-rate", "1", "-c", "8", "-duration", "100ms", "-timeout", "200ms"}, func(t *testing.T, r *report) {
			// Slot i's first request is due i seconds in: only slot 0's
			// is sent in 100 ms.
			if r.Requests != 1 {
				t.Errorf("%d requests in 100 ms at -rate 1 over 8 slots; want the first slot's one", r.Requests)
			}
		}},
		{"n", []string{"-rate", "1000", "-c", "2", "-d", "1", "-n", "100"}, func(t *testing.T, r *report) {
			// The 100th request is due at 99 ms, and leaves at most
			// paceSlack early: a bound the schedule sets, which a slow
			// machine can only exceed.
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

// TestStopRetiresWaitingSlots: a paced slot waiting for a request due in
// an hour retires as soon as the run stops, instead of holding the run
// for the hour: stop takes the slot from its timer and retires it.
func TestStopRetiresWaitingSlots(t *testing.T) {
	defer goleak.VerifyNone(t)
	p := &params{Addr: "127.0.0.1:1", Conns: 2, Depth: 2, Rate: 1, Timeout: time.Second, Keys: 10, Mix: mix{Get: 1}, MgetKeys: 1, Dist: "uniform"}
	b, err := newBench(p) // dials nothing
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	b.phase = phaseLoad
	b.wg.Add(len(b.slots))
	for i, s := range b.slots {
		s.due = b.now() + int64(time.Hour)
		if sent, retired := s.send(); !sent || retired || !s.waiting.Load() {
			t.Fatalf("slot %d: send = %v, %v, waiting %v; want it waiting for its timer", i, sent, retired, s.waiting.Load())
		}
	}
	b.stop()
	for i, s := range b.slots {
		if !s.retired || s.waiting.Load() {
			t.Fatalf("slot %d after stop: retired %v, waiting %v; want it retired at once", i, s.retired, s.waiting.Load())
		}
	}
	b.wg.Wait() // every slot counted itself out
}

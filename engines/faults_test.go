package engines_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

var trueAnswer = tl.AppendUint32(nil, tl.TagTrue)

// setFaults sends engine.debugSetFaults over the wire.
func (e *engine) setFaults(t testing.TB, f engines.Faults) {
	t.Helper()
	got, err := e.do(ctxWait(t), engines.AppendDebugSetFaults(nil, f))
	if err != nil || !bytes.Equal(got, trueAnswer) {
		t.Fatalf("debugSetFaults: %x, %v", got, err)
	}
	if e.Faults() != f {
		t.Fatalf("Faults() = %+v, want %+v", e.Faults(), f)
	}
}

// TestLatency: with latency set over the wire, an answer waits for the
// (fake) clock to pass it, while the connection keeps serving the control
// function.
func TestLatency(t *testing.T) {
	leakCheck(t)
	e := startEngine(t, engines.Config{})
	ctx := ctxWait(t)
	e.setFaults(t, engines.Faults{Latency: 5 * time.Millisecond})
	if got := e.Stats()["fault_latency_ms"]; got != "5" {
		t.Fatalf("fault_latency_ms %q", got)
	}
	ch := e.goDo(ctx, echo("slow"))
	pid := e.goDo(ctx, tl.AppendUint32(nil, engines.TagEnginePID))
	if err := e.clock.WaitTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Both requests are queued before the clock moves: the holder counts
	// them once the second has been read.
	waitStat(t, e, "fault_delayed_requests", "2")
	// The reader is not blocked: the control function still answers now.
	e.setFaults(t, engines.Faults{Latency: 5 * time.Millisecond})
	e.clock.Advance(4 * time.Millisecond)
	if got := e.Stats()["fault_delayed_requests"]; got != "2" {
		t.Fatalf("after 4ms: %s delayed, want 2", got)
	}
	select {
	case r := <-ch:
		t.Fatalf("answered before the latency passed: %x %v", r.body, r.err)
	default:
	}
	e.clock.Advance(time.Millisecond)
	if r := recv(t, ch); r.err != nil || !bytes.Equal(r.body, echoAnswer("slow")) {
		t.Fatalf("delayed echo: %x %v", r.body, r.err)
	}
	if r := recv(t, pid); r.err != nil {
		t.Fatalf("delayed engine.pid: %v", r.err)
	}
	// Healthy again: answers at once without the clock.
	e.setFaults(t, engines.Faults{})
	if _, err := e.do(ctx, echo("fast")); err != nil {
		t.Fatal(err)
	}
}

// waitStat waits until engine.stat (read in-process) has key = want. The
// reader goroutine queues requests asynchronously; this is a bounded
// poll on a condition, each round yielding to the server by a call on
// the wire that is itself never delayed.
func waitStat(t *testing.T, e *engine, key, want string) {
	t.Helper()
	for range 1000 {
		if e.Stats()[key] == want {
			return
		}
		// A round trip of the (never faulted) control function orders us
		// after everything the reader has read so far.
		e.setFaults(t, e.Faults())
	}
	t.Fatalf("stat %s never became %s (now %s)", key, want, e.Stats()[key])
}

// TestErrorRate: the injected error rate, over many requests and a seeded
// random source, is close to the one set.
func TestErrorRate(t *testing.T) {
	leakCheck(t)
	const n = 2000
	for _, tc := range []struct {
		name     string
		ppm      int
		min, max int
	}{
		{"none", 0, 0, 0},
		{"10%", 100_000, 140, 260}, // mean 200, sd 13.4
		{"all", engines.PPM, n, n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startEngine(t, engines.Config{Rand: lockedRand(7), Faults: engines.Faults{ErrorPPM: tc.ppm}})
			ctx := ctxWait(t)
			failed := 0
			for range n {
				_, err := e.do(ctx, echo("x"))
				switch {
				case err == nil:
				case rpcCode(err) == engines.InjectedErrorCode:
					failed++
				default:
					t.Fatal(err)
				}
			}
			if failed < tc.min || failed > tc.max {
				t.Fatalf("%d of %d failed, want %d..%d", failed, n, tc.min, tc.max)
			}
			st := e.Stats()
			if st["fault_injected_errors"] != itoa(failed) || st["calls.test.echo"] != itoa(n-failed) {
				t.Fatalf("stats: injected %s, calls %s; want %d, %d", st["fault_injected_errors"], st["calls.test.echo"], failed, n-failed)
			}
		})
	}
}

// TestStall: stalled calls time out at their deadline; turning the stall
// off serves what was held; the control function is never stalled.
func TestStall(t *testing.T) {
	leakCheck(t)
	e := startEngine(t, engines.Config{})
	ctx := ctxWait(t)
	e.setFaults(t, engines.Faults{Stall: true})
	held := e.goDo(ctx, echo("held"))
	// The held call has a deadline, so the engine armed its release timer.
	if err := e.clock.WaitTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for _, body := range [][]byte{echo("short"), tl.AppendUint32(nil, engines.TagEnginePID)} {
		_, err := e.do(ctxTimeout(t, 50*time.Millisecond), body)
		if !errors.Is(err, client.ErrTimeout) {
			t.Fatalf("stalled call: %v, want ErrTimeout", err)
		}
	}
	waitStat(t, e, "fault_stalled_requests", "3")
	e.setFaults(t, engines.Faults{})
	if r := recv(t, held); r.err != nil || !bytes.Equal(r.body, echoAnswer("held")) {
		t.Fatalf("held call after unstall: %x %v", r.body, r.err)
	}
	if got := e.Stats()["fault_stalled_requests"]; got != "0" {
		t.Fatalf("%s still stalled", got)
	}
}

// TestStallRelease: a stalled request is answered QUERY_TIMEOUT a grace
// period after its deadline, so abandoned requests do not pile up.
func TestStallRelease(t *testing.T) {
	leakCheck(t)
	e := startEngine(t, engines.Config{Faults: engines.Faults{Stall: true}})
	ctx := ctxWait(t) // deadline: custom_timeout_ms about 10 s
	held := e.goDo(ctx, echo("held"))
	if err := e.clock.WaitTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(wait + 2*time.Second)
	if r := recv(t, held); rpcCode(r.err) != rpc.CodeQueryTimeout {
		t.Fatalf("released call: %x %v, want QUERY_TIMEOUT", r.body, r.err)
	}
}

// TestStallShutdown: Shutdown answers stalled requests GRACEFUL_SHUTDOWN
// and then drains.
func TestStallShutdown(t *testing.T) {
	leakCheck(t)
	e := startEngine(t, engines.Config{Faults: engines.Faults{Stall: true, Latency: time.Hour}})
	ctx := ctxWait(t)
	held := e.goDo(ctx, echo("held"))
	if err := e.clock.WaitTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, held); rpcCode(r.err) != rpc.CodeGracefulShutdown {
		t.Fatalf("stalled call at shutdown: %x %v", r.body, r.err)
	}
}

// TestLatencyShutdown: Shutdown serves delayed requests at once.
func TestLatencyShutdown(t *testing.T) {
	leakCheck(t)
	e := startEngine(t, engines.Config{Faults: engines.Faults{Latency: time.Hour}})
	ctx := ctxWait(t)
	held := e.goDo(ctx, echo("late"))
	if err := e.clock.WaitTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, held); r.err != nil || !bytes.Equal(r.body, echoAnswer("late")) {
		t.Fatalf("delayed call at shutdown: %x %v", r.body, r.err)
	}
}

// TestFaultsValidate: the limits, and SetFaults refusing bad values.
func TestFaultsValidate(t *testing.T) {
	for _, tc := range []struct {
		f  engines.Faults
		ok bool
	}{
		{engines.Faults{}, true},
		{engines.Faults{Latency: engines.MaxLatency, ErrorPPM: engines.PPM, Stall: true}, true},
		{engines.Faults{Latency: -1}, false},
		{engines.Faults{Latency: engines.MaxLatency + 1}, false},
		{engines.Faults{ErrorPPM: -1}, false},
		{engines.Faults{ErrorPPM: engines.PPM + 1}, false},
	} {
		if err := tc.f.Validate(); (err == nil) != tc.ok || (err != nil && !errors.Is(err, engines.ErrBadConfig)) {
			t.Errorf("Validate(%+v) = %v", tc.f, err)
		}
	}
	s, err := engines.New(engines.Config{Kind: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetFaults(engines.Faults{ErrorPPM: -5}); err == nil || s.Faults() != (engines.Faults{}) {
		t.Fatalf("SetFaults accepted a bad rate: %v, now %+v", err, s.Faults())
	}
}

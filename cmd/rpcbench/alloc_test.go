//go:build !race

package main

import (
	"context"
	"io"
	"runtime"
	"testing"

	"go.uber.org/goleak"
)

// TestSteadyStateAllocs: after the set-up, a run costs (almost) no
// allocation per request on either side of the loopback: the client and
// server pool their calls, and rpcbench builds requests into per-slot
// buffers. The bound is loose (0.05 per request) to absorb the set-up and
// the report, which do allocate, and the runtime's own background work.
func TestSteadyStateAllocs(t *testing.T) {
	defer goleak.VerifyNone(t)
	addr, stop := startTrivial(t)
	defer stop()
	const n = 20000
	for _, driver := range []string{"async", "sync"} {
		t.Run(driver, func(t *testing.T) {
			args := []string{"-addr", addr, "-driver", driver, "-n", "20000", "-c", "2", "-d", "4", "-warmup", "0",
				"-mix", "get=5,set=3,mget=2", "-quiet", "-json"}
			if code := run(context.Background(), append(args[:len(args):len(args)], "-n", "200"), io.Discard, io.Discard); code != exitOK {
				t.Fatalf("warm-up run: exit %d", code)
			}
			var before, after runtime.MemStats
			var out jsonWriter
			runtime.ReadMemStats(&before)
			if code := run(context.Background(), args, &out, io.Discard); code != exitOK {
				t.Fatalf("exit %d", code)
			}
			runtime.ReadMemStats(&after)
			if out.r.OK != n || out.r.Errors != 0 {
				t.Fatalf("%d ok, %d errors; want %d ok", out.r.OK, out.r.Errors, n)
			}
			if per := float64(after.Mallocs-before.Mallocs) / n; per > 0.05 {
				t.Errorf("%.3f allocations per request, want ~0", per)
			}
		})
	}
}

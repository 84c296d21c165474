//go:build !race

package main

import (
	"context"
	"io"
	"runtime"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

// TestSteadyStateAllocs: a run costs (almost) no allocation per request on
// either side of the loopback: the client and server pool their calls,
// and rpcbench builds requests into per-slot buffers. What a run costs
// whatever its length (the set-up, the report) is taken out by measuring
// two runs, of n and of 2n requests, and dividing the difference by n;
// the bound (0.02 per request) absorbs the runtime's own background work.
func TestSteadyStateAllocs(t *testing.T) {
	defer goleak.VerifyNone(t)
	addr, stop := startTrivial(t)
	defer stop()
	for _, tc := range []struct {
		name string
		n    uint64
		args []string
	}{
		{"async", 10000, []string{"-driver", "async"}},
		{"sync", 10000, []string{"-driver", "sync"}},
		// 64 slots at 40,000/s: each waits 1.6 ms for its timer between
		// requests.
		{"rate", 10000, []string{"-rate", "40000", "-d", "32"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// mallocs runs n requests and returns what the run allocated.
			mallocs := func(n uint64) uint64 {
				args := append([]string{"-addr", addr, "-n", strconv.FormatUint(n, 10), "-c", "2", "-d", "4", "-warmup", "0",
					"-mix", "get=5,set=3,mget=2", "-quiet", "-json"}, tc.args...)
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
				return after.Mallocs - before.Mallocs
			}
			mallocs(200) // warm the pools
			short, long := mallocs(tc.n), mallocs(2*tc.n)
			if per := (float64(long) - float64(short)) / float64(tc.n); per > 0.02 {
				t.Errorf("%.3f allocations per request (%d for %d requests, %d for %d), want ~0", per, short, tc.n, long, 2*tc.n)
			}
		})
	}
}

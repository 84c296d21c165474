// Command rpcbench is the load generator for TL RPC: memcache.get, set and
// getMulti against the proxy or an engine, measured the way docs/peers.md
// §2 measured twemproxy (c connections, pipeline depth d, warm-up not
// measured, p50/p90/p99/p99.9/max), so the two can be compared.
//
// # Load model
//
// Closed loop per (connection, depth slot). Each of -c connections is its
// own tl/rpc/client Client with one connection (TCP, or with -network udp
// VK's UDP transport on a socket of its own, keyed by -key-file or
// -key-hex: cmd/internal/netflags), carrying -d slots; a
// slot has one request in flight and sends the next as soon as the answer
// (or error) arrives. So at most c*d requests are in flight, and the
// offered load follows the target instead of queueing without bound. This
// is memtier's --pipeline model. -batch reproduces peers.md's methodology
// exactly (redis-benchmark -P d): a connection sends d requests back to
// back (the client coalesces them into one socket write) and sends the
// next batch only when all d answers are in; the answer that completes a
// batch sends the next one.
//
// -rate R makes the load open (wrk2's model): each slot's requests are due
// every c*d/R seconds, the slots staggered, whatever the target does; a
// slot sends when its request is due, or as soon as its previous answer
// arrives if that is later, and the request's latency then counts from
// its due time, so queueing at a target that falls behind is measured
// rather than hidden (coordinated omission). A slot waits for a due time
// on its own timer, armed paceSlack (1 ms) early because Go's timers
// sleep in whole milliseconds; a request sent early counts from its send.
//
//	slot ─prepare(key, op; encode into the slot's buffer)─▶ Client.Go
//	  ▲                                                        │
//	  └── Done on the reader goroutine: record latency, next ◀─┘
//
// Phases: probe (one get with FailFast, so an unreachable target is exit 3
// at once) -> optional prefill (every key set once, in order, with
// progress) -> warm-up (-warmup, unmeasured) -> measured run (until
// -duration, -n measured requests, or SIGINT) -> drain (slots stop; after
// -timeout + 1 s the clients are closed, failing anything still pending)
// -> report.
//
// Drivers: "async" (default) runs each slot from the client's completion
// callback, so there is no goroutine per slot and no channel hand-off per
// request; "sync" runs one goroutine per slot blocked in Client.Do. Against
// a trivial in-process engine async is the faster of the two (see
// BenchmarkDriver), so it is the default; sync stays as a cross-check.
//
// # Invariants
//
//   - Always bounded: -duration is at most 10 min, prefill has the same
//     cap, a hung target is cut off by the drain grace period, and SIGINT
//     stops the run early and still prints the report. A paced slot
//     waiting for its due time retires at once when the run stops: stop,
//     its timer and the slot race to clear its waiting flag (an atomic
//     compare-and-swap), and the winner owns the slot.
//   - Loopback only, unless -allow-remote (which logs a warning).
//   - No allocation per request in steady state: requests are encoded into
//     per-slot buffers, keys are formatted into per-slot scratch, the
//     histogram is fixed-size atomics, and counters are striped per
//     connection group; only error answers take a lock and may allocate.
//     TestSteadyStateAllocs checks it.
//   - Every measured request is counted exactly once: as ok (with its
//     latency in the histogram) or as an error by name. Requests started
//     during the warm-up are not counted, even if they finish after it.
//   - No package-level state; run writes only to the writers it is given.
package main

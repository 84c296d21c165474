// Package health decides whether one engine may take requests: the fail-fast
// half of the proxy (peers.md §1: mcrouter's hard/soft TKO, Envoy's ejection
// cap). It is pure logic: no I/O, no goroutines, no clock of its own; every
// method that needs the time takes it as an argument, so tests drive the
// state machine with a fake clock.
//
// # State machine
//
//	       connect error (once)          probe answered
//	Up ------------------------------> Down ------------> Up
//	 \   N consecutive timeouts       ^  |
//	  `------------------------------'   `-- probe failed: delay x2 (<= max)
//
// A timeout is a request the proxy gave up on, an engine's own
// QUERY_TIMEOUT answer, or an answer slower than SlowLatency. Any other
// answer resets the count. Probes (engine.pid) are scheduled ProbeInterval
// after going down, doubling on each failed probe up to ProbeMaxInterval,
// each delay plus a random 0..ProbeJitter share of it; at most one probe is
// in flight per engine.
//
// # Invariants
//
//   - Up is one atomic load: the request path never takes a lock here.
//   - Transitions are serialised by a mutex and reported by their return
//     value exactly once, so the caller logs each up/down change once, not
//     per request.
//   - A Group caps how many of its engines may be down at once
//     (max_down_share, at least one engine when the share is > 0). An engine
//     whose turn to go down is refused by the cap stays Up ("fail open"),
//     is still probed, and tries again on its next failure.
//   - The in-flight cap (MaxInflight) refuses at once: TryStart never
//     waits.
//   - Health never moves keys: it only answers "may this engine be used".
//   - A RetryBudget (one per cluster) answers "may this request be sent
//     again": at most share × the cluster's requests per second plus a
//     floor, so retries never multiply the load of a failing cluster.
//   - A RateLimit (one per function with rate_limit) answers "may this
//     request go at all": at most rate a second and burst at once, with one
//     compare-and-swap on the request path.
package health

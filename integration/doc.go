// Package integration holds the end-to-end tests: VK's own Go client
// (github.com/VKCOM/tl/pkg/rpc) as the app, a real rpcproxy process and
// real engine processes, all on 127.0.0.1, built once by TestMain from
// ./cmd/rpcproxy and ./cmd/engine.
//
//	VK client ──TL RPC──▶ rpcproxy serve ──TL RPC──▶ engine -kind memcache|events
//	    │                   (SIGHUP, SIGKILL…)            (SIGKILL, SIGSTOP…)
//	    └───────── direct reads, to check what each engine stored ──┘
//
// What the tests check: routing by function name, by actor id and by a
// cluster's own port; forward keys (the engine that stores the key is the
// one the forward key names, and the first string_forward_keys element is
// removed on the way); fail-fast for a killed engine (immediate errors)
// and a hung one (timeouts within their deadline, then immediate errors
// while it is down, other shards unaffected); recovery after a restart;
// reload under load with no failed request; a bad reload refused while the
// old config keeps serving; garbage bytes closing only their own
// connection; fan-out: a getMulti split over the shards and answered in
// key order, partially (memcache.not_found, failed_subqueries = 1) with
// one engine killed, and merged events.search / events.count; chaos
// (TestChaos): a mixed load over replicated shards while engines are
// stopped, killed, stopped-then-killed and restarted, the config reloaded,
// apps drop connections with requests in flight and send garbage, with
// every answer checked (a value read back belongs to the key asked), only
// fault-caused error codes allowed, full recovery after, and the proxy's
// goroutine count (its /debug/pprof/) back to where it was.
//
// # Rules
//
//   - Every process is started with startProc, which kills it (SIGCONT
//     first, so a stopped one can die) in t.Cleanup, also on failure.
//   - No time.Sleep as synchronisation: tests wait on the engine's first
//     stdout line, the proxy's /healthz and /stats (every engine
//     connected, reload counters, goroutine counts), /proc state for
//     SIGSTOP, a load's progress, and answers, each bounded.
//   - No latency assertions: failures are counted and their error codes
//     checked; "within its deadline" only with a margin of seconds.
//   - Every load loop is bounded in count and time.
//
// The package holds only tests; nothing imports it.
package integration

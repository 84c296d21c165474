// Package engines is the small engine server the sample engines share
// (engines/memcache, run by cmd/engine): a tl/rpc/server.Server whose
// handler dispatches each request by its function tag to the engine's
// Funcs, answers the engine.* built-ins, counts calls and errors per
// function for engine.stat, and injects faults for tests.
//
// # Request path
//
//	tl/rpc/server reader ─▶ ServeRPC ─┬─ healthy: dispatch, reply at once (Request's buffer)
//	                                  └─ faults:  error? / stall (hold) / latency (queue) ─▶ dispatch later
//
// dispatch reads the tag, looks it up in a table built once by New (tags
// of the built-ins, engine.debugSetFaults and Config.Funcs; duplicates are
// a config error), and calls the function with the arguments after the
// tag. A tag not in the table is answered UNKNOWN_FUNCTION_ID (-2000) with
// VK's text "RPC handler for #d33b13ae not found".
//
// # Errors (one mapping, errorOf)
//
//	*rpc.Error from a function           its code, text prefixed by the function name
//	ErrExtraData (End found bytes left)  EXTRA_DATA (-1001)
//	ErrSyntax, tl.ErrTruncated/Tag/...   TL_ERROR_SYNTAX (-1000)
//	anything else                        rpc.ErrorOf (UNKNOWN -4000, deadlines -3000)
//
// # Built-ins
//
// engine.pid, engine.version and engine.stat are answered here rather
// than by tl/rpc/server's built-in option, so that faults reach them: a
// stalled engine must look dead to engine.pid health checks, as a hung VK
// engine does. engine.pid answers the SenderPID the handshake sent (local
// IPv4, port | pid<<16, start time); engine.stat is server.Stats (uptime,
// connections, queries..., and udp_* for the UDP transport: peers open
// and parked, revivals, resets, resends, datagrams) plus calls.<fn>, errors.<fn>, errors_total,
// unknown_functions, fault_* and the engine's own Config.Stats (keys...).
// The memcached text "stats"/"version" answers of tl/rpc/server are
// therefore off.
//
// # Faults (test only, no special build)
//
// Faults{Latency, ErrorPPM, Stall} are set by Config.Faults, SetFaults or
// over the wire by engine.debugSetFaults (engine.tl, tag 65918789), which
// is itself never faulted. The error draw uses Config.Rand, so tests are
// deterministic. Delayed and stalled requests keep their bytes (Retain)
// and wait in one holder: a min-heap by due time served by a single timer
// from Config.Clock, so a delayed request costs no goroutine and the
// connection keeps reading. Stalled requests are released when Stall is
// turned off (served), a grace second after their deadline (QUERY_TIMEOUT,
// keeping memory bounded) or at shutdown (GRACEFUL_SHUTDOWN).
//
// # Stores
//
// The sample engines' stores share Stripes: keys are placed on a
// power-of-two number of lock stripes by a per-store seeded hash; each
// store keeps its own stripe type (lock, map, padding).
//
// # Invariants
//
//   - Every request gets exactly one reply, whatever the faults; Shutdown
//     first releases everything the holder has, so the server can drain.
//   - Healthy path: one atomic load for the faults, one map lookup, no
//     allocation beyond what the function itself does.
//   - No package-level mutable state: logger, clock and random source
//     come from Config.
package engines

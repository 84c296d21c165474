// Package rpcproxy is the TL RPC proxy: apps connect to its listeners with
// VK's TL RPC (tl/rpc/server), and each request is routed to a cluster, a
// shard and an engine (package route), forwarded over a multiplexed engine
// connection (package upstream) and answered with the app's query id.
//
//	app ─▶ server reader ─ServeRPC─▶ route: cluster, key, shard ─▶ replica
//	       (per app conn)             (immutable Table, atomic)     (health)
//	                                                                  │
//	   envelope re-encoded (new query id, forward key dropped, no_result
//	   cleared, custom_timeout_ms = time left); body forwarded as it came
//	                                                                  ▼
//	app ◀─ TryReplyResultIn ◀── whoever finishes the request: the engine
//	       (never waits)           reader, the deadline sweeper, a cancel
//
// # Behaviour
//
//   - Fail fast: an engine that is down, not connected or at max_inflight is
//     refused with no network I/O (NO_CONNECTIONS -3002 naming the engine,
//     TOO_MANY_REQUESTS -3029 at the cap), or, with failover, the next usable
//     replica of the same shard takes the request (as it does a request
//     a replica refused at Send: no connection, send queue full). Keys
//     never move to another shard. Health: package health.
//   - Rate limits: a function with rate_limit over it in its cluster is
//     answered FLOOD_CONTROL (-3013) right after the cluster lookup, before
//     any other work (route.Cluster.Limit, health.RateLimit).
//   - Shadow traffic (shadow.go): a cluster with [cluster.shadow] copies a
//     share of its keyed, single-shard requests to another cluster before
//     sending them (route.Cluster.ShadowShard); the copy's answer is
//     dropped, and a shadow replica that is down or busy drops the copy.
//   - Coalescing (coalesce.go): a split marked coalesce joins the
//     sub-requests one round of app readers makes for one engine into one
//     call (sealed at the opening reader's burst Flush, packet.Sealer)
//     and cuts the answer back per part (fanout.CutAnswer).
//   - Retries (forward.again, sub.again): a function marked retry whose
//     engine connection is lost before the answer is sent once more to
//     another replica of its shard, before its deadline and within the
//     cluster's health.RetryBudget; never after a timeout or an error
//     answer. A fan-out retries its sub-requests the same way.
//   - Timeouts: the app's custom_timeout_ms less the cluster's margin
//     ([proxy] timeout_margin, at most a tenth of it: the proxy answers
//     before the app's own timer fires), else the cluster's timeout; the
//     engine gets the time left as its custom_timeout_ms; no answer by the
//     deadline is QUERY_TIMEOUT (-3000) naming the engine.
//   - no_result: the proxy clears the bit, answers the app nothing at once,
//     and waits for the engine's answer itself (then drops it), so those
//     requests count toward the engine's health and in-flight cap.
//   - Cancels (rpcCancelReq) from an app are passed on to the engine, or
//     to every shard of a fan-out still working on the request; the app
//     gets an error answer (ignored by VK clients) once the request ends.
//   - Engine errors pass through unchanged (code and text), with the result
//     extra the app asked for.
//   - Slow apps: there is no replier goroutine and no send queue. Whoever
//     finishes a request (the engine's reader, the deadline sweeper, a
//     cancel) answers the app with TryReplyResultIn, which copies the
//     answer into the app connection's pending writes and never waits.
//     An app connection with MaxAppPending bytes pending (its packet
//     WriteBufferLimit; an app that stopped reading) gets
//     CONGESTION_CONTROL_DISCARD (-3017) instead, queued within a slack of
//     256 KiB; beyond that its connection is closed (CloseConn). Nobody
//     else ever waits for a slow app (replier.go).
//   - App-side caps are the proxy's, shared by every listener
//     (server.Limits, set again by each reload): max_connections,
//     max_request_bytes_in_flight, max_request_size (for TCP connections
//     made after it, closing one that sends more; per request over UDP,
//     answered with QUERY_INCORRECT), and max_response_bytes_in_flight, the answer bytes held:
//     queued for app connections that are behind (packet.Budget; an app
//     that reads promptly holds nothing) plus fan-out shard answers kept
//     until their merge (scatter.held). Over it, an app connection that is
//     behind gets CONGESTION_CONTROL_DISCARD instead of its answer, and a
//     shard answer arriving for a fan-out is dropped (that shard failed).
//   - UDP (proxy.key_file, proxy.udp): every app listener also serves VK's
//     UDP transport on the same IP and port (udp.go), feeding the same
//     handler through tl/rpc/server's ServeUDP; no rpcServerWantsFin is
//     sent over UDP. Clusters with transport = "udp" reach their engines
//     through one shared udp.Transport (package upstream); a dead UDP
//     engine shows as timeouts, goes down after consecutive_timeouts and
//     is probed back like any other. A UDP app or engine whose window
//     (about 1 MB) is unacknowledged is treated like a full TCP
//     connection: its answers become -3017, requests to it fail fast.
//     App peers idle for proxy.udp_idle_after with nothing in flight are
//     parked (tl/rpc/udp): their connection, goroutine and
//     max_connections slot are freed until their next datagram; peers
//     silent that long with answers unacked are forgotten. A UDP peer over
//     max_connections has its requests answered with TOO_MANY_REQUESTS
//     and is parked once it acked them, or served once a slot frees
//     (server.refuseUDP). The key, udp
//     and udp_idle_after are read at start; a reload keeps them.
//   - Fan-out (scatter.go, packages route and fanout): a vector key
//     argument (memcache.getMulti) is split, one sub-request per shard
//     with that shard's keys, answered in the request's key order; a
//     function configured with merge = ... goes to every shard and its
//     answers are merged; rpcProxy.diagonal sends its inner call to every
//     shard and answers one Maybe per shard (Nothing for failed ones).
//     Sub-requests leave in parallel from ServeRPC under the request's
//     one deadline; a down or busy shard is failed at once, never waited
//     for. on_error = "fail" answers the first failed shard's error by
//     shard order; "partial" answers from the shards that answered and
//     reports the failed count in failed_subqueries when asked. Forward
//     keys still pick one shard. A cancel goes to every shard that has
//     not answered yet.
//   - Reload (Reload, Apply, the file watcher): validate -> build -> swap.
//     A config or schema that fails is refused and logged; the old table
//     stays. New listeners open before the swap, removed ones are shut
//     down gracefully after it; requests in flight finish on their table;
//     engines are shared by address and reference-counted, so those that
//     stay keep their connections and health. /stats and /metrics name the
//     running config by its file and the SHA-256 of its text, and say how
//     the last reload ended (applied, or refused and why). The watcher
//     reloads only file content no reload has read yet, so an edit
//     followed by SIGHUP is one reload, and a refused file is not retried.
//   - Counters: per cluster (metrics.Cluster), per cluster and function
//     (metrics.Function, looked up once per request by route.Cluster.Function)
//     and per engine; all atomics, kept across reloads by metrics.Registry.
//   - Slow requests (slowlog.go): a request answered or failed
//     proxy.slow_request or more after it arrived is counted in its
//     cluster; up to 100 a second are described, kept among the last 128
//     for /slow and logged at most once a second.
//   - Shutdown: stop accepting, rpcServerWantsFin to every TCP app connection
//     (UDP ones close at their last answer),
//     drain until the context ends, close engines.
//
// # Invariants
//
//   - No package-level mutable state; logger, clock, listen and dial
//     functions come from Options.
//   - The request path (ServeRPC -> engine Send; engine answer -> reply)
//     allocates nothing in steady state: forwards are pooled, lookups are
//     map reads, errors are prebuilt. BenchmarkForwardLoopback and
//     TestForwardDoesNotAllocate prove it for the whole process (app,
//     proxy and engine on loopback).
//   - Every proxy-made error is an *rpc.Error; rpc.ErrorOf (called by the
//     server's ReplyErr) is the only mapping to TL codes.
package rpcproxy

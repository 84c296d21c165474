// Package upstream holds the proxy's connections to engines: one Engine per
// engine address, shared by every cluster and every config generation that
// lists it (a Pool keyed by address, reference-counted across reloads), each
// with one multiplexed TL RPC connection whose answers come back by query id
// in any order, and each with its own health (package health).
//
// # Request path
//
//	Send(call, hdr, body, deadline)  under the engine's lock: assign a query
//	                                 id, remember call in pending; then,
//	                                 unlocked, TryWritePacket hdr+body on
//	                                 the connection (never blocks: written
//	                                 inline when the connection is idle,
//	                                 else coalesced by its flusher)
//	                                 (a Batcher call's write waits in its
//	                                 reader's packet.Batch until the burst ends)
//	reader goroutine                 look the query id up, remove it, call
//	                                 call.Answer (body valid only then);
//	                                 Answer gets the reader's batch, so its
//	                                 own writes join this reader's burst
//	Pool ticker                      remove and fail calls past their
//	                                 deadline (scanning only when the
//	                                 earliest may be due); start probes
//	Cancel(qid)                      remove the call, send rpcCancelReq
//
// Whoever removes a call from pending owns its completion, so Answer or Fail
// is called exactly once per successful Send. pending is a slot table, not
// a map: a query id is a slot index and that slot's use count, so a lookup
// is an index and a compare, and a late answer (its slot freed, maybe
// reused) carries a stale count and is dropped.
//
// # Invariants
//
//   - Fail fast: Send never dials and never waits. No connection, a
//     connection with QueueLimit bytes pending or a closed engine is an immediate *rpc.Error naming the
//     engine (built once per engine, so failing does not allocate).
//   - No head-of-line blocking: each engine has its own connection, reader
//     and lock; the lock is never held across I/O. Writes never wait for
//     the engine: only the connection's own flusher goroutine does.
//   - A connect error (dial, handshake, a connection that breaks) marks the
//     engine down at once and fails the calls sent on that connection with
//     NO_CONNECTIONS; timeouts and QUERY_TIMEOUT answers are counted by the
//     engine's health tracker; probes (engine.pid) redial and bring it back.
//     At most one probe per engine is in flight.
//   - rpcServerWantsFin from an engine: new requests go to a fresh
//     connection at once; the old one finishes its pending calls.
//   - An address listed by two clusters is one Engine: one connection and
//     one health state; its health settings and max_down_share group are
//     the last Acquire's (the newest table, the later cluster).
//   - UDP engines (AcquireUDP; keyed apart from the same address over
//     TCP) share one udp.Transport, one udp.Conn each. UDP has no connect
//     step: a dead engine shows as timeouts, down after
//     ConsecutiveTimeouts; probes bring it back, and a reset connection
//     (the engine restarted) is a connect error like a broken TCP one. A
//     UDP engine with a window (about 1 MB) of unacknowledged requests is
//     full: Send fails at once, as on a full TCP connection.
//   - Released engines (refs 0) close; a Pool's Close fails everything
//     pending and waits for every goroutine it started.
package upstream

// Package client is the multiplexed TL RPC client (wire.md §4): many
// concurrent calls share a few TCP packet connections to one address, the
// way the proxy talks to engines and the CLI and load generator talk to
// anything. Options.Network "udp" carries the same calls over VK's UDP
// transport (tl/rpc/udp) instead.
//
// A Client owns Conns slots. Each slot has a dial loop goroutine (lazy:
// started by the first call), one current connection with one reader
// goroutine, and a pending table mapping query ids to calls:
//
//	Do / Go ──prepare──▶ call (pooled: header buffer, timer, done chan)
//	                      │ slot.mu: table put, timer armed
//	                      ▼
//	              packet.Conn.WritePacket(head, body) ── flusher coalesces ──▶ socket
//	socket ──▶ reader: ReadPacket, ParseResult, slot.mu: table remove ──▶ deliver
//
// Invariants:
//   - Removal from the pending table is the single arbiter of who
//     completes a call: the reader (answer), the timer (deadline), Do's
//     context or Cancel, connection loss, a failed dial under FailFast, or
//     Close. Exactly one of them delivers, exactly once.
//   - The slot mutex is held only for table and pointer updates, never
//     across I/O or callbacks; concurrent writers meet only in
//     packet.Conn, which copies and coalesces their frames.
//   - No goroutine per call and, in steady state, no allocation per call:
//     call structs (with their *time.Timer, header buffer and channel) are
//     pooled, the table is open addressing, Do copies the answer into the
//     caller's Response buffer, and Go hands the reader's parsed answer to
//     the Handler in place (valid only during Done).
//   - A completion that races with the sender (deadline, loss, cancel
//     during WritePacket) is delivered by the sender after WritePacket
//     returns, so request bytes are never reused while being written.
//   - Query ids are per Client: random start, +1 per call, positive,
//     never 0, so they are unique per connection.
//   - Timeouts follow wire.md §4.6: the explicit custom_timeout_ms, else
//     Options.DefaultTimeout, lowered to the deadline; sent truncated to
//     ms but at least 1, clamped to MaxInt32; 0 means none. A local timer
//     fails the call with ErrTimeout (wrapping context.DeadlineExceeded)
//     at the sent timeout, or Options.TimeoutGrace later (never past the
//     deadline) so that the peer's own QUERY_TIMEOUT answer comes first;
//     cancellation before it sends rpcCancelReq if the peer supports it.
//   - Connection loss fails every call in flight on it with one
//     *ConnError (ErrConnLost, the address and the cause). The dial loop
//     reconnects at once after a connection that was up, else with
//     exponential backoff and full jitter. While the last dial failed,
//     FailFast calls fail with ErrNoConnection; other calls queue (their
//     body copied) until a connection is up or their deadline passes.
//   - rpcServerWantsFin retires a connection: new calls go to a fresh one,
//     rpcClientWantsFin is sent if calls are in flight, and the old
//     connection closes once they are answered.
//   - no_result requests (FlagNoResult) are written without a pending
//     entry; their completion is reported once they are queued for writing.
//   - Close fails everything pending with ErrClosed and waits for every
//     goroutine the Client started.
//
// # UDP
//
// Over UDP a slot's connection is a *udp.Conn from Transport.Dial on
// Options.UDP (shared: one socket for many Clients, one Client per
// address) or on the Client's own Transport, made on the first dial and
// closed by Close. Both transports sit behind the small wire interface, so
// multiplexing, deadlines, cancel, fail-fast and reconnect are the same
// code. The differences: encryption is mandatory (a key of >= 32 bytes,
// checked by New); there is no handshake, so a dial fails only on a bad
// address and a silent peer shows as timeouts, not as ErrNoConnection;
// one connection per address (Conns 1); cancel is always sent, as tag and
// query id (wire.md §5.6, not VK's tag-less UDP form); rpcServerWantsFin
// is ignored (wire.md §4.7 item 5). A connection that ends with
// udp.ErrReset (the peer restarted or forgot us) fails its calls with a
// *ConnError (ErrConnLost, cause ErrReset) and the dial loop dials again.
//
// # Call styles
//
// Do(ctx, req, resp) blocks; the answer is copied into resp's reusable
// buffer. Go(req, deadline, h, token) returns at once and reports through
// h.Done on the reader goroutine, the answer valid only during Done; the
// proxy uses it, with Request.Header to forward an envelope it already
// built and Response.Raw to forward the answer as it came.
//
// # Tests against VK
//
// vk_interop_test.go runs the client against VK's own server and VK's
// client against our test server, in every test run.
package client

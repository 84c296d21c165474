// Package server is the TL RPC server: it accepts packet connections
// (tl/rpc/packet), reads requests with one reader goroutine per
// connection, hands them to a Handler that may answer out of order from
// any goroutine, and writes the answers through the connection's
// coalescing writer. The proxy's app-facing listener and the sample
// engines use it.
//
// ServeUDP serves the connections of a tl/rpc/udp Transport with the same
// per-connection machinery (a small wire interface over packet.Conn and
// udp.Conn). Over UDP there is no rpcServerWantsFin (wire.md §4.7):
// Shutdown closes each UDP connection once nothing is in flight and the
// peer has acked every reply (a request arriving meanwhile keeps it open
// until its reply is acked too), then the transport; batches are no-ops,
// and the Try replies report a UDP connection full, without waiting,
// while its queue holds a window of unacknowledged bytes (about 1 MB), as
// at a TCP write buffer limit.
// When the transport offers an idle connection (udp.ErrIdle, with
// udp.Config.IdleAfter), the reader parks it if no request of it is in
// flight (replies are written before they leave the in-flight count), and
// ends; the peer's next message comes back through Accept.
//
// # Messages (wire.md §4.1)
//
//	rpcInvokeReq      -> rpc.ParseInvokeReq -> built-in answer or Handler
//	                     malformed, query id readable: error answer
//	                     (rpc.ErrorOf: -1002); no query id: close, logged
//	rpcCancelReq      -> Canceler.CancelRPC(connection value, query id),
//	                     else ignored; the handler finds the query itself
//	rpcClientWantsFin -> close once every request is answered
//	anything else     -> logged and ignored
//
// Bad bytes below the envelope (CRC, sequence, lengths, truncated or
// stalled packets, handshake failures) close that connection with a logged
// reason in the packet layer; no other connection notices.
//
// # Request lifetime
//
//	read -> reserve (slot + bytes) -> parse -> ServeRPC -> ... -> one Reply
//	                                                               |
//	          release bytes and slot, recycle the Request  <-------+
//
// A Request is pooled. Body and Extra's byte fields alias the read buffer
// until ServeRPC returns (Retain copies them); the reply copies its result
// into the connection's pending buffer. Steady state allocates nothing per
// request.
//
// # Invariants
//
//   - One reader goroutine per connection calls ServeRPC, in arrival
//     order; ServeRPC must not block.
//   - Every request is answered exactly once by the handler (no_result
//     requests too, which writes nothing). A second reply is ignored and
//     logged while the Request is still held; after the reply the Request
//     belongs to the server again.
//   - Memory is bounded: at most MaxConns connections (more are accepted
//     and closed at once; a UDP peer, which cannot see a close, has its
//     requests answered with TOO_MANY_REQUESTS and is parked once it
//     acked them, at most 64 such peers at a time for at most 1s each,
//     or served from its first request that finds a slot free); at most
//     MaxRequestBytes of requests in flight over the server, and
//     MaxInflightPerConn per connection, beyond which readers stop
//     reading until replies arrive (TCP back-pressure, never
//     a crash or an unbounded queue); a response above MaxResponseBytes
//     (at most 16 MiB - 17) is replaced by RESULT_TOO_LARGE (-3011);
//     pending writes are bounded by packet.Config.WriteBufferLimit. A
//     reader held back this way does not read pings either, so a client
//     starved for longer than its packet timeouts reconnects. Both caps
//     are atomics on the request path: a lock (the byte semaphore's FIFO
//     queue) is taken only while a reader waits. Config.Limits shares the
//     caps between servers (a proxy's listeners) and lets them change
//     while they run; its Budget bounds the answer bytes held for
//     clients that are behind, over all of them (packet.Budget).
//   - A request over the packet cap (Limits' MaxPacketLen, else
//     Packet.MaxPacketLen) ends a TCP connection in the packet layer,
//     before it is read. A UDP message arrives whole, so the request alone
//     is answered with QUERY_INCORRECT and its connection goes on.
//   - TryReplyResult and TryReplyErr never wait for the client: with the
//     connection's pending writes at the limit they write nothing and
//     return false, leaving the request unanswered; CloseConn lets the
//     handler drop such a client instead of blocking on it. A proxy
//     answering from its engine readers uses both, so a client that stops
//     reading never delays anybody else.
//   - A reader's writes (SyncFunc replies, what a handler writes through
//     Request.Batch during ServeRPC) are held in its packet.Batch until it
//     has no whole packet buffered, or before it waits for anything, so a
//     pipelined burst is answered with one syscall.
//   - Requests are charged before they are parsed, released by their one
//     reply; cancels, fins and unknown types are never charged.
//   - Shutdown sends rpcServerWantsFin once per connection and waits for
//     the clients to leave (VK clients close idle connections at once and
//     send rpcClientWantsFin otherwise; the server then closes at the last
//     reply), bounded by its context; Close closes everything at once.
//     Replying after either is safe and writes nothing.
//   - No package-level state: the logger and the clock come from Config.
package server

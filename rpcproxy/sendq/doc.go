// Package sendq is a bounded, never-blocking outgoing packet queue with one
// writer goroutine per connection. It is what keeps one slow peer from
// stalling anybody else: the proxy's engine readers hand answers to an app's
// queue and its app readers hand requests to an engine's queue, and Push
// never waits. When a peer does not drain its queue, Push fails with ErrFull
// and the owner decides (the proxy closes a slow app's connection and fails
// requests for a backed-up engine at once).
//
// # Invariants
//
//   - Push copies head and body and returns at once: ErrFull when the bytes
//     queued would exceed the limit (a packet larger than the limit is
//     accepted only into an empty queue, so a big answer is not refused
//     forever), ErrClosed after Close.
//   - Memory is bounded by the limit plus one buffer of the same size that
//     the writer is draining; buffers are reused, so steady state does not
//     allocate.
//   - Packets go to the Writer in Push order, from Run's goroutine only; only
//     that goroutine ever blocks on the peer.
package sendq

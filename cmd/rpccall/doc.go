// Command rpccall calls one TL function through the proxy or directly on an
// engine: JSON arguments in, the JSON result out, both driven by the schema
// (tl/tljson), so any function of any loaded schema works without generated
// code.
//
//	rpccall -schema engines/memcache/memcache.tl memcache.get '{"key":"photo100_500"}'
//	rpccall -network udp -key-file key -schema engines/memcache/memcache.tl memcache.get '{"key":"a"}'
//
// -network udp speaks VK's UDP transport (tl/rpc/udp), which is always
// encrypted: -key-file or -key-hex gives the key (>= 32 bytes); over TCP a
// key is optional and enables AES (cmd/internal/netflags). UDP has no
// handshake, so an absent UDP peer is a timeout (exit 4), not exit 3.
//
// Flow: load the schema -> find the function (close names on a typo) ->
// encode the arguments (errors name the JSON path) -> build the envelope
// (actor, rpcInvokeReqExtra from -extra and the forward-key flags,
// custom_timeout_ms from -timeout) -> one tl/rpc/client call -> decode the
// answer with the function's result type, the request's '#' values bound.
//
// Exit codes (also in -h): 0 success; 1 the peer answered a TL error, or an
// answer the schema cannot decode; 2 usage, schema or JSON error (nothing
// was sent); 3 connection failure (refused, unreachable, lost); 4 no answer
// within -timeout plus the grace below.
//
// Choices:
//   - No schema is guessed from the working directory: -schema is required
//     unless RPCCALL_SCHEMA names the files, because decoding an answer with
//     the wrong schema prints plausible nonsense.
//   - stdout carries only results (one JSON document per call), so it can be
//     piped to jq; -v and -hex diagnostics and errors go to stderr.
//   - The client runs with FailFast, so a refused connection is reported at
//     once (exit 3) instead of waiting out -timeout.
//   - -timeout is sent as custom_timeout_ms, but the local wait is
//     -timeout plus a grace of max(50ms, 10% of -timeout)
//     (client.Options.TimeoutGrace). The proxy answers QUERY_TIMEOUT naming
//     the slow engine right at -timeout (its deadline toward the engine is
//     the caller's remaining time), and an engine does the same for its own
//     work; a local timer at the same moment would usually win and print a
//     bare "no answer" (exit 4) instead of that error (exit 1). A hung or
//     unreachable peer still costs at most -timeout plus the grace.
//   - The envelope header is built here, not by the client, so that -hex
//     prints exactly the bytes sent: query id, header chain, body.
//
// Invariants: run has no package-level state and writes only to the
// writers it is given, so tests call it in-process; every call is bounded
// by -timeout plus the grace; the client is closed before run returns.
package main

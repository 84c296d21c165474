// Command engine runs a sample TL RPC engine from engines/ (the memcache
// engine, or the events engine for merge queries) on one address, for
// integration tests, demos and `make run`:
//
//	engine -kind memcache -listen 127.0.0.1:9311
//	engine -kind events -listen 127.0.0.1:9312
//	engine -kind memcache -listen 127.0.0.1:0 -fault-latency 5ms -fault-error-rate 0.1
//
// It logs a start line (kind, address, pid) with slog on stderr and prints
// the bound address alone on stdout's first line, so a script or a test
// that asked for port 0 learns the port. SIGTERM or SIGINT starts a
// graceful shutdown (rpcServerWantsFin, requests in flight answered,
// bounded by -shutdown-timeout); the exit code is then 0. Usage errors
// exit 2, failures 1.
//
// Fault flags (-fault-latency, -fault-error-rate, -fault-stall) set the
// initial test faults; engine.debugSetFaults (engines/engine.tl) changes
// them at run time without a restart.
//
// -udp also serves VK's UDP transport on the same IP and port as TCP,
// encrypted with the key in -key-file (the file's bytes as is, >= 32;
// required by -udp). A key also enables AES on TCP for clients that offer
// it. Over UDP the shutdown sends no fin: each UDP connection closes at
// its last answer, once acked. -udp-idle-after (default 1m, 0: never)
// parks UDP peers with nothing in flight, as the proxy's udp_idle_after
// does for apps.
//
// run(ctx, args, stdout, stderr) is the whole program minus signals, so
// tests run it in-process; kinds() is the one list of engine kinds.
package main

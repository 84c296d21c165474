// Command relay is the floor `make bench-proxy` measures the proxy
// against: a TCP relay that parses nothing. Each connection accepted on
// -listen gets a connection of its own to -to, and the bytes are copied
// both ways as they come, through a buffer in user space:
//
//	relay -listen 127.0.0.1:0 -to 127.0.0.1:9311
//
// Any proxy hop reads every byte from one socket and writes it to
// another, so what rpcbench measures through the relay (against the same
// engine directly) is what a hop costs on the machine before it does any
// work of its own: no framing, no routing, no multiplexing. The copy goes
// through user space on purpose: a proxy that reads the requests must
// have their bytes, so splice(2), which io.Copy would use between two TCP
// connections, would measure a shortcut no such proxy can take (it was
// also slower here: 0.66-0.74 of the direct engine, pipelined, against
// 0.72-0.80 for the user-space copy).
//
// When either side closes or fails, both connections are closed; a
// target that cannot be reached closes the app's connection at once, and
// the relay goes on serving. Both addresses must be loopback: the relay
// is a measuring instrument for this machine, not a product.
//
// It logs with slog on stderr and prints the bound address alone on
// stdout's first line, so a script that asked for port 0 learns the port.
// SIGTERM or SIGINT closes the listener and every connection and exits 0;
// usage errors exit 2, failures 1. run(ctx, args, stdout, stderr) is the
// whole program minus signals, so tests run it in-process.
package main

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"

	"github.com/rpcproxy/rpcproxy/cmd/internal/cli"
)

const exitProblem = 1

const usageText = `usage: relay -to ADDR [-listen ADDR]

Relays TCP connections byte for byte, parsing nothing: the floor a proxy
hop costs, for make bench-proxy (RELAY=1). Each connection accepted on
-listen gets its own connection to -to. Loopback addresses only.
The bound address is printed alone on stdout; SIGTERM or SIGINT stops it.

examples:
  relay -to 127.0.0.1:9311                          # listens on a free port
  relay -listen 127.0.0.1:9400 -to 127.0.0.1:9311

flags:
`

// options are the parsed flags.
type options struct {
	listen, to string
	level      slog.Level
}

// parseFlags parses args; done means return code now (help, or a usage
// error already reported on stderr).
func parseFlags(args []string, stdout, stderr io.Writer) (o options, code int, done bool) {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "loopback `ADDR` to accept connections on; port 0 picks one")
	fs.StringVar(&o.to, "to", "", "loopback `ADDR` each connection is relayed to (required), e.g. an engine")
	level := fs.String("log-level", "info", "log `LEVEL`: debug (a line per connection), info, warn or error")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	if code, done := cli.Parse(fs, args, stdout); done {
		return o, code, true
	}
	fail := func(format string, a ...any) (options, int, bool) {
		cli.UsageError(stderr, "relay", format, a...)
		return o, cli.ExitUsage, true
	}
	if fs.NArg() != 0 {
		return fail("unexpected arguments %q: relay takes only flags", fs.Args())
	}
	if o.to == "" {
		return fail("-to is required: the address to relay to (an engine, e.g. -to 127.0.0.1:9311)")
	}
	for _, a := range []struct{ flag, addr string }{{"-listen", o.listen}, {"-to", o.to}} {
		if err := loopback(a.addr); err != nil {
			return fail("%s %s: %v", a.flag, a.addr, err)
		}
	}
	if err := o.level.UnmarshalText([]byte(*level)); err != nil {
		return fail("-log-level %q: want debug, info, warn or error", *level)
	}
	return o, cli.ExitOK, false
}

// loopback checks that addr is host:port with a loopback IP or
// "localhost": the relay measures this machine and is not for traffic
// between hosts.
func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want HOST:PORT (%v)", err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("not a loopback address: the relay is a measuring instrument for this machine (use 127.0.0.1)")
	}
	return nil
}

// run is the program: parse, listen, relay until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code, done := parseFlags(args, stdout, stderr)
	if done {
		return code
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.level}))
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		log.Error("relay: cannot listen", "addr", o.listen, "reason", err.Error())
		return exitProblem
	}
	log.Info("relay started", "addr", ln.Addr().String(), "to", o.to, "pid", os.Getpid())
	fmt.Fprintln(stdout, ln.Addr().String())
	r := newRelay(o.to, log)
	if err := r.serve(ctx, ln); err != nil {
		log.Error("relay: accept failed", "addr", ln.Addr().String(), "reason", err.Error())
		return exitProblem
	}
	log.Info("relay stopped", "connections", r.accepted.Load())
	return cli.ExitOK
}

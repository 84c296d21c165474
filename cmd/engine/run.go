package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// Exit codes.
const (
	exitOK      = 0
	exitProblem = 1
	exitUsage   = 2
)

// options are the parsed flags.
type options struct {
	kind            string
	listen          string
	version         string
	faultLatency    time.Duration
	faultErrorRate  float64
	faultStall      bool
	logLevel        string
	shutdownTimeout time.Duration
	maxBytes        int64
	udp             bool
	udpIdleAfter    time.Duration
	keyFile         string
	key             []byte // read from keyFile by parseFlags
}

const usageText = `usage: engine [flags]

Runs a sample TL RPC engine until SIGTERM or SIGINT, then shuts down
gracefully and exits 0. The bound address is printed alone on stdout.

examples:
  engine -kind memcache -listen 127.0.0.1:9311
  engine -kind memcache -listen 127.0.0.1:0 -log-level debug
  engine -kind memcache -fault-latency 5ms -fault-error-rate 0.1
  engine -kind memcache -fault-stall     # accepts requests, never answers
  engine -kind events -listen 127.0.0.1:9312   # events.tl, for merge queries
  engine -kind memcache -udp -key-file /etc/engine/key   # TCP and UDP, one port

Faults are for tests; engine.debugSetFaults (engines/engine.tl) changes
them at run time.

flags:
`

// parseFlags parses and validates args. The flag package's own messages
// go to out: the caller shows them on stdout for -h, stderr otherwise.
func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("engine", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.kind, "kind", "memcache", "engine kind: "+strings.Join(kindNames(), ", ")+" (e.g. -kind memcache)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9311", "TCP address to serve TL RPC on; port 0 picks one (e.g. -listen 127.0.0.1:0)")
	fs.StringVar(&o.version, "version", "", "engine.version answer; empty means \"rpcproxy-engine <kind>\" (e.g. -version memcache-1.2)")
	fs.DurationVar(&o.faultLatency, "fault-latency", 0, "test fault: delay every answer by this much (e.g. -fault-latency 5ms)")
	fs.Float64Var(&o.faultErrorRate, "fault-error-rate", 0, "test fault: answer this fraction of requests with INTERNAL (-3003), 0..1 (e.g. -fault-error-rate 0.1)")
	fs.BoolVar(&o.faultStall, "fault-stall", false, "test fault: accept requests and never answer them (e.g. -fault-stall)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error (e.g. -log-level debug)")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a graceful shutdown waits for clients before closing (e.g. -shutdown-timeout 3s)")
	fs.Int64Var(&o.maxBytes, "memcache-max-bytes", 0, "memcache: bytes of keys and values before writes fail with OUT_OF_MEMORY; 0 means 256 MiB (e.g. -memcache-max-bytes 1073741824)")
	fs.BoolVar(&o.udp, "udp", false, "also serve VK's UDP transport on the -listen address (the TCP port); needs -key-file (e.g. -udp -key-file key)")
	fs.DurationVar(&o.udpIdleAfter, "udp-idle-after", time.Minute, "with -udp: park a UDP peer (free its connection) after this long with nothing in flight, and forget one silent this long with answers unacked (at least 5s); 0 keeps peers for good (e.g. -udp-idle-after 30s)")
	fs.StringVar(&o.keyFile, "key-file", "", "crypto key `FILE`, its bytes as is, >= 32 bytes: required by -udp, enables AES on TCP for clients that offer it (e.g. -key-file /etc/engine/key)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() != 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case !slices.Contains(kindNames(), o.kind):
		return o, fmt.Errorf("unknown -kind %q; known kinds: %s", o.kind, strings.Join(kindNames(), ", "))
	case math.IsNaN(o.faultErrorRate) || o.faultErrorRate < 0 || o.faultErrorRate > 1:
		return o, fmt.Errorf("-fault-error-rate %v outside [0, 1]", o.faultErrorRate)
	case o.shutdownTimeout <= 0:
		return o, fmt.Errorf("-shutdown-timeout %v must be positive", o.shutdownTimeout)
	case o.maxBytes < 0:
		return o, fmt.Errorf("-memcache-max-bytes %d is negative", o.maxBytes)
	case o.udpIdleAfter < 0:
		return o, fmt.Errorf("-udp-idle-after %v is negative; 0 keeps peers for good", o.udpIdleAfter)
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		return o, err
	}
	if o.udp && o.keyFile == "" {
		return o, errors.New("-udp needs -key-file: VK's UDP transport is always encrypted")
	}
	if o.keyFile != "" {
		k, err := configs.ReadKey(o.keyFile)
		if err != nil {
			return o, fmt.Errorf("-key-file: %w", err)
		}
		o.key = k
	}
	if o.version == "" {
		o.version = "rpcproxy-engine " + o.kind
	}
	return o, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("-log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// run is the program: parse, start, serve until ctx ends, shut down.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var msgs bytes.Buffer
	o, err := parseFlags(args, &msgs)
	if errors.Is(err, flag.ErrHelp) {
		_, _ = stdout.Write(msgs.Bytes())
		return exitOK
	}
	_, _ = stderr.Write(msgs.Bytes())
	if err != nil {
		fmt.Fprintf(stderr, "engine: %v\nRun 'engine -h' for usage.\n", err)
		return exitUsage
	}
	level, _ := parseLevel(o.logLevel)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	k := kinds()[o.kind]
	inst, err := k.start(o, log)
	if err != nil {
		log.Error("engine: cannot start", "kind", o.kind, "reason", err.Error())
		return exitProblem
	}
	defer inst.close()
	srv, err := engines.New(engines.Config{
		Kind:    o.kind,
		Version: o.version,
		Funcs:   inst.funcs,
		Stats:   inst.stats,
		Logger:  log,
		Faults: engines.Faults{
			Latency:  o.faultLatency,
			ErrorPPM: int(math.Round(o.faultErrorRate * engines.PPM)),
			Stall:    o.faultStall,
		},
		Transport: server.Config{Packet: packet.Config{Key: o.key}},
	})
	if err != nil {
		fmt.Fprintf(stderr, "engine: %v\n", err)
		return exitUsage
	}
	addr, err := srv.Listen(o.listen)
	if err != nil {
		log.Error("engine: cannot listen", "kind", o.kind, "addr", o.listen, "reason", err.Error())
		_ = srv.Close()
		return exitProblem
	}
	if o.udp {
		if _, err := srv.ListenUDP(addr.String(), o.key, o.udpIdleAfter); err != nil {
			log.Error("engine: cannot listen on UDP", "kind", o.kind, "addr", addr.String(), "reason", err.Error())
			_ = srv.Close()
			return exitProblem
		}
	}
	f := srv.Faults()
	log.Info("engine started", "kind", o.kind, "addr", addr.String(), "pid", os.Getpid(), "version", o.version,
		"fault_latency", f.Latency.String(), "fault_error_rate_ppm", f.ErrorPPM, "fault_stall", f.Stall, "udp", o.udp, "udp_idle_after", o.udpIdleAfter.String())
	fmt.Fprintln(stdout, addr.String())

	<-ctx.Done()
	log.Info("engine shutting down", "kind", o.kind, "addr", addr.String(), "timeout", o.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("engine: clients still connected at the shutdown timeout, closed", "reason", err.Error())
	}
	log.Info("engine stopped", "kind", o.kind)
	return exitOK
}

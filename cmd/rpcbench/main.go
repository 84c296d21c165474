package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/rpcproxy/rpcproxy/cmd/internal/cli"

	"github.com/rpcproxy/rpcproxy/cmd/internal/netflags"
	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	// After the first Ctrl-C the run stops and reports; a second one
	// kills the process the default way.
	go func() { <-ctx.Done(); stop() }()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes, documented in -h and doc.go.
const (
	exitOK     = 0 // the run finished (errors, if any, are in the report)
	exitFailed = 1 // the run finished but no request succeeded
	exitUsage  = 2
	exitConn   = 3 // the target could not be reached before the run
)

// Limits that keep a typo from turning into an endless or huge run.
const (
	maxDuration  = 10 * time.Minute
	maxWarmup    = time.Minute
	maxTimeout   = time.Minute
	maxConns     = 1024
	maxDepth     = 1024
	maxSlots     = 65536
	maxKeys      = 100_000_000
	maxValueSize = 1 << 20
	maxMgetKeys  = 10_000
	maxRate      = 100_000_000
)

// params are the parsed flags; the report prints them all.
type params struct {
	Addr        string        `json:"addr"`
	Network     string        `json:"network"`
	Conns       int           `json:"c"`
	Depth       int           `json:"d"`
	Duration    time.Duration `json:"-"`
	N           int64         `json:"n"`
	Warmup      time.Duration `json:"-"`
	Keys        int64         `json:"keys"`
	Dist        string        `json:"dist"`
	ZipfS       float64       `json:"zipf_s"`
	ValueSize   int           `json:"value_size"`
	Mix         mix           `json:"-"`
	MgetKeys    int           `json:"mget_keys"`
	Prefill     bool          `json:"prefill"`
	Timeout     time.Duration `json:"-"`
	Actor       int64         `json:"actor"`
	KeyPrefix   string        `json:"key_prefix"`
	Seed        uint64        `json:"seed"`
	Driver      string        `json:"driver"`
	Batch       bool          `json:"batch"`
	Rate        int64         `json:"rate"` // requests per second, paced; 0 = closed loop
	AllowRemote bool          `json:"allow_remote"`
	JSON        bool          `json:"-"`
	Quiet       bool          `json:"-"`
	Progress    time.Duration `json:"-"`

	transport netflags.Flags
	conn      client.Options // Network and Packet.Key, from transport
}

// mix is the share of each operation, e.g. get=90,set=10,mget=0.
type mix struct{ Get, Set, Mget int }

func (m mix) total() int { return m.Get + m.Set + m.Mget }

func (m mix) String() string { return fmt.Sprintf("get=%d,set=%d,mget=%d", m.Get, m.Set, m.Mget) }

func parseMix(s string) (mix, error) {
	var m mix
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return m, fmt.Errorf("%q: want op=share, e.g. get=90", part)
		}
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || n < 0 || n > 1_000_000 {
			return m, fmt.Errorf("%q: share must be a whole number in [0, 1000000]", part)
		}
		name = strings.TrimSpace(name)
		if seen[name] {
			return m, fmt.Errorf("%s given twice", name)
		}
		seen[name] = true
		switch name {
		case "get":
			m.Get = n
		case "set":
			m.Set = n
		case "mget":
			m.Mget = n
		default:
			return m, fmt.Errorf("unknown operation %q (known: get, set, mget)", name)
		}
	}
	if m.total() == 0 {
		return m, errors.New("all shares are 0; give at least one, e.g. get=90,set=10")
	}
	return m, nil
}

func usage(fs *flag.FlagSet) func() {
	return func() {
		w := fs.Output()
		fmt.Fprint(w, `usage: rpcbench [flags]

Load generator for TL RPC: memcache.get / set / getMulti against the proxy or
an engine, with a latency histogram (p50/p90/p99/p99.9/max).

Load model: closed loop per (connection, depth slot). Each of the -c
connections carries -d slots; a slot sends its next request as soon as its
previous answer arrives, so at most c*d requests are in flight and the
offered load follows the target's speed (memtier's --pipeline; with -d 1 it
is redis-benchmark without -P). With -batch a connection instead sends d
requests back to back and waits for all d answers before the next batch:
redis-benchmark -P d, the methodology of docs/peers.md §2.
With -rate R the load is open instead (wrk2's model): requests are due at R
per second whatever the target does, spread over the c*d slots, and each
latency counts from when its request was due, so a target that falls behind
shows its queueing in the percentiles (a request may leave up to 1 ms early,
as Go's timers sleep in whole milliseconds: it then counts from its send).
c*d bounds the requests in flight. It is the way to compare CPU per request
at the same load.
Warm-up requests are not measured. The run stops at -duration (at most 10m)
or after -n measured requests, whichever comes first, or on Ctrl-C, and
always prints the report. Latency percentiles are of successful requests;
errors are counted by TL error name (local_timeout etc. for local ones).

examples:
  # docs/peers.md §2 cases: 1 s warm-up, 8 s measured, keys prefilled
  rpcbench -addr 127.0.0.1:9300 -prefill -c 1 -d 1 -warmup 1s -duration 8s -mix get=1
  rpcbench -addr 127.0.0.1:9300 -prefill -c 16 -d 16 -batch -duration 8s -mix get=1
  rpcbench -addr 127.0.0.1:9300 -prefill -c 64 -mix mget=1 -mget-keys 10 -duration 8s
  # a fixed load: 20,000 gets/s over 64 connections, for CPU per request
  rpcbench -addr 127.0.0.1:9300 -prefill -c 64 -rate 20000 -mix get=1 -duration 8s
  rpcbench -n 100000 -dist zipf -zipf-s 1.2 -mix get=90,set=10 -json > run.json

`+netflags.Usage("rpcbench", "-addr 127.0.0.1:9300 -c 4 -d 16 -mix get=1")+`
Output: progress every -progress on stderr (none with -quiet); the report
on stdout (text, or one JSON object with -json).

exit codes:
  0  the run finished (errors, if any, are in the report)
  1  the run finished but no request succeeded
  2  usage error
  3  the target could not be reached before the run

Targets other than loopback addresses are refused unless -allow-remote.

flags:
`)
		fs.PrintDefaults()
	}
}

// parseParams parses and validates the flags; ok false means return code.
func parseParams(args []string, stdout, stderr io.Writer) (p params, code int, ok bool) {
	fs := flag.NewFlagSet("rpcbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mixText string
	fs.StringVar(&p.Addr, "addr", "127.0.0.1:9300", "`host:port` of the proxy or engine")
	fs.IntVar(&p.Conns, "c", 1, "connections (each its own client and connection; over UDP its own socket)")
	fs.IntVar(&p.Depth, "d", 1, "pipeline depth: requests in flight per connection")
	fs.DurationVar(&p.Duration, "duration", 10*time.Second, "measured time, after -warmup (at most 10m)")
	fs.Int64Var(&p.N, "n", 0, "stop after `N` measured requests (0 = run for -duration)")
	fs.DurationVar(&p.Warmup, "warmup", time.Second, "unmeasured load before the measured run")
	fs.Int64Var(&p.Keys, "keys", 10000, "number of distinct keys")
	fs.StringVar(&p.Dist, "dist", "uniform", "key popularity: uniform or zipf")
	fs.Float64Var(&p.ZipfS, "zipf-s", 1.1, "zipf exponent s (> 1; larger = hotter head)")
	fs.IntVar(&p.ValueSize, "value-size", 100, "value size in bytes for set and -prefill")
	fs.StringVar(&mixText, "mix", "get=90,set=10,mget=0", "operation shares (get, set, mget)")
	fs.IntVar(&p.MgetKeys, "mget-keys", 10, "keys per memcache.getMulti")
	fs.BoolVar(&p.Prefill, "prefill", false, "set every key before the run so that gets hit (shows progress)")
	fs.DurationVar(&p.Timeout, "timeout", time.Second, "per-request timeout (also sent as custom_timeout_ms)")
	fs.Int64Var(&p.Actor, "actor", 0, "actor id sent with every request (0 = none)")
	fs.StringVar(&p.KeyPrefix, "key-prefix", "key:", "prefix of every key; keys are prefix + 0..keys-1")
	fs.Uint64Var(&p.Seed, "seed", 0, "random seed for key and op choice (0 = from the clock)")
	fs.StringVar(&p.Driver, "driver", "async", "async (completion callbacks, no goroutine per slot) or sync (one goroutine per slot)")
	fs.BoolVar(&p.Batch, "batch", false, "send each connection's d requests as a batch and wait for all d answers before the next (redis-benchmark -P); needs -driver async")
	fs.Int64Var(&p.Rate, "rate", 0, "send `R` requests per second in all, paced; latency counts from each request's due time (0 = closed loop, as fast as answers come); needs -driver async, not -batch")
	fs.BoolVar(&p.AllowRemote, "allow-remote", false, "allow a target that is not a loopback address")
	fs.BoolVar(&p.JSON, "json", false, "print the report as one JSON object")
	fs.BoolVar(&p.Quiet, "quiet", false, "no progress lines")
	fs.DurationVar(&p.Progress, "progress", time.Second, "interval between progress lines on stderr")
	p.transport.Register(fs)
	fs.Usage = usage(fs)
	if code, done := cli.Parse(fs, args, stdout); done {
		return p, code, false
	}
	fail := func(format string, a ...any) (params, int, bool) {
		cli.UsageError(stderr, "rpcbench", format, a...)
		return p, exitUsage, false
	}
	if fs.NArg() != 0 {
		return fail("unexpected arguments %q: rpcbench takes only flags", fs.Args())
	}
	m, err := parseMix(mixText)
	if err != nil {
		return fail("-mix: %v", err)
	}
	p.Mix = m
	switch {
	case p.Conns < 1 || p.Conns > maxConns:
		return fail("-c %d outside [1, %d]", p.Conns, maxConns)
	case p.Depth < 1 || p.Depth > maxDepth:
		return fail("-d %d outside [1, %d]", p.Depth, maxDepth)
	case p.Conns*p.Depth > maxSlots:
		return fail("-c %d x -d %d = %d requests in flight, max %d", p.Conns, p.Depth, p.Conns*p.Depth, maxSlots)
	case p.Duration <= 0 || p.Duration > maxDuration:
		return fail("-duration %v outside (0, %v]: rpcbench always stops by itself", p.Duration, maxDuration)
	case p.N < 0:
		return fail("-n %d is negative", p.N)
	case p.Warmup < 0 || p.Warmup > maxWarmup:
		return fail("-warmup %v outside [0, %v]", p.Warmup, maxWarmup)
	case p.Keys < 1 || p.Keys > maxKeys:
		return fail("-keys %d outside [1, %d]", p.Keys, maxKeys)
	case p.Dist != "uniform" && p.Dist != "zipf":
		return fail("-dist %q: want uniform or zipf", p.Dist)
	case p.Dist == "zipf" && !(p.ZipfS > 1):
		return fail("-zipf-s %v must be above 1", p.ZipfS)
	case p.ValueSize < 0 || p.ValueSize > maxValueSize:
		return fail("-value-size %d outside [0, %d]", p.ValueSize, maxValueSize)
	case p.MgetKeys < 1 || p.MgetKeys > maxMgetKeys:
		return fail("-mget-keys %d outside [1, %d]", p.MgetKeys, maxMgetKeys)
	case p.Timeout <= 0 || p.Timeout > maxTimeout:
		return fail("-timeout %v outside (0, %v]", p.Timeout, maxTimeout)
	case p.Driver != "async" && p.Driver != "sync":
		return fail("-driver %q: want async or sync", p.Driver)
	case p.Progress < time.Millisecond:
		return fail("-progress %v below 1ms", p.Progress)
	case p.Batch && p.Driver != "async":
		return fail("-batch needs -driver async")
	case p.Rate < 0 || p.Rate > maxRate:
		return fail("-rate %d outside [0, %d] requests per second", p.Rate, maxRate)
	case p.Rate > 0 && (p.Batch || p.Driver != "async"):
		return fail("-rate paces single requests: it needs -driver async and no -batch")
	}
	if err := p.transport.Apply(&p.conn); err != nil {
		return fail("%v", err)
	}
	p.Network = p.conn.Network
	if p.Dist != "zipf" {
		p.ZipfS = 0
	}
	return p, exitOK, true
}

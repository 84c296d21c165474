package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/rpcproxy/rpcproxy/cmd/internal/cli"

	"github.com/rpcproxy/rpcproxy/cmd/internal/netflags"
	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit codes, documented in -h and doc.go.
const (
	exitOK      = 0
	exitRPC     = 1 // the peer answered a TL error, or an undecodable answer
	exitUsage   = 2 // flags, schema, function name or JSON arguments
	exitConn    = 3 // connection refused, unreachable or lost
	exitTimeout = 4 // no answer within -timeout plus the grace
)

// minGrace is the least the local wait exceeds -timeout by (see grace).
const minGrace = 50 * time.Millisecond

// grace is how much longer than -timeout rpccall waits for the answer:
// max(50ms, 10% of -timeout). -timeout is sent as custom_timeout_ms, and a
// proxy or engine answers QUERY_TIMEOUT, naming the engine that was slow,
// right at it; a local timer at the same moment would usually win and
// print a bare "no answer" instead. A silent peer still costs at most
// -timeout plus the grace.
func grace(timeout time.Duration) time.Duration { return max(minGrace, timeout/10) }

// schemaEnv names the schema files when -schema is absent.
const schemaEnv = "RPCCALL_SCHEMA"

// maxRepeat bounds -n so a typo cannot start an endless demo.
const maxRepeat = 1_000_000

// options are the parsed flags.
type options struct {
	addr          string
	transport     netflags.Flags
	conn          client.Options // Network and Packet.Key from transport
	schemas       []string
	actor         int64
	timeout       time.Duration
	grace         time.Duration // local wait past timeout: grace(timeout)
	extra         string
	intForward    int64
	stringForward string
	// intForwardSet and stringForwardSet tell "-int-forward 0" from absent.
	intForwardSet    bool
	stringForwardSet bool
	hex              bool
	verbose          bool
	compact          bool
	repeat           int
	fn               string
	args             string // JSON arguments, "-" = stdin
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

func newFlagSet(o *options, stderr io.Writer) (*flag.FlagSet, *listFlag) {
	fs := flag.NewFlagSet("rpccall", flag.ContinueOnError)
	fs.SetOutput(stderr)
	schemas := new(listFlag)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9300", "`host:port` of the proxy or engine")
	o.transport.Register(fs)
	fs.Var(schemas, "schema", "TL schema `FILE` (repeatable, or comma-separated); default $"+schemaEnv)
	fs.Int64Var(&o.actor, "actor", 0, "actor id `N` sent in the header (0 = none)")
	fs.DurationVar(&o.timeout, "timeout", time.Second, "request timeout, sent as custom_timeout_ms; the local wait is this plus max(50ms, 10%) so that a proxy's or engine's own timeout error arrives first")
	fs.StringVar(&o.extra, "extra", "", "rpcInvokeReqExtra fields as a JSON `object`, e.g. '{\"int_forward\":5}' (see below)")
	fs.Int64Var(&o.intForward, "int-forward", 0, "shortcut for -extra '{\"int_forward\":`N`}': route by this int key")
	fs.StringVar(&o.stringForward, "string-forward", "", "shortcut for -extra '{\"string_forward\":\"`KEY`\"}': route by this string key")
	fs.BoolVar(&o.hex, "hex", false, "also print the raw request and response bytes (stderr)")
	fs.BoolVar(&o.verbose, "v", false, "print the envelope: query id, actor, extra sent, result extra received (stderr)")
	fs.BoolVar(&o.compact, "compact", false, "print the result as one line of JSON instead of indented")
	fs.IntVar(&o.repeat, "n", 1, "make the call `N` times (prints every result and a latency summary)")
	return fs, schemas
}

func usage(fs *flag.FlagSet) func() {
	return func() {
		w := fs.Output()
		fmt.Fprint(w, `usage: rpccall [flags] FUNCTION [JSON | -]

Calls one TL function through the proxy (or directly on an engine) and prints
the result as JSON, decoded with the schema. JSON holds the arguments as an
object (default {}); "-" reads it from stdin. The JSON mapping is described in
'go doc github.com/rpcproxy/rpcproxy/tl/tljson'.

examples:
  rpccall -schema engines/memcache/memcache.tl memcache.get '{"key":"photo100_500"}'
  rpccall -schema engines/memcache/memcache.tl -compact -n 5 \
      memcache.set '{"key":"a","flags":0,"delay":0,"value":"hello"}'
  echo '{"keys":["a","b"]}' | RPCCALL_SCHEMA=engines/memcache/memcache.tl rpccall memcache.getMulti -
  rpccall -schema engines/memcache/memcache.tl -int-forward 5 -v -hex memcache.get '{"key":"x"}'

-extra fields (rpcInvokeReqExtra, wire.md §4.3): int_forward, string_forward,
int_forward_keys [..], string_forward_keys [..], custom_timeout_ms,
requester_id, wait_binlog_pos, supported_compression_version, random_delay,
execution_context, and the true/false asks return_binlog_pos,
return_binlog_time, return_pid, return_request_sizes, return_failed_subqueries,
return_query_stats, must_be_master, return_shards_binlog_pos,
return_view_number; "flags" ORs raw bits in.

`+netflags.Usage("rpccall", "-schema engines/memcache/memcache.tl memcache.get '{\"key\":\"a\"}'")+`
exit codes:
  0  success
  1  the peer answered a TL error (printed with its code and name), or an
     answer the schema cannot decode
  2  usage, schema, function name or JSON argument error (nothing was sent)
  3  connection failure: refused, unreachable or lost (is the proxy running?)
  4  no answer within -timeout plus a grace of max(50ms, 10% of -timeout),
     left for the proxy's or engine's own QUERY_TIMEOUT answer (exit 1)

flags:
`)
		fs.PrintDefaults()
	}
}

// parseArgs parses flags and positional arguments; code is meaningful when
// ok is false (help printed, or a usage error reported).
func parseArgs(args []string, stdout, stderr io.Writer) (o options, code int, ok bool) {
	fs, schemas := newFlagSet(&o, stderr)
	fs.Usage = usage(fs)
	if code, done := cli.Parse(fs, args, stdout); done {
		return o, code, false
	}
	fail := func(format string, a ...any) (options, int, bool) {
		cli.UsageError(stderr, "rpccall", format, a...)
		return o, exitUsage, false
	}
	// Flags after the function name are common in demos; accept them.
	rest := fs.Args()
	if len(rest) > 0 {
		o.fn = rest[0]
		if err := fs.Parse(rest[1:]); err != nil {
			return o, exitUsage, false
		}
		rest = fs.Args()
		switch len(rest) {
		case 0:
			o.args = "{}"
		case 1:
			o.args = rest[0]
		default:
			return fail("want FUNCTION and at most one JSON argument, got %d arguments after %s (quote the JSON)", len(rest), o.fn)
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "int-forward":
			o.intForwardSet = true
		case "string-forward":
			o.stringForwardSet = true
		}
	})
	o.schemas = *schemas
	switch {
	case o.fn == "":
		return fail("no FUNCTION given")
	case o.timeout <= 0:
		return fail("-timeout %v must be positive", o.timeout)
	case o.repeat < 1 || o.repeat > maxRepeat:
		return fail("-n %d outside [1, %d]", o.repeat, maxRepeat)
	}
	o.grace = grace(o.timeout)
	if err := o.transport.Apply(&o.conn); err != nil {
		return fail("%v", err)
	}
	return o, exitOK, true
}

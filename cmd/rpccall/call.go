package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
	"github.com/rpcproxy/rpcproxy/tl/schema"
	"github.com/rpcproxy/rpcproxy/tl/tljson"
)

// exitInterrupted is the shell's code for SIGINT.
const exitInterrupted = 130

// maxStdin bounds JSON read from stdin (a TL packet is at most 16 MiB).
const maxStdin = 64 << 20

// run is the whole command: it returns the exit code and writes only to
// stdout (results) and stderr (everything else).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, code, ok := parseArgs(args, stdout, stderr)
	if !ok {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "rpccall: "+format+"\n", a...)
		return exitUsage
	}
	files := o.schemas
	if len(files) == 0 {
		var env listFlag
		_ = env.Set(os.Getenv(schemaEnv))
		files = env
	}
	if len(files) == 0 {
		return usageErr("no schema: pass -schema FILE (e.g. -schema engines/memcache/memcache.tl) or set %s", schemaEnv)
	}
	s, err := schema.LoadWithPrelude(files...)
	if err != nil {
		return usageErr("schema %s: %v", strings.Join(files, ","), err)
	}
	codec := tljson.New(s)
	fn, err := codec.Function(o.fn)
	if err != nil {
		return usageErr("%v; 'tlc tags %s' lists every function", err, strings.Join(files, " "))
	}
	js := []byte(o.args)
	if o.args == "-" {
		if js, err = io.ReadAll(io.LimitReader(stdin, maxStdin)); err != nil {
			return usageErr("reading the JSON arguments from stdin: %v", err)
		}
	}
	body, err := codec.EncodeCall(nil, fn, js)
	if err != nil {
		return usageErr("arguments of %s: %v", fn.Name, err)
	}
	extra, err := parseExtra(&o)
	if err != nil {
		return usageErr("%v", err)
	}
	if extra.Flags&rpc.FlagCustomTimeoutMs == 0 {
		extra.SetCustomTimeoutMs(int32(max(1, min(o.timeout.Milliseconds(), 1<<31-1))))
	}
	// The header is built here (query id 0, replaced by the client) so
	// that -hex shows exactly what is sent.
	inv := rpc.InvokeReq{ActorID: o.actor, Extra: extra}
	header := rpc.AppendInvokeReqHeader(nil, &inv)[8:]

	co := o.conn
	co.FailFast, co.DialTimeout, co.TimeoutGrace = true, o.timeout, o.grace
	cl, err := client.New(o.addr, co)
	if err != nil {
		return usageErr("%v", err)
	}
	defer cl.Close()
	c := caller{o: &o, codec: codec, fn: fn, cl: cl, header: header, body: body, extra: &extra, stdout: stdout, stderr: stderr}
	return c.loop(ctx)
}

// caller makes the call -n times and prints the outcomes.
type caller struct {
	o              *options
	codec          *tljson.Codec
	fn             *schema.Combinator
	cl             *client.Client
	header, body   []byte
	extra          *rpc.InvokeReqExtra
	stdout, stderr io.Writer
}

func (c *caller) loop(ctx context.Context) int {
	req := client.Request{ActorID: c.o.actor, Extra: *c.extra, Body: c.body, Header: c.header}
	var resp client.Response
	var lats []time.Duration
	first, failed := exitOK, 0
	for i := 0; i < c.o.repeat; i++ {
		cctx, cancel := context.WithTimeout(ctx, c.o.timeout+c.o.grace)
		start := time.Now()
		err := c.cl.Do(cctx, &req, &resp)
		lat := time.Since(start)
		cancel()
		code := c.report(&resp, err, lat)
		if code == exitInterrupted {
			return code
		}
		if code != exitOK {
			failed++
			if first == exitOK {
				first = code
			}
		} else {
			lats = append(lats, lat)
		}
	}
	if c.o.repeat > 1 {
		c.summary(lats, failed)
	}
	return first
}

// report prints one outcome and returns its exit code.
func (c *caller) report(resp *client.Response, err error, lat time.Duration) int {
	answered := err == nil || errors.As(err, new(*rpc.Error))
	if c.o.hex || c.o.verbose {
		c.envelope(resp, answered, lat)
	}
	var re *rpc.Error
	switch {
	case err == nil:
	case errors.As(err, &re):
		fmt.Fprintf(c.stderr, "rpccall: %v\n", re)
		return exitRPC
	case errors.Is(err, client.ErrNoConnection):
		fmt.Fprintf(c.stderr, "rpccall: cannot connect to %s: %s\n(is the proxy or engine running there? check -addr)\n", c.o.addr, cause(err))
		return exitConn
	case errors.Is(err, client.ErrConnLost):
		fmt.Fprintf(c.stderr, "rpccall: connection to %s lost before the answer: %s\n", c.o.addr, cause(err))
		return exitConn
	case errors.Is(err, client.ErrTimeout):
		fmt.Fprintf(c.stderr, "rpccall: no answer from %s within %v (-timeout) + %v grace (the peer is hung or unreachable, or too slow to report its own timeout; raise -timeout to wait longer)\n", c.o.addr, c.o.timeout, c.o.grace)
		return exitTimeout
	case errors.Is(err, client.ErrCanceled):
		fmt.Fprintf(c.stderr, "rpccall: interrupted\n")
		return exitInterrupted
	case errors.Is(err, client.ErrBadRequest):
		fmt.Fprintf(c.stderr, "rpccall: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(c.stderr, "rpccall: %v\n", err)
		return exitRPC
	}
	js, err := c.codec.DecodeResult(c.fn, c.body, resp.Body)
	if err != nil {
		fmt.Fprintf(c.stderr, "rpccall: the answer does not decode as the result of %s: %v\nrpccall: answer body: %x\n(is the schema the one the engine uses?)\n", c.fn.Name, err, resp.Body)
		return exitRPC
	}
	if !c.o.compact {
		var b bytes.Buffer
		if json.Indent(&b, js, "", "  ") == nil {
			js = b.Bytes()
		}
	}
	c.stdout.Write(append(js, '\n'))
	return exitOK
}

// cause returns the innermost useful text of a connection error: the
// network error without the client's wrapping.
func cause(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err.Error()
	}
	var ce *client.ConnError
	if errors.As(err, &ce) && ce.Cause != nil {
		return ce.Cause.Error()
	}
	return err.Error()
}

// envelope prints the -v and -hex diagnostics of one call to stderr.
func (c *caller) envelope(resp *client.Response, answered bool, lat time.Duration) {
	w := c.stderr
	if c.o.verbose {
		fmt.Fprintf(w, "# call %s to %s actor=%d\n", c.fn.Name, c.o.addr, c.o.actor)
		fmt.Fprintf(w, "# extra sent: %s\n", extraString(c.extra))
	}
	if !answered {
		if c.o.hex {
			fmt.Fprintf(w, "# request body (no answer): %x\n", c.body)
		}
		return
	}
	qid := resp.Result.QueryID
	if c.o.verbose {
		fmt.Fprintf(w, "# query_id: %d, answered in %v\n", qid, lat.Round(time.Microsecond))
		if resp.Result.HasExtra {
			fmt.Fprintf(w, "# result extra: %s\n", resultExtraString(&resp.Result.Extra))
		} else {
			fmt.Fprintf(w, "# result extra: none\n")
		}
	}
	if c.o.hex {
		// The answer echoes the query id, so the request bytes below are
		// exactly those sent: rpcInvokeReq body = query_id, header, call.
		var qb [8]byte
		for i := range qb {
			qb[i] = byte(uint64(qid) >> (8 * i))
		}
		fmt.Fprintf(w, "# request  (rpcInvokeReq %08x, %d bytes): %x %x %x\n", rpc.TypeInvokeReq, 8+len(c.header)+len(c.body), qb, c.header, c.body)
		fmt.Fprintf(w, "# response (type %08x, %d bytes): %x\n", resp.Type, len(resp.Raw), resp.Raw)
	}
}

// summary prints the latency of the successful calls of a -n run.
func (c *caller) summary(lats []time.Duration, failed int) {
	if len(lats) == 0 {
		fmt.Fprintf(c.stderr, "# %d calls: 0 ok, %d failed\n", c.o.repeat, failed)
		return
	}
	lo, hi, sum := lats[0], lats[0], time.Duration(0)
	for _, l := range lats {
		lo, hi, sum = min(lo, l), max(hi, l), sum+l
	}
	avg := sum / time.Duration(len(lats))
	fmt.Fprintf(c.stderr, "# %d calls: %d ok, %d failed; latency min %v avg %v max %v\n", c.o.repeat, len(lats), failed,
		lo.Round(time.Microsecond), avg.Round(time.Microsecond), hi.Round(time.Microsecond))
}

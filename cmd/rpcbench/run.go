package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/rpcproxy/rpcproxy/cmd/internal/memcache"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

// run is the whole command: it returns the exit code, writes the report to
// stdout and everything else to stderr, and stops by itself.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	p, code, ok := parseParams(args, stdout, stderr)
	if !ok {
		return code
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := checkTarget(ctx, p.Addr); err != nil {
		if !p.AllowRemote {
			fmt.Fprintf(stderr, "rpcbench: refusing to load %s: %v\n(a load generator aimed at a shared host can hurt it; pass -allow-remote if you mean it)\n", p.Addr, err)
			return exitUsage
		}
		log.Warn("rpcbench: loading a non-loopback target (-allow-remote)", "addr", p.Addr, "why", err.Error())
	}
	if err := probe(ctx, &p); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "rpcbench: interrupted before the run started\n")
			return exitFailed
		}
		fmt.Fprintf(stderr, "rpcbench: %v\n", err)
		return exitConn
	}
	b, err := newBench(&p)
	if err != nil {
		fmt.Fprintf(stderr, "rpcbench: %v\n", err)
		return exitUsage
	}
	defer b.close()
	var pf *prefillReport
	if p.Prefill {
		pf = b.runPrefill(ctx, stderr)
		if pf.Errors > 0 {
			log.Warn("rpcbench: some prefill sets failed; their keys will miss", "failed", pf.Errors, "keys", p.Keys)
		}
	}
	rep := b.runLoad(ctx, stderr)
	rep.Prefill = pf
	if err := rep.write(stdout, p.JSON); err != nil {
		fmt.Fprintf(stderr, "rpcbench: writing the report: %v\n", err)
		return exitFailed
	}
	if rep.OK == 0 && rep.Requests > 0 {
		return exitFailed
	}
	return exitOK
}

// checkTarget returns nil when addr's host is a loopback address (or a
// name that resolves only to loopback addresses).
func checkTarget(ctx context.Context, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("%s is not a loopback address", host)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("cannot resolve %s: %w", host, err)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return fmt.Errorf("%s resolves to %s, not a loopback address", host, ip.IP)
		}
	}
	if len(ips) == 0 {
		return fmt.Errorf("%s resolves to nothing", host)
	}
	return nil
}

// probe makes one get so that an unreachable target is reported at once,
// not as a report full of timeouts. An error answer is fine: the target
// is up, and the run will count such answers.
func probe(ctx context.Context, p *params) error {
	o := p.conn
	o.FailFast, o.DialTimeout = true, p.Timeout
	cl, err := client.New(p.Addr, o)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	body := memcache.AppendGet(nil, []byte(p.KeyPrefix+"0"))
	err = cl.Do(ctx, &client.Request{ActorID: p.Actor, Body: body}, nil)
	var re *rpc.Error
	switch {
	case err == nil, errors.As(err, &re):
		return nil
	case errors.Is(err, client.ErrTimeout):
		if p.conn.Network != "tcp" {
			return fmt.Errorf("no answer from %s within -timeout %v; is it up, speaking TL RPC over UDP, with this key?", p.Addr, p.Timeout)
		}
		return fmt.Errorf("no answer from %s within -timeout %v; is it up and speaking TL RPC?", p.Addr, p.Timeout)
	}
	return fmt.Errorf("cannot reach %s: %v (is the proxy or engine running there? check -addr)", p.Addr, err)
}

// runPrefill sets every key once, with progress, and reports.
func (b *bench) runPrefill(ctx context.Context, stderr io.Writer) *prefillReport {
	start := time.Now()
	b.start(phasePrefill)
	idle := b.idle()
	tick := time.NewTicker(b.p.Progress)
	defer tick.Stop()
	// Prefill has its own bound: the -duration cap again, so a slow target
	// cannot make it endless.
	limit := time.NewTimer(maxDuration)
	defer limit.Stop()
	progress := func() {
		if !b.p.Quiet {
			done := b.prefillOK.Load() + b.prefillErrs.Load()
			fmt.Fprintf(stderr, "rpcbench: prefill %d/%d keys (%.0f%%), %d errors\n",
				done, b.p.Keys, 100*float64(done)/float64(b.p.Keys), b.prefillErrs.Load())
		}
	}
loop:
	for {
		select {
		case <-idle:
			break loop
		case <-tick.C:
			progress()
		case <-ctx.Done():
			b.drain(idle)
			break loop
		case <-limit.C:
			b.drain(idle)
			break loop
		}
	}
	r := &prefillReport{Keys: b.prefillOK.Load(), Errors: b.prefillErrs.Load(), Seconds: time.Since(start).Seconds()}
	if !b.p.Quiet {
		fmt.Fprintf(stderr, "rpcbench: prefill done: %d keys set, %d errors, in %.2fs\n", r.Keys, r.Errors, r.Seconds)
	}
	return r
}

// runLoad runs warm-up and the measured run, printing progress, and
// returns the report.
func (b *bench) runLoad(ctx context.Context, stderr io.Writer) *report {
	p := b.p
	t0 := b.now()
	from := t0 + int64(p.Warmup)
	b.measureFrom.Store(from)
	b.start(phaseLoad)
	idle := b.idle()
	end := time.NewTimer(p.Warmup + p.Duration)
	defer end.Stop()
	tick := time.NewTicker(p.Progress)
	defer tick.Stop()
	var snap hist
	var lastOK uint64
	lastAt := from
	interrupted := false
loop:
	for {
		select {
		case <-idle: // every slot stopped by itself (Go refused)
			break loop
		case <-b.nReached:
			b.drain(idle)
			break loop
		case <-end.C:
			b.drain(idle)
			break loop
		case <-ctx.Done():
			interrupted = true
			b.drain(idle)
			break loop
		case <-tick.C:
			if p.Quiet {
				continue
			}
			now := b.now()
			if now < from {
				fmt.Fprintf(stderr, "rpcbench: warm-up %v/%v\n", time.Duration(now-t0).Round(min(p.Progress, time.Second)), p.Warmup)
				continue
			}
			if now-lastAt < int64(p.Progress/2) {
				continue // the warm-up just ended: too short a window for a rate
			}
			snap.Reset()
			var errs uint64
			for _, st := range b.stripes {
				st.hist.AddTo(&snap)
				errs += st.errs.Load()
			}
			ok := snap.Count()
			rate := float64(ok-lastOK) / time.Duration(now-lastAt).Seconds()
			lastOK, lastAt = ok, now
			fmt.Fprintf(stderr, "rpcbench: %5.1fs %10.0f ops/s  errors %d  p99 %v (so far, %d ok)\n",
				time.Duration(now-from).Seconds(), rate, errs, time.Duration(snap.Quantile(0.99)).Round(time.Microsecond), ok)
		}
	}
	elapsed := time.Duration(b.now() - from)
	return b.report(max(0, elapsed), interrupted)
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy"
)

const serveHelp = `
Usage: rpcproxy serve -config FILE [-log-level LEVEL] [-watch DURATION]

Serve runs the proxy: it listens on proxy.listen and on every cluster's own
listen address for TL RPC from apps, routes each request to its cluster,
shard and engine, and answers the app. Admin HTTP (/healthz, /stats,
/metrics, /slow; /debug/pprof/ with proxy.pprof = true) listens on
proxy.admin. Logs go to stderr (log/slog text): one
line at start with the listeners and clusters, one per reload with what
changed, one per engine going down or coming back.

Signals: SIGHUP reloads the config (a bad one is refused and logged, the
running one kept); the file is also polled for changes every -watch
(content the last reload read, or refused, is not reloaded again).
/stats shows the running config's SHA-256 and how the last reload ended
(applied, or refused with the reason); /metrics has
rpcproxy_config_last_reload_successful for alerts.
SIGTERM or SIGINT stop accepting, ask apps to finish (rpcServerWantsFin),
wait for requests in flight up to proxy.shutdown.drain_timeout and exit 0.

Example:
  rpcproxy serve -config configs/demo.toml -log-level debug`

func runServe(args []string, stdout, stderr io.Writer) int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	return serve(args, stdout, stderr, sigs)
}

// serve is runServe with the signal channel passed in, so tests drive it.
func serve(args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	file := fs.String("config", "", "config `file` (required)")
	level := fs.String("log-level", "", "debug, info, warn or error; overrides proxy.log_level")
	watch := fs.Duration("watch", 2*time.Second, "poll the config file for changes this often; 0 turns it off")
	if code, done := parseFlags(fs, serveHelp, args, stdout, stderr); done {
		return code
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "rpcproxy serve: want -config FILE and no other arguments")
		printHelp(stderr, fs, serveHelp)
		return exitUsage
	}
	cfg, code := loadConfig("serve", *file, stderr)
	if cfg == nil {
		return code
	}
	lvl := cfg.Proxy.LogLevel
	if *level != "" {
		if err := lvl.UnmarshalText([]byte(strings.ToUpper(*level))); err != nil {
			fmt.Fprintf(stderr, "rpcproxy serve: -log-level %q: want debug, info, warn or error\n", *level)
			return exitUsage
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	p, err := rpcproxy.New(cfg, rpcproxy.Options{Logger: log, ConfigPath: *file, WatchInterval: *watch})
	if err != nil {
		log.Error("rpcproxy serve: cannot start", "error", err.Error())
		return exitProblem
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx) }()
	for {
		select {
		case err := <-served:
			if err != nil {
				log.Warn("rpcproxy serve: stopped with requests unanswered", "error", err.Error())
			}
			return exitOK
		case s := <-sigs:
			switch s {
			case syscall.SIGHUP:
				log.Info("SIGHUP: reloading", "file", *file)
				_ = p.Reload() // a refused config is logged by the proxy
			default:
				log.Info("signal: shutting down", "signal", s.String(), "drain_timeout", p.Config().Proxy.DrainTimeout)
				stop()
			}
		}
	}
}

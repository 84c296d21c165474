package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/rpcproxy"
)

const checkHelp = `
Usage: rpcproxy check -config FILE

Check loads a config file with every rule the proxy applies at start-up and
prints what it means: the proxy's listeners and limits, then each cluster
with its routing, placement, shards and replicas. It exits 0 when the file
is valid; otherwise it prints every problem (file:line: key: what is wrong)
to stderr and exits 1. It also reads the key file and the schemas and builds
the routing table as serve does (function rules against the schemas'
arguments), without opening a socket or dialling an engine.

Example:
  rpcproxy check -config configs/demo.toml`

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	file := fs.String("config", "", "config `file` to check (required)")
	if code, done := parseFlags(fs, checkHelp, args, stdout, stderr); done {
		return code
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "rpcproxy check: want -config FILE and no other arguments")
		printHelp(stderr, fs, checkHelp)
		return exitUsage
	}
	cfg, code := loadConfig("check", *file, stderr)
	if cfg == nil {
		return code
	}
	if err := rpcproxy.Check(cfg); err != nil {
		fmt.Fprintf(stderr, "rpcproxy check: %s: %v\n", cfg.File, err)
		return exitProblem
	}
	fmt.Fprintf(stdout, "%s: OK, %d %s\n\n", cfg.File, len(cfg.Clusters), plural(len(cfg.Clusters), "cluster", "clusters"))
	printConfig(stdout, cfg)
	return exitOK
}

// loadConfig loads file and prints every problem for the command cmd; a nil
// config comes with the exit code.
func loadConfig(cmd, file string, stderr io.Writer) (*configs.Config, int) {
	cfg, err := configs.Load(file)
	var cerr *configs.Error
	switch {
	case errors.As(err, &cerr):
		fmt.Fprintln(stderr, cerr)
		n := len(cerr.Problems)
		fmt.Fprintf(stderr, "rpcproxy %s: %s: %d %s\n", cmd, file, n, plural(n, "problem", "problems"))
		return nil, exitProblem
	case err != nil:
		fmt.Fprintf(stderr, "rpcproxy %s: %v\n", cmd, err)
		return nil, exitProblem
	}
	return cfg, exitOK
}

func printConfig(w io.Writer, cfg *configs.Config) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := cfg.Proxy
	fmt.Fprintf(tw, "proxy\n")
	fmt.Fprintf(tw, "  listen\t%s %s\n", p.Listen, networksText(p))
	admin := p.Admin.String()
	if p.Pprof {
		admin += " (with /debug/pprof/)"
	}
	fmt.Fprintf(tw, "  admin\t%s\n", admin)
	fmt.Fprintf(tw, "  timeout\t%s\n", p.Timeout)
	margin := "off"
	if p.TimeoutMargin > 0 {
		margin = p.TimeoutMargin.String() + " before an app's own deadline (at most a tenth of its timeout)"
	}
	fmt.Fprintf(tw, "  timeout margin\t%s\n", margin)
	fmt.Fprintf(tw, "  max connections\t%d (over all app ports)\n", p.MaxConnections)
	if p.UDP {
		idle := "off (idle UDP app peers are kept)"
		if p.UDPIdleAfter > 0 {
			idle = "parked after " + p.UDPIdleAfter.String() + " with nothing in flight; forgotten after as long (5s at least) unanswered"
		}
		fmt.Fprintf(tw, "  udp idle peers\t%s\n", idle)
	}
	fmt.Fprintf(tw, "  requests\t%s in flight, %s each at most\n", bytesText(p.MaxRequestBytes), bytesText(int64(p.MaxRequestSize)))
	fmt.Fprintf(tw, "  answers held\t%s at most (for apps behind on reading, and fan-outs waiting for shards)\n", bytesText(p.MaxResponseBytes))
	fmt.Fprintf(tw, "  log level\t%s\n", strings.ToLower(p.LogLevel.String()))
	fmt.Fprintf(tw, "  drain timeout\t%s\n", p.DrainTimeout)
	slow := "off"
	if p.SlowRequest > 0 {
		slow = "over " + p.SlowRequest.String() + " (admin /slow)"
	}
	fmt.Fprintf(tw, "  slow requests\t%s\n", slow)
	fmt.Fprintf(tw, "  schemas\t%s\n", listText(p.Schemas))
	if p.KeyFile != "" {
		fmt.Fprintf(tw, "  key file\t%s\n", keyText(p.KeyFile))
	}
	tw.Flush()

	for i := range cfg.Clusters {
		c := &cfg.Clusters[i]
		fmt.Fprintf(w, "\ncluster %s\n", c.Name)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		actor, listen := "-", "-"
		if c.ActorID != 0 {
			actor = strconv.FormatInt(c.ActorID, 10)
		}
		if c.Listen.IsValid() {
			listen = c.Listen.String() + " " + networksText(cfg.Proxy)
		}
		fmt.Fprintf(tw, "  actor id\t%s\n", actor)
		fmt.Fprintf(tw, "  listen\t%s\n", listen)
		fmt.Fprintf(tw, "  functions\t%s\n", listText(c.Functions))
		fmt.Fprintf(tw, "  sharding\t%s\n", placementText(c))
		fmt.Fprintf(tw, "  balance\t%s\n", c.Balance)
		fmt.Fprintf(tw, "  timeout\t%s\n", c.Timeout)
		fmt.Fprintf(tw, "  transport\t%s\n", c.Transport)
		fmt.Fprintf(tw, "  health\t%s\n", healthText(c.Health))
		if sh := c.Shadow; sh != nil {
			funcs := "every function"
			if len(sh.Functions) > 0 {
				funcs = listText(sh.Functions)
			}
			fmt.Fprintf(tw, "  shadow\tcopies of %g%% of the keys' requests (%s; not fan-outs) to cluster %s, answers dropped\n", sh.Share*100, funcs, sh.Cluster)
		}
		fmt.Fprintf(tw, "  shards\t%d\n", len(c.Shards))
		tw.Flush()

		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "    #\tname\tweight\treplicas\n")
		for j, s := range c.Shards {
			fmt.Fprintf(tw, "    %d\t%s\t%d\t%s\n", j, s.Name, s.Weight, replicasText(s.Replicas))
		}
		tw.Flush()
		if len(c.Rules) > 0 {
			fmt.Fprintf(w, "  function rules\n")
			tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, r := range c.Rules {
				fmt.Fprintf(tw, "    %s\t%s\n", r.Name, r)
			}
			tw.Flush()
		}
	}
}

func placementText(c *configs.Cluster) string {
	var opts []string
	if c.Hash != "" {
		opts = append(opts, "key hash "+string(c.Hash))
	}
	if c.HashTag != "" {
		opts = append(opts, "hash tag "+c.HashTag)
	}
	if c.Load != 0 {
		opts = append(opts, fmt.Sprintf("load %g", c.Load), fmt.Sprintf("%d partitions", c.Partitions))
	}
	if len(opts) == 0 {
		return string(c.Sharding)
	}
	return fmt.Sprintf("%s (%s)", c.Sharding, strings.Join(opts, ", "))
}

func healthText(h configs.Health) string {
	slow := "off"
	if h.SlowLatency > 0 {
		slow = h.SlowLatency.String()
	}
	failover := "off"
	if h.Failover {
		failover = "on"
	}
	return fmt.Sprintf("down after %d timeouts in a row (slow above: %s); %d in flight per engine; probe every %s..%s +%g%% jitter; at most %g%% down; failover %s; retries at most %g%% of requests +%d/s",
		h.ConsecutiveTimeouts, slow, h.MaxInflight, durText(h.ProbeInterval), durText(h.ProbeMaxInterval), h.ProbeJitter*100, h.MaxDownShare*100, failover, h.RetryBudget*100, configs.RetryFloor)
}

func replicasText(rs []configs.Replica) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Addr
		if r.Weight != 1 {
			parts[i] += fmt.Sprintf(" (weight %d)", r.Weight)
		}
	}
	return strings.Join(parts, ", ")
}

func listText(xs []string) string {
	if len(xs) == 0 {
		return "-"
	}
	return strings.Join(xs, ", ")
}

func durText(d time.Duration) string { return d.String() }

// bytesText prints a byte count with the largest binary unit that divides it.
func bytesText(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// networksText is what the app listeners accept.
func networksText(p configs.Proxy) string {
	if p.UDP {
		return "(tcp, udp)"
	}
	return "(tcp)"
}

// keyText names the key file and whether it holds a usable key; the key
// itself is never printed.
func keyText(path string) string {
	k, err := configs.ReadKey(path)
	if err != nil {
		return path + " (" + strings.TrimPrefix(err.Error(), "configs: ") + ")"
	}
	return fmt.Sprintf("%s (%d bytes)", path, len(k))
}

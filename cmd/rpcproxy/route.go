package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/sharding"
)

const routeHelp = `
Usage: rpcproxy route -config FILE [-cluster NAME] [-int] KEY...

Route prints where each key goes in a cluster, exactly as the proxy places
it: one tab-separated line per key with the key, the shard index, the shard
name and the shard's replicas (comma-separated). Keys are strings unless
-int is given, which reads them as int64 (what the proxy does for an int or
long key argument). -cluster may be left out when the file has one cluster.
Flags go before the keys; put -- before keys that start with '-'. Exits 1
if any key cannot be placed (a firstint key without digits), after printing
the others.

Examples:
  rpcproxy route -config configs/demo.toml -cluster memcache foo bar hello
  rpcproxy route -config configs/production.toml -cluster users -int -- 42 -1`

func runRoute(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("route", flag.ContinueOnError)
	file := fs.String("config", "", "config `file` (required)")
	name := fs.String("cluster", "", "cluster `name`; optional when the config has one cluster")
	asInt := fs.Bool("int", false, "read keys as int64 and place them as int keys")
	if code, done := parseFlags(fs, routeHelp, args, stdout, stderr); done {
		return code
	}
	if *file == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "rpcproxy route: want -config FILE and at least one KEY")
		printHelp(stderr, fs, routeHelp)
		return exitUsage
	}
	cfg, code := loadConfig("route", *file, stderr)
	if cfg == nil {
		return code
	}
	c, err := pickCluster(cfg, *name)
	if err != nil {
		fmt.Fprintf(stderr, "rpcproxy route: %s: %v\n", *file, err)
		return exitProblem
	}
	picker, err := sharding.NewPicker(c.Spec())
	if err != nil {
		// Load already built this picker once, so this is a bug, not a config problem.
		fmt.Fprintf(stderr, "rpcproxy route: cluster %q: %v\n", c.Name, err)
		return exitProblem
	}
	code = exitOK
	for _, key := range fs.Args() {
		i, err := place(picker, key, *asInt)
		if err != nil {
			fmt.Fprintf(stderr, "rpcproxy route: %v\n", err)
			code = exitProblem
			continue
		}
		s := c.Shards[i]
		fmt.Fprintf(stdout, "%s\t%d\t%s\t%s\n", key, i, s.Name, strings.Join(s.Addrs(), ","))
	}
	return code
}

// pickCluster finds the named cluster; an empty name means the only one.
func pickCluster(cfg *configs.Config, name string) (*configs.Cluster, error) {
	names := make([]string, len(cfg.Clusters))
	for i, c := range cfg.Clusters {
		names[i] = c.Name
	}
	if name == "" {
		if len(cfg.Clusters) == 1 {
			return &cfg.Clusters[0], nil
		}
		return nil, fmt.Errorf("%d clusters, choose one with -cluster: %s", len(names), strings.Join(names, ", "))
	}
	c, ok := cfg.Cluster(name)
	if !ok {
		return nil, fmt.Errorf("no cluster %q; clusters: %s", name, strings.Join(names, ", "))
	}
	return c, nil
}

func place(p *sharding.Picker, key string, asInt bool) (int, error) {
	if !asInt {
		// The sharding errors quote the key already.
		return p.Pick([]byte(key))
	}
	n, err := strconv.ParseInt(key, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("key %q is not an int64 (-int reads keys as decimal integers)", key)
	}
	return p.PickInt(n), nil
}

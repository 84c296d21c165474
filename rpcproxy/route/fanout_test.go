package route

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/rpcproxy/fanout"
	"github.com/rpcproxy/rpcproxy/rpcproxy/metrics"
	"github.com/rpcproxy/rpcproxy/rpcproxy/upstream"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

const fanoutConfig = `
[proxy]
listen = "127.0.0.1:9300"
admin = "127.0.0.1:9301"

[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "hash"
shards = [{ replicas = ["10.0.0.1:1"] }, { replicas = ["10.0.0.2:1"] }]

[[cluster]]
name = "events"
functions = ["events.*"]
sharding = "hash"
shards = [{ replicas = ["10.0.1.1:1"] }, { replicas = ["10.0.1.2:1"] }, { replicas = ["10.0.1.3:1"] }]
[[cluster.function]]
name = "events.search"
merge = "sorted"
sort_field = "ts"
descending = true
limit_arg = "limit"
[[cluster.function]]
name = "events.count"
merge = "sum"
on_error = "partial"

[[cluster]]
name = "one"
functions = ["test.*"]
shards = [{ replicas = ["10.0.2.1:1"] }]
`

func buildFanoutTable(t *testing.T, text string) (*Table, error) {
	t.Helper()
	cfg, err := configs.Parse("test.toml", []byte(text), ".")
	if err != nil {
		t.Fatal(err)
	}
	sch, err := schema.LoadWithPrelude("../../engines/memcache/memcache.tl", "../../engines/events/events.tl", "testdata/test.tl")
	if err != nil {
		t.Fatal(err)
	}
	pool := upstream.NewPool(upstream.Options{Dial: (&dialLog{}).Dial})
	t.Cleanup(pool.Close)
	tab, err := Build(cfg, sch, pool, metrics.NewRegistry())
	if err == nil {
		t.Cleanup(tab.Release)
	}
	return tab, err
}

func TestSpread(t *testing.T) {
	tab, err := buildFanoutTable(t, fanoutConfig)
	if err != nil {
		t.Fatal(err)
	}
	tag := func(name string) uint32 { return tab.schema.Function(name).Tag }
	getMulti := tl.AppendUint32(tl.AppendUint32(tl.AppendUint32(nil, tag("memcache.getMulti")), 1), 0)
	get := tl.AppendString(tl.AppendUint32(nil, tag("memcache.get")), "k")
	search := tl.AppendInt32(tl.AppendString(tl.AppendUint32(nil, tag("events.search")), "q"), 5)
	count := tl.AppendString(tl.AppendUint32(nil, tag("events.count")), "q")
	listAll := tl.AppendInt32(tl.AppendUint32(nil, tag("events.listAll")), 5)
	ping := tl.AppendUint32(tl.AppendUint32(nil, tag("test.intKey")), 1)
	diag := func(inner []byte) []byte { return append(tl.AppendUint32(nil, rpc.TagProxyDiagonal), inner...) }
	tests := []struct {
		name     string
		body     []byte
		extra    rpc.InvokeReqExtra
		cluster  string
		want     Spread
		strategy fanout.Strategy
	}{
		{"getMulti splits by default", getMulti, rpc.InvokeReqExtra{}, "mc", Split, 0},
		{"forward keys win", getMulti, rpc.InvokeReqExtra{Flags: rpc.FlagStringForward, StringForward: []byte("k")}, "mc", One, 0},
		{"single key", get, rpc.InvokeReqExtra{}, "mc", One, 0},
		{"sorted merge", search, rpc.InvokeReqExtra{}, "events", Merge, fanout.Sorted},
		{"sum merge", count, rpc.InvokeReqExtra{}, "events", Merge, fanout.Sum},
		{"no rule: one shard (and no key)", listAll, rpc.InvokeReqExtra{}, "events", One, 0},
		{"diagonal by inner function", diag(listAll), rpc.InvokeReqExtra{}, "events", Diagonal, 0},
		{"diagonal of a single-shard cluster", diag(ping), rpc.InvokeReqExtra{}, "one", Diagonal, 0},
		{"diagonal of getMulti", diag(getMulti), rpc.InvokeReqExtra{}, "mc", Diagonal, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := &rpc.InvokeReq{Body: tc.body, Extra: tc.extra}
			c, err := tab.Lookup(mainAddr, req)
			if err != nil {
				t.Fatal(err)
			}
			if c.Name != tc.cluster {
				t.Fatalf("cluster %s, want %s", c.Name, tc.cluster)
			}
			s, rule, call := tab.Spread(c, req)
			if s != tc.want {
				t.Fatalf("spread %v, want %v", s, tc.want)
			}
			if tc.strategy != 0 && (rule == nil || rule.Strategy != tc.strategy) {
				t.Fatalf("rule %+v, want strategy %v", rule, tc.strategy)
			}
			if s == Diagonal && string(call) != string(tc.body[4:]) {
				t.Fatalf("diagonal inner call %x", call)
			}
		})
	}
}

func TestFanoutBuildErrors(t *testing.T) {
	tests := []struct {
		name, rules, want string
	}{
		{"positional partial without missing", `
[[cluster.function]]
name = "memcache.getMulti"
on_error = "partial"`, "needs missing"},
		{"missing of another type", `
[[cluster.function]]
name = "memcache.getMulti"
on_error = "partial"
missing = "memcache.get"`, "not a constructor of memcache.Value"},
		{"align on a scalar key", `
[[cluster.function]]
name = "memcache.get"
align = "positional"`, "need a vector key argument"},
		{"coalesce on a scalar key", `
[[cluster.function]]
name = "memcache.get"
coalesce = true`, "coalesce need a vector key argument"},
		{"sum of a vector", `
[[cluster.function]]
name = "memcache.getMulti"
merge = "sum"`, "needs Int or Long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(fanoutConfig, "\n[[cluster]]\nname = \"events\"", tc.rules+"\n\n[[cluster]]\nname = \"events\"", 1)
			_, err := buildFanoutTable(t, text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestExampleConfigsBuild builds a table from every example config with
// its schemas, so a fan-out rule the schema cannot serve (a sort field the
// elements lack, a positional partial split without missing) fails here,
// not when the proxy starts.
func TestExampleConfigsBuild(t *testing.T) {
	files, err := filepath.Glob("../../configs/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := configs.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			sch, err := schema.LoadWithPrelude(cfg.Proxy.Schemas...)
			if err != nil {
				t.Fatal(err)
			}
			// production.toml shows rules of functions no schema here
			// declares (session.get): leave those out.
			for i := range cfg.Clusters {
				c := &cfg.Clusters[i]
				var known []configs.FunctionRule
				for _, r := range c.Rules {
					if sch.Function(r.Name) != nil {
						known = append(known, r)
					}
				}
				c.Rules = known
			}
			pool := upstream.NewPool(upstream.Options{Dial: (&dialLog{}).Dial})
			defer pool.Close()
			tab, err := Build(cfg, sch, pool, metrics.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			tab.Release()
			for _, c := range tab.Clusters {
				for _, r := range c.Config.Rules {
					if (r.Merge != "" || r.Align != "") && tab.FanoutRule(c, r.Name) == nil {
						t.Errorf("cluster %s: %s has no fan-out rule", c.Name, r.Name)
					}
				}
			}
		})
	}
}

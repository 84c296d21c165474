package route

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/rpcproxy/fanout"
	"github.com/rpcproxy/rpcproxy/rpcproxy/health"
	"github.com/rpcproxy/rpcproxy/rpcproxy/metrics"
	"github.com/rpcproxy/rpcproxy/rpcproxy/upstream"
	"github.com/rpcproxy/rpcproxy/sharding"
	"github.com/rpcproxy/rpcproxy/tl/schema"
	"github.com/rpcproxy/rpcproxy/tl/walk"
)

// Engines hands out shared engine connections by address; upstream.Pool
// implements it.
type Engines interface {
	Acquire(addr string, s health.Settings, g *health.Group) *upstream.Engine
	Release(e *upstream.Engine)
}

var _ Engines = (*upstream.Pool)(nil)

// Table is one immutable routing generation.
type Table struct {
	Config   *configs.Config
	Clusters []*Cluster

	byActor  map[int64]*Cluster
	byListen map[netip.AddrPort]*Cluster
	byTag    map[uint32]*Cluster
	keys     map[uint32]*keyPlan     // default plan per function tag
	splits   map[uint32]*fanout.Rule // default split of functions keyed by a vector
	fan      *fanout.Fanout
	schema   *schema.Schema
	engines  Engines
}

// Cluster is one cluster of a Table.
type Cluster struct {
	Name    string
	Config  configs.Cluster
	Picker  *sharding.Picker
	Shards  []Shard
	Timeout time.Duration
	// Margin is [proxy] timeout_margin: a request with the app's own
	// timeout is given up this much before its end, at most a tenth of it.
	Margin   time.Duration
	Failover bool
	Group    *health.Group
	Stats    *metrics.Cluster
	// Retry caps the retries of the functions marked retry.
	Retry *health.RetryBudget
	// Shadow, when set, copies a share of the requests to another
	// cluster (ShadowShard).
	Shadow *Shadow
	// functions: see Function (function.go).
	functions
	rules  map[uint32]*keyPlan     // per function tag, from [[cluster.function]]
	fanout map[uint32]*fanout.Rule // splits and merges, from [[cluster.function]]
	// keys is the schema walker's key finder with this cluster's rules:
	// the fallback for functions whose key the flat plans cannot reach
	// (after optional or composite fields). nil without a schema.
	keys *walk.Keys
}

// Shard is one shard: its engines in config order and their balancer.
type Shard struct {
	Index    int
	Name     string
	Balancer *sharding.Balancer
	Replicas []*upstream.Engine
}

// Build makes a Table from cfg (already validated by configs) and the
// schema (nil: no function routing or key arguments). Engines are acquired
// from engines; stats gives each cluster its counters.
func Build(cfg *configs.Config, sch *schema.Schema, engines Engines, stats *metrics.Registry) (*Table, error) {
	t := &Table{
		Config:   cfg,
		byActor:  map[int64]*Cluster{},
		byListen: map[netip.AddrPort]*Cluster{},
		byTag:    map[uint32]*Cluster{},
		keys:     map[uint32]*keyPlan{},
		splits:   map[uint32]*fanout.Rule{},
		schema:   sch,
		engines:  engines,
	}
	var w *walk.Walker
	if sch != nil {
		w = walk.New(sch)
		t.fan = fanout.New(w)
		if err := t.buildFanout(nil, nil); err != nil {
			return nil, err
		}
	}
	// Validate and build everything that can fail before acquiring engines.
	for i := range cfg.Clusters {
		cc := &cfg.Clusters[i]
		picker, err := sharding.NewPicker(cc.Spec())
		if err != nil {
			return nil, fmt.Errorf("route: cluster %q: %w", cc.Name, err)
		}
		c := &Cluster{
			Name:      cc.Name,
			Config:    *cc,
			Picker:    picker,
			Timeout:   cc.Timeout,
			Margin:    cfg.Proxy.TimeoutMargin,
			Failover:  cc.Health.Failover,
			Stats:     stats.Cluster(cc.Name),
			Retry:     health.NewRetryBudget(cc.Health.RetryBudget, configs.RetryFloor),
			functions: functions{reg: stats, sch: sch},
			rules:     map[uint32]*keyPlan{},
			fanout:    map[uint32]*fanout.Rule{},
		}
		n := 0
		for j := range cc.Shards {
			s := &cc.Shards[j]
			b, err := sharding.NewBalancer(cc.Balance, s.Weights(), sharding.BalancerOptions{})
			if err != nil {
				return nil, fmt.Errorf("route: cluster %q shard %d: %w", cc.Name, j, err)
			}
			c.Shards = append(c.Shards, Shard{Index: j, Name: s.Name, Balancer: b})
			n += len(s.Replicas)
		}
		c.Group = health.NewGroup(n, cc.Health.MaxDownShare)
		named := map[string]string{}
		for _, r := range cc.Rules {
			if r.Key != "" {
				named[r.Name] = r.Key
			}
		}
		if w != nil {
			if c.keys, err = w.Keys(named); err != nil {
				return nil, fmt.Errorf("route: cluster %q: key rules: %w", cc.Name, err)
			}
		}
		for _, r := range cc.Rules {
			if sch == nil {
				return nil, fmt.Errorf("route: cluster %q: function %q has a key rule but no schema is loaded (proxy.schemas)", cc.Name, r.Name)
			}
			fn := sch.Function(r.Name)
			if fn == nil {
				return nil, fmt.Errorf("route: cluster %q: function %q is not in the schemas", cc.Name, r.Name)
			}
			p := planKey(fn, r.Key)
			if !p.ok && r.Key != "" && c.keys == nil {
				return nil, fmt.Errorf("route: cluster %q: %s", cc.Name, p.why)
			}
			// A plan that is not ok defers to the walker, which accepted
			// the rule above.
			c.rules[fn.Tag] = &p
			c.addRule(fn.Tag, cc.Name, r)
		}
		if sch != nil {
			if err := t.buildFanout(c, cc); err != nil {
				return nil, err
			}
		}
		if cc.ActorID != 0 {
			t.byActor[cc.ActorID] = c
		}
		if cc.Listen.IsValid() {
			t.byListen[cc.Listen] = c
		}
		t.Clusters = append(t.Clusters, c)
	}
	if err := t.linkShadows(sch); err != nil {
		return nil, err
	}
	if sch != nil {
		for _, fn := range sch.Combinators {
			if !fn.Function {
				continue
			}
			p := planKey(fn, "")
			t.keys[fn.Tag] = &p
			if cc, ok := cfg.ClusterForFunction(fn.Name); ok {
				t.byTag[fn.Tag] = t.cluster(cc.Name)
			}
		}
	}
	if err := checkPatterns(cfg, sch); err != nil {
		return nil, err
	}
	for _, c := range t.Clusters {
		cc := &c.Config
		hs := HealthSettings(cc.Health)
		for j := range c.Shards {
			for _, r := range cc.Shards[j].Replicas {
				c.Shards[j].Replicas = append(c.Shards[j].Replicas, engines.Acquire(r.Addr, hs, c.Group))
			}
		}
	}
	return t, nil
}

// checkPatterns refuses functions patterns that can route nothing: a
// request names its function by tag, and only the schemas map tags to
// names, so a pattern needs them and must match one of their functions
// (else it is a typo, or its schema is missing).
func checkPatterns(cfg *configs.Config, sch *schema.Schema) error {
	for i := range cfg.Clusters {
		cc := &cfg.Clusters[i]
		if len(cc.Functions) == 0 {
			continue
		}
		if sch == nil {
			return fmt.Errorf("route: cluster %q: functions = %q routes by function name, which needs the TL schemas: list them in proxy.schemas", cc.Name, cc.Functions)
		}
		for _, pat := range cc.Functions {
			if !matchesAny(sch, pat) {
				return fmt.Errorf("route: cluster %q: functions pattern %q matches no function of the schemas (a typo, or a schema missing from proxy.schemas?)", cc.Name, pat)
			}
		}
	}
	return nil
}

// matchesAny reports whether the functions pattern pat matches a function
// of sch.
func matchesAny(sch *schema.Schema, pat string) bool {
	for _, fn := range sch.Combinators {
		if fn.Function && configs.FunctionMatches(pat, fn.Name) {
			return true
		}
	}
	return false
}

// Start opens every cluster's retry budget and rate limits at now, when
// the table starts serving. A cluster of prev (the table it replaces; nil
// at start) with the same name and retry_budget hands its budget on, and
// a function's limit with the same rate_limit and burst its limit, so a
// reload neither resets a window nor refills a burst, and the two tables'
// requests do not retry or pass twice over.
func (t *Table) Start(now time.Time, prev *Table) {
	for _, c := range t.Clusters {
		var old *Cluster
		if prev != nil {
			old = prev.cluster(c.Name)
		}
		if old != nil && old.Config.Health.RetryBudget == c.Config.Health.RetryBudget {
			c.Retry = old.Retry
		} else {
			c.Retry.Start(now, c.Stats.Requests.Load())
		}
		for tag, l := range c.limits {
			if old != nil {
				if o := old.limits[tag]; o != nil && o.rate == l.rate && o.burst == l.burst {
					c.limits[tag] = o
					continue
				}
			}
			l.Start(now)
		}
	}
}

// HealthSettings converts a cluster's health config.
func HealthSettings(h configs.Health) health.Settings {
	return health.Settings{
		ConsecutiveTimeouts: h.ConsecutiveTimeouts,
		SlowLatency:         h.SlowLatency,
		MaxInflight:         h.MaxInflight,
		ProbeInterval:       h.ProbeInterval,
		ProbeMaxInterval:    h.ProbeMaxInterval,
		ProbeJitter:         h.ProbeJitter,
	}
}

func (t *Table) cluster(name string) *Cluster {
	for _, c := range t.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Cluster returns the cluster called name, or nil.
func (t *Table) Cluster(name string) *Cluster { return t.cluster(name) }

// Release gives back every engine the table acquired. Call it once, after
// the last request using the table has finished.
func (t *Table) Release() {
	for _, c := range t.Clusters {
		for j := range c.Shards {
			for _, e := range c.Shards[j].Replicas {
				t.engines.Release(e)
			}
		}
	}
}

// Listeners returns the listen addresses of the clusters that have one.
func (t *Table) Listeners() map[netip.AddrPort]string {
	out := map[netip.AddrPort]string{}
	for a, c := range t.byListen {
		out[a] = c.Name
	}
	return out
}

// FunctionName names a function tag for messages: "memcache.get
// (#0x8d62ca5f)", or "#0x8d62ca5f" when the schema does not know it.
func (t *Table) FunctionName(tag uint32) string {
	if t.schema != nil {
		if c := t.schema.ByTag(tag); c != nil && c.Function {
			return fmt.Sprintf("%s (#%08x)", c.Name, tag)
		}
	}
	return fmt.Sprintf("#%08x (not in the schemas)", tag)
}

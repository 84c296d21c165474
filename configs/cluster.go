package configs

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/rpcproxy/rpcproxy/sharding"
)

// Defaults and limits of a [[cluster]] table.
const (
	DefaultBalance   = sharding.LeastOutstanding
	DefaultTransport = "tcp"

	DefaultConsecutiveTimeouts = 3
	MaxConsecutiveTimeouts     = 100
	DefaultMaxInflight         = 1000
	MaxMaxInflight             = 1_000_000
	DefaultProbeInterval       = time.Second
	DefaultProbeMaxInterval    = 30 * time.Second
	DefaultProbeJitter         = 0.5
	DefaultMaxDownShare        = 0.5
	DefaultRetryBudget         = 0.1
	// RetryFloor is the retries per second a cluster may always make,
	// whatever its retry_budget allows, so a quiet cluster can retry too.
	RetryFloor = 10

	// MaxPartitions is below sharding.MaxPartitions on purpose: building a
	// bounded table costs time in proportion to partitions x shards, and
	// 2^20 partitions took ~10 s on a loaded 2-core machine, which would
	// stall every start, reload and check. 2^16 is far above the library's
	// default of 271.
	MaxPartitions = 1 << 16
)

// parseCluster reads, defaults and validates one [[cluster]] table. Checks
// that need the other clusters are in checkClusters.
func parseCluster(t *table, proxy Proxy) Cluster {
	c := Cluster{Balance: DefaultBalance, Timeout: proxy.Timeout, Transport: DefaultTransport}
	if s, ok := t.string("name"); ok {
		if err := checkClusterName(s); err != nil {
			t.ps.add(t.at("name"), "%q: %v", s, err)
		}
		c.Name = s
	} else if !t.has("name") {
		t.ps.add(t.at("name"), "missing: every cluster needs a name")
	}
	if n, ok := t.int("actor_id"); ok {
		if n <= 0 {
			t.ps.add(t.at("actor_id"), "%d: want an integer > 0 (leave it out for no actor id)", n)
		} else {
			c.ActorID = n
		}
	}
	if s, ok := t.string("listen"); ok {
		c.Listen, _ = listenAddr(t, "listen", s)
	}
	list, listOK := t.strings("functions")
	if listOK {
		for i, p := range list {
			at := indexPath(t.at("functions"), i)
			if err := checkPattern(p); err != nil {
				t.ps.add(at, "%q: %v", p, err)
				continue
			}
			if slices.Contains(c.Functions, p) {
				t.ps.add(at, "%q: listed twice", p)
				continue
			}
			c.Functions = append(c.Functions, p)
		}
	}
	// Keys present with bad values were reported already; only a cluster
	// with none of the three, or an empty functions list, is unreachable.
	noFunctions := !t.has("functions") || (listOK && len(list) == 0)
	if !t.has("actor_id") && !t.has("listen") && noFunctions {
		t.ps.add(t.path, "cluster %q is unreachable: set listen, actor_id or functions", c.Name)
	}
	if d, ok := t.duration("timeout"); ok {
		c.Timeout = d
	}
	if s, ok := t.string("transport"); ok {
		switch {
		case s == "udp" && proxy.KeyFile == "":
			t.ps.add(t.at("transport"), `%q: only "tcp" is supported without a key: "udp" is always encrypted, set [proxy] key_file`, s)
		case s != "tcp" && s != "udp":
			t.ps.add(t.at("transport"), `%q: want "tcp" or "udp"`, s)
		}
		c.Transport = s
	}
	if s, ok := t.string("balance"); ok {
		c.Balance = sharding.Policy(s)
		if !slices.Contains(sharding.Policies(), c.Balance) {
			t.ps.add(t.at("balance"), "%q: unknown balance policy; allowed: %s", s, joinNames(sharding.Policies()))
		}
	}
	c.Shards = parseShards(t, c.Balance)
	parsePlacement(t, &c)
	c.Health = parseHealth(t, c.Timeout)
	c.Rules = parseRules(t, &c)
	c.Shadow = parseShadow(t)
	t.unknownKeys()
	if len(t.ps.list) == 0 {
		checkBuild(t, &c)
	}
	return c
}

func checkClusterName(s string) error {
	if s == "" {
		return fmt.Errorf("empty: want letters, digits, '_', '-' or '.'")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("want letters, digits, '_', '-' or '.' (the name appears in metrics and logs)")
		}
	}
	return nil
}

// parsePlacement reads sharding, hash, hash_tag, load and partitions and
// checks them against each other and against the shards' weights.
func parsePlacement(t *table, c *Cluster) {
	mode, modeOK := t.string("sharding")
	switch {
	case modeOK:
		c.Sharding = sharding.Mode(mode)
		if !slices.Contains(sharding.Modes(), c.Sharding) {
			t.ps.add(t.at("sharding"), "%q: unknown sharding mode; allowed: %s", mode, joinNames(sharding.Modes()))
			modeOK = false
		}
	case t.has("sharding"):
		// wrong type, already reported
	case len(c.Shards) > 1:
		// Placement decides where data lives; guessing it would be data loss.
		t.ps.add(t.at("sharding"), "missing: a cluster with %d shards must choose one of %s", len(c.Shards), joinNames(sharding.Modes()))
	default:
		c.Sharding = sharding.ModeKetama // one shard: every mode sends every key to it
		modeOK = true
	}
	if h, ok := t.string("hash"); ok {
		c.Hash = sharding.KeyHash(h)
		allowed := c.Sharding.KeyHashes()
		switch {
		case !modeOK:
		case len(allowed) == 0:
			t.ps.add(t.at("hash"), "%q: sharding %q takes no key hash; remove hash", h, c.Sharding)
		case !slices.Contains(allowed, c.Hash):
			t.ps.add(t.at("hash"), "%q: not a key hash of sharding %q; allowed: %s", h, c.Sharding, joinNames(allowed))
		}
	} else if modeOK {
		c.Hash = c.Sharding.DefaultKeyHash()
	}
	if s, ok := t.string("hash_tag"); ok {
		c.HashTag = s
		if p := sharding.HashTagProblem(s); p != "" {
			t.ps.add(t.at("hash_tag"), "%q: %s", s, p)
		}
	}
	bounded := c.Sharding == sharding.ModeBounded
	if f, ok := t.float("load"); ok {
		c.Load = f
		if modeOK && !bounded {
			t.ps.add(t.at("load"), `%v: load applies only to sharding = "bounded"`, f)
		} else if !(f >= 1) || f > 100 {
			t.ps.add(t.at("load"), "%v: want 1..100 (no shard owns more than load x the average partitions)", f)
		}
	} else if bounded {
		c.Load = sharding.DefaultLoad
	}
	if n, ok := t.int("partitions"); ok {
		c.Partitions = int(n)
		if lo := max(len(c.Shards), 1); modeOK && !bounded {
			t.ps.add(t.at("partitions"), `%d: partitions apply only to sharding = "bounded"`, n)
		} else if n < int64(lo) || n > MaxPartitions {
			t.ps.add(t.at("partitions"), "%d: want %d..%d (at least one partition per shard)", n, lo, MaxPartitions)
		}
	} else if bounded {
		c.Partitions = sharding.DefaultPartitions
	}
	for i, s := range c.Shards {
		if s.Weight != 1 && modeOK && c.Sharding != sharding.ModeKetama {
			t.ps.add(joinPath(indexPath(t.at("shards"), i), "weight"), `%d: weight applies only to sharding = "ketama"`, s.Weight)
		}
	}
}

// checkBuild builds the cluster's picker and balancers exactly as the proxy
// will, so anything the sharding package refuses at start-up is refused by
// check already. It runs only on an otherwise valid file, because the
// sharding errors are less specific than the ones above.
func checkBuild(t *table, c *Cluster) {
	if _, err := sharding.NewPicker(c.Spec()); err != nil {
		t.ps.add(t.at("sharding"), "%v", err)
	}
	for i, s := range c.Shards {
		if _, err := sharding.NewBalancer(c.Balance, s.Weights(), sharding.BalancerOptions{}); err != nil {
			t.ps.add(indexPath(t.at("shards"), i), "%v", err)
		}
	}
}

// parseShards reads the shards array. Shard names default to the ketama
// convention so that a config written for twemproxy places keys the same way.
func parseShards(t *table, balance sharding.Policy) []Shard {
	list, ok := t.tables("shards")
	if len(list) == 0 && (ok || !t.has("shards")) {
		t.ps.add(t.at("shards"), `missing: want at least one shard, e.g. shards = [{ replicas = ["10.0.0.1:11211"] }]`)
		return nil
	}
	if len(list) > sharding.MaxShards {
		t.ps.add(t.at("shards"), "%d shards: at most %d allowed", len(list), sharding.MaxShards)
		return nil
	}
	var shards []Shard
	names := map[string]string{}    // shard name -> path of the shard that has it
	replicas := map[string]string{} // replica -> path where it is listed
	for _, st := range list {
		s := Shard{Weight: 1}
		s.Replicas = parseReplicas(st, balance, replicas)
		if n, ok := st.string("name"); ok {
			if strings.TrimSpace(n) == "" {
				st.ps.add(st.at("name"), "empty: leave name out to use the first replica's address")
			}
			s.Name = n
		} else if len(s.Replicas) > 0 {
			s.Name = sharding.DefaultShardName(s.Replicas[0].Addr)
		}
		if w, ok := st.int("weight"); ok {
			if w < 1 || w > sharding.MaxWeight {
				st.ps.add(st.at("weight"), "%d: want 1..%d", w, sharding.MaxWeight)
			} else {
				s.Weight = int(w)
			}
		}
		if s.Name != "" {
			if prev, dup := names[s.Name]; dup {
				at := st.at("name")
				if !st.has("name") {
					at = indexPath(st.at("replicas"), 0)
				}
				st.ps.add(at, "shard name %q already used by %s; ketama would place both on the same points (set a distinct name)", s.Name, prev)
			} else {
				names[s.Name] = st.path
			}
		}
		st.unknownKeys()
		shards = append(shards, s)
	}
	return shards
}

// parseReplicas reads one shard's replicas array; seen maps every replica
// address listed so far in the cluster to where it was listed. A weight is
// refused under a policy that ignores weights: a weight the proxy silently
// drops is worse than an error.
func parseReplicas(st *table, balance sharding.Policy, seen map[string]string) []Replica {
	weighted := balance == sharding.Weighted || balance == sharding.LeastOutstanding
	v, ok := st.get("replicas")
	if !ok {
		st.ps.add(st.at("replicas"), `missing: a shard needs replicas = ["host:port", ...]`)
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		st.wrongType("replicas", v, `an array of "host:port" strings or { addr = "host:port", weight = N } tables`)
		return nil
	}
	if len(arr) == 0 {
		st.ps.add(st.at("replicas"), "empty: a shard needs at least one replica (host:port)")
	}
	if len(arr) > sharding.MaxReplicas {
		st.ps.add(st.at("replicas"), "%d replicas: at most %d allowed", len(arr), sharding.MaxReplicas)
		return nil
	}
	var reps []Replica
	for j, e := range arr {
		at := indexPath(st.at("replicas"), j)
		r := Replica{Weight: 1}
		switch x := e.(type) {
		case string:
			r.Addr = x
		case map[string]any:
			rt := newTable(at, x, st.ps)
			addr, ok := rt.string("addr")
			if !ok && !rt.has("addr") {
				rt.ps.add(rt.at("addr"), `missing: want addr = "host:port"`)
			}
			if w, ok := rt.int("weight"); ok {
				switch {
				case w < 1 || w > sharding.MaxWeight:
					rt.ps.add(rt.at("weight"), "%d: want 1..%d", w, sharding.MaxWeight)
				case !weighted && w != 1:
					rt.ps.add(rt.at("weight"), "%d: balance %q has no weights; use %q or %q, or drop the weight",
						w, balance, sharding.Weighted, sharding.LeastOutstanding)
				default:
					r.Weight = int(w)
				}
			}
			rt.unknownKeys()
			if !ok {
				continue
			}
			r.Addr, at = addr, rt.at("addr")
		default:
			st.ps.add(at, `%s: want "host:port" or { addr = "host:port", weight = N }`, describe(e))
			continue
		}
		if err := checkReplica(r.Addr); err != nil {
			st.ps.add(at, "%q: %v", r.Addr, err)
			continue
		}
		if prev, dup := seen[r.Addr]; dup {
			st.ps.add(at, "%q: already listed at %s; an engine holds one shard's data", r.Addr, prev)
			continue
		}
		seen[r.Addr] = at
		reps = append(reps, r)
	}
	return reps
}

// parseHealth reads [cluster.health]; a missing table means all defaults.
func parseHealth(t *table, timeout time.Duration) Health {
	h := Health{
		ConsecutiveTimeouts: DefaultConsecutiveTimeouts,
		MaxInflight:         DefaultMaxInflight,
		ProbeInterval:       DefaultProbeInterval,
		ProbeMaxInterval:    DefaultProbeMaxInterval,
		ProbeJitter:         DefaultProbeJitter,
		MaxDownShare:        DefaultMaxDownShare,
		Failover:            true,
		RetryBudget:         DefaultRetryBudget,
	}
	ht, ok := t.table("health")
	if !ok {
		return h
	}
	if n, ok := ht.int("consecutive_timeouts"); ok {
		if n < 1 || n > MaxConsecutiveTimeouts {
			ht.ps.add(ht.at("consecutive_timeouts"), "%d: want 1..%d", n, MaxConsecutiveTimeouts)
		} else {
			h.ConsecutiveTimeouts = int(n)
		}
	}
	if d, ok := ht.duration("slow_latency"); ok {
		if d >= timeout {
			ht.ps.add(ht.at("slow_latency"), "%v: must be below the cluster timeout %v, or it never triggers", d, timeout)
		}
		h.SlowLatency = d
	}
	if n, ok := ht.int("max_inflight"); ok {
		if n < 1 || n > MaxMaxInflight {
			ht.ps.add(ht.at("max_inflight"), "%d: want 1..%d", n, MaxMaxInflight)
		} else {
			h.MaxInflight = int(n)
		}
	}
	if d, ok := ht.duration("probe_interval"); ok {
		h.ProbeInterval = d
	}
	if d, ok := ht.duration("probe_max_interval"); ok {
		h.ProbeMaxInterval = d
	}
	if h.ProbeMaxInterval < h.ProbeInterval {
		ht.ps.add(ht.at("probe_max_interval"), "%v: must be at least probe_interval %v", h.ProbeMaxInterval, h.ProbeInterval)
	}
	if f, ok := ht.float("probe_jitter"); ok {
		if !(f >= 0 && f <= 1) {
			ht.ps.add(ht.at("probe_jitter"), "%v: want 0..1 (a fraction of the probe delay)", f)
		} else {
			h.ProbeJitter = f
		}
	}
	if f, ok := ht.float("max_down_share"); ok {
		if !(f >= 0 && f <= 1) {
			ht.ps.add(ht.at("max_down_share"), "%v: want 0..1 (0 never marks an engine down, 1 lets the whole cluster be down)", f)
		} else {
			h.MaxDownShare = f
		}
	}
	if b, ok := ht.bool("failover"); ok {
		h.Failover = b
	}
	if f, ok := ht.float("retry_budget"); ok {
		if !(f >= 0 && f <= 1) {
			ht.ps.add(ht.at("retry_budget"), "%v: want 0..1 (retries per second, as a share of the cluster's requests in the second before)", f)
		} else {
			h.RetryBudget = f
		}
	}
	ht.unknownKeys()
	return h
}

// parseRules reads the [[cluster.function]] tables.
func parseRules(t *table, c *Cluster) []FunctionRule {
	list, _ := t.tables("function")
	var rules []FunctionRule
	seen := map[string]string{}
	for _, ft := range list {
		var r FunctionRule
		if s, ok := ft.string("name"); ok {
			r.Name = s
			if err := checkFunctionName(s); err != nil {
				ft.ps.add(ft.at("name"), "%v: want an exact TL function name such as \"memcache.get\" (no wildcards)", err)
			} else if prev, dup := seen[s]; dup {
				ft.ps.add(ft.at("name"), "%q: already has a rule at %s", s, prev)
			} else {
				seen[s] = ft.path
				if onlyByFunction(c) && !FunctionsMatch(c.Functions, s) {
					ft.ps.add(ft.at("name"), "%q: not routed to this cluster (functions = %s)", s, strings.Join(c.Functions, ", "))
				}
			}
		} else if !ft.has("name") {
			ft.ps.add(ft.at("name"), "missing: want the TL function name")
		}
		if s, ok := ft.string("key"); ok {
			r.Key = s
			if !isArgName(s) {
				ft.ps.add(ft.at("key"), "%q: want an argument name of the function (letters, digits, '_')", s)
			}
		}
		parseFanout(ft, &r)
		if b, ok := ft.bool("coalesce"); ok {
			r.Coalesce = b
			if b && (r.Merge != "" || r.Align == AlignDictionary) {
				ft.ps.add(ft.at("coalesce"), "only a positional split (align = %q) joins sub-requests: a merge or a dictionary answer cannot be cut back per request", AlignPositional)
			}
		}
		if b, ok := ft.bool("retry"); ok {
			r.Retry = b
			if b && !c.Health.Failover {
				ft.ps.add(ft.at("retry"), "a retry goes to another replica of the shard, which [cluster.health] failover = false forbids; set failover = true or drop retry")
			}
		}
		parseRateLimit(ft, &r)
		ft.unknownKeys()
		rules = append(rules, r)
	}
	return rules
}

// parseShadow reads [cluster.shadow]; the cluster it names is checked
// against the others in checkClusters.
func parseShadow(t *table) *Shadow {
	st, ok := t.table("shadow")
	if !ok {
		return nil
	}
	sh := &Shadow{Share: 1}
	if s, ok := st.string("cluster"); ok {
		sh.Cluster = s
	} else if !st.has("cluster") {
		st.ps.add(st.at("cluster"), "missing: want the name of the cluster the copies go to")
	}
	if f, ok := st.float("share"); ok {
		if !(f > 0 && f <= 1) {
			st.ps.add(st.at("share"), "%g: want a share of the keys, 0 < share <= 1", f)
		} else {
			sh.Share = f
		}
	}
	if list, ok := st.strings("functions"); ok {
		for i, p := range list {
			if err := checkPattern(p); err != nil {
				st.ps.add(indexPath(st.at("functions"), i), "%q: %v", p, err)
			}
		}
		sh.Functions = list
	}
	st.unknownKeys()
	return sh
}

// parseRateLimit reads a [[cluster.function]] table's rate_limit and
// burst.
func parseRateLimit(ft *table, r *FunctionRule) {
	if n, ok := ft.int("rate_limit"); ok {
		if n < 1 || n > MaxRateLimit {
			ft.ps.add(ft.at("rate_limit"), "%d: want 1..%d requests a second (leave it out for no limit)", n, MaxRateLimit)
		} else {
			r.RateLimit = int(n)
			r.Burst = max(1, r.RateLimit/10)
		}
	}
	if n, ok := ft.int("burst"); ok {
		switch {
		case !ft.has("rate_limit"):
			ft.ps.add(ft.at("burst"), "%d: a burst belongs to a rate_limit; set rate_limit too", n)
		case n < 1 || n > MaxBurst:
			ft.ps.add(ft.at("burst"), "%d: want 1..%d requests at once", n, MaxBurst)
		case r.RateLimit > 0:
			r.Burst = int(n)
		}
	}
}

// parseFanout reads a [[cluster.function]] table's split and merge keys
// and checks them against each other (the schema checks, such as whether
// key is a vector or sort_field a field of the result's elements, are made
// when the proxy builds its table).
func parseFanout(ft *table, r *FunctionRule) {
	r.OnError = OnErrorFail
	if s, ok := ft.string("align"); ok {
		if s != AlignPositional && s != AlignDictionary {
			ft.ps.add(ft.at("align"), "%q: want %q (element i of the answer is key i's) or %q (the answer is a dictionary keyed by key)", s, AlignPositional, AlignDictionary)
		}
		r.Align = s
	}
	if s, ok := ft.string("merge"); ok {
		if !slices.Contains(Merges(), s) {
			ft.ps.add(ft.at("merge"), "%q: unknown merge strategy; allowed: %s", s, strings.Join(Merges(), ", "))
		}
		r.Merge = s
		if r.Align != "" {
			ft.ps.add(ft.at("merge"), "a function is either split by key (align) or merged from every shard (merge), not both")
		}
		if r.Key != "" {
			ft.ps.add(ft.at("key"), "a merged function goes to every shard: it has no key argument")
		}
	}
	if s, ok := ft.string("on_error"); ok {
		if s != OnErrorFail && s != OnErrorPartial {
			ft.ps.add(ft.at("on_error"), "%q: want %q (any failed shard fails the request) or %q (answer from the shards that answered)", s, OnErrorFail, OnErrorPartial)
		}
		r.OnError = s
	}
	if s, ok := ft.string("missing"); ok {
		if err := checkFunctionName(s); err != nil {
			ft.ps.add(ft.at("missing"), "%v: want a constructor name such as \"memcache.not_found\"", err)
		}
		if r.Merge != "" || r.Align == AlignDictionary {
			ft.ps.add(ft.at("missing"), "only a positional split (align = %q) answers missing keys with a constructor", AlignPositional)
		} else if r.OnError != OnErrorPartial {
			ft.ps.add(ft.at("missing"), "only used with on_error = %q: with %q a failed shard fails the request", OnErrorPartial, OnErrorFail)
		}
		r.Missing = s
	}
	sortedOnly := func(key string) {
		if r.Merge != MergeSorted {
			ft.ps.add(ft.at(key), "only with merge = %q", MergeSorted)
		}
	}
	if s, ok := ft.string("sort_field"); ok {
		sortedOnly("sort_field")
		if !isArgName(s) {
			ft.ps.add(ft.at("sort_field"), "%q: want a field name of the result's elements", s)
		}
		r.SortField = s
	} else if r.Merge == MergeSorted && !ft.has("sort_field") {
		ft.ps.add(ft.at("sort_field"), "missing: merge = %q needs the elements' field to order by", MergeSorted)
	}
	if b, ok := ft.bool("descending"); ok {
		sortedOnly("descending")
		r.Descending = b
	}
	if s, ok := ft.string("limit_arg"); ok {
		sortedOnly("limit_arg")
		if !isArgName(s) {
			ft.ps.add(ft.at("limit_arg"), "%q: want an int argument name of the function", s)
		}
		r.LimitArg = s
	}
	if r.Merge == MergeSorted {
		r.DefaultLimit = DefaultMergeLimit
	}
	if n, ok := ft.int("default_limit"); ok {
		sortedOnly("default_limit")
		if n < 1 || n > MaxMergeLimit {
			ft.ps.add(ft.at("default_limit"), "%d: want 1..%d", n, MaxMergeLimit)
		} else if r.LimitArg == "" {
			ft.ps.add(ft.at("default_limit"), "only with limit_arg: it is the limit when that argument is <= 0")
		}
		r.DefaultLimit = int(n)
	}
}

// onlyByFunction reports whether function names are the only way requests
// reach c; otherwise any function may arrive through its port or actor id.
func onlyByFunction(c *Cluster) bool {
	return c.ActorID == 0 && !c.Listen.IsValid() && len(c.Functions) > 0
}

func isArgName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// checkClusters reports what is wrong between clusters: duplicate names,
// actor ids and ports, and function patterns that would route one function
// to two clusters. tables[i] is the table clusters[i] came from.
func checkClusters(cfg *Config, tables []*table, ps *problems) {
	names := map[string]string{}
	actors := map[int64]string{}
	type listener struct {
		addr netip.AddrPort
		what string
	}
	listeners := []listener{{cfg.Proxy.Listen, "proxy.listen"}, {cfg.Proxy.Admin, "proxy.admin"}}
	for i := range cfg.Clusters {
		c, t := &cfg.Clusters[i], tables[i]
		if c.Name != "" {
			if prev, dup := names[c.Name]; dup {
				ps.add(t.at("name"), "%q: already the name of %s", c.Name, prev)
			} else {
				names[c.Name] = t.path
			}
		}
		if c.ActorID != 0 {
			if prev, dup := actors[c.ActorID]; dup {
				ps.add(t.at("actor_id"), "%d: already the actor_id of %s", c.ActorID, prev)
			} else {
				actors[c.ActorID] = t.path
			}
		}
		if c.Listen.IsValid() {
			for _, l := range listeners {
				if l.addr.IsValid() && listenOverlap(c.Listen, l.addr) {
					ps.add(t.at("listen"), "%s: overlaps %s = %s; each listener needs its own port", c.Listen, l.what, l.addr)
					break
				}
			}
			listeners = append(listeners, listener{c.Listen, t.at("listen")})
		}
	}
	for i := range cfg.Clusters {
		c := &cfg.Clusters[i]
		if c.Shadow == nil || c.Shadow.Cluster == "" {
			continue
		}
		at := tables[i].at("shadow") + ".cluster"
		switch _, ok := names[c.Shadow.Cluster]; {
		case c.Shadow.Cluster == c.Name:
			ps.add(at, "%q: this cluster itself; name another cluster of the file", c.Shadow.Cluster)
		case !ok:
			ps.add(at, "%q: no such cluster; want one of %s", c.Shadow.Cluster, clusterNames(cfg))
		}
	}
	// An engine address is one upstream engine (one connection, one
	// health), so every cluster listing it must reach it the same way.
	transports := map[string]int{}
	for i := range cfg.Clusters {
		c := &cfg.Clusters[i]
		for _, sh := range c.Shards {
			for _, r := range sh.Replicas {
				j, seen := transports[r.Addr]
				switch {
				case !seen:
					transports[r.Addr] = i
				case cfg.Clusters[j].Transport != c.Transport:
					ps.add(tables[i].at("transport"), "%q: engine %s is reached over %s by cluster %q; an engine has one transport",
						c.Transport, r.Addr, cfg.Clusters[j].Transport, cfg.Clusters[j].Name)
				}
			}
		}
	}
	for j := range cfg.Clusters {
		for k, pk := range cfg.Clusters[j].Functions {
			for i := 0; i < j; i++ {
				for _, pi := range cfg.Clusters[i].Functions {
					if patternsOverlap(pi, pk) {
						ps.add(indexPath(tables[j].at("functions"), sourceIndex(tables[j], "functions", pk, k)),
							"%q overlaps %q of cluster %q (%s): a function must route to exactly one cluster",
							pk, pi, cfg.Clusters[i].Name, tables[i].path)
					}
				}
			}
		}
	}
}

// sourceIndex returns the index of the first string s in t's array key, so
// that a problem found on a filtered slice (bad entries dropped) points at
// the right element; fallback is used if s is not found.
func sourceIndex(t *table, key, s string, fallback int) int {
	arr, _ := t.m[key].([]any)
	for i, v := range arr {
		if v == s {
			return i
		}
	}
	return fallback
}

func joinNames[T ~string](xs []T) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = string(x)
	}
	return strings.Join(parts, ", ")
}

// clusterNames lists the clusters' names for a message.
func clusterNames(cfg *Config) string {
	var names []string
	for i := range cfg.Clusters {
		names = append(names, fmt.Sprintf("%q", cfg.Clusters[i].Name))
	}
	return strings.Join(names, ", ")
}

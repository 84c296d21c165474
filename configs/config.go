package configs

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/rpcproxy/rpcproxy/sharding"
)

// Config is a loaded, defaulted and validated config file. Every field holds
// its final value: the proxy never applies defaults of its own.
type Config struct {
	File     string   // the file name as given to Load or Parse
	SHA256   [32]byte // of the text Parse read: which version of the file this is
	Proxy    Proxy
	Clusters []Cluster // in file order
}

// Proxy is the [proxy] table: what the proxy itself listens on and its limits.
type Proxy struct {
	Listen  netip.AddrPort // TCP, and UDP when UDP is set; default 127.0.0.1:9300
	Admin   netip.AddrPort // admin HTTP; default 127.0.0.1:9301
	Timeout time.Duration  // default request timeout; default 1s
	// Schemas are TL schema files, made absolute against the config file's
	// directory. Their existence is checked when the proxy loads them.
	Schemas []string
	// MaxConnections caps client connections; more are refused at accept.
	MaxConnections int
	// MaxRequestBytes and MaxResponseBytes cap the bytes of requests and of
	// responses held in memory at once, over all connections.
	MaxRequestBytes  int64
	MaxResponseBytes int64
	// MaxRequestSize caps one request body; at most MaxPacketBody.
	MaxRequestSize int
	LogLevel       slog.Level
	// DrainTimeout is how long shutdown waits for requests in flight
	// ([proxy.shutdown] drain_timeout).
	DrainTimeout time.Duration
	// KeyFile is the crypto key's file (key_file), made absolute against
	// the config file's directory; "" when not set. It is read by the
	// proxy at start (ReadKey), not here.
	KeyFile string
	// UDP: listen for VK's UDP transport on Listen and every cluster's
	// listen, besides TCP. Default true when KeyFile is set; it needs it.
	UDP bool
	// UDPIdleAfter: an app's UDP peer that has sent nothing for this long,
	// with nothing in flight, is parked: its connection, goroutine and
	// max_connections slot are released, and a record of about 100 bytes
	// lets its next datagram resume it unnoticed (VK's UDP transport has
	// no close). A peer that has acked nothing for this long while the
	// proxy resends to it is gone, and forgotten. 0 is off ("off" in the
	// file): peers are kept, silent ones for VK's five minutes. Takes
	// effect at start. Default DefaultUDPIdleAfter.
	UDPIdleAfter time.Duration
	// SlowRequest: a request answered or failed this long after it
	// arrived is a slow request (logged, kept for /slow, counted); 0 is
	// off ("off" in the file). Default DefaultSlowRequest.
	SlowRequest time.Duration
	// TimeoutMargin: a request that carries the app's own timeout
	// (custom_timeout_ms) is given up this much before the app's deadline,
	// at most a tenth of that timeout, so the proxy's QUERY_TIMEOUT (naming
	// the engine) reaches the app before the app's own timer fires (VK's
	// clients set custom_timeout_ms to their local deadline); engines get
	// the shortened time. Requests on a cluster's timeout keep all of it.
	// 0 is off ("off" in the file). Default DefaultTimeoutMargin.
	TimeoutMargin time.Duration
	// Pprof serves Go's profiles (net/http/pprof) under /debug/pprof/ on
	// the admin listener: CPU profiles for `go tool pprof` (and for a
	// profile-guided build, go build -pgo), heap, goroutines, execution
	// traces. Takes effect at start. Default false.
	Pprof bool
}

// Cluster is one [[cluster]] table.
type Cluster struct {
	Name    string
	ActorID int64          // 0 when not set
	Listen  netip.AddrPort // the cluster's own port; !IsValid() when not set
	// Functions are the patterns of TL function names routed here; see
	// FunctionMatches for their syntax.
	Functions  []string
	Sharding   sharding.Mode
	Hash       sharding.KeyHash // "" for firstint, otherwise the mode's default when not set
	Load       float64          // bounded only; 0 otherwise
	Partitions int              // bounded only; 0 otherwise
	HashTag    string           // two characters around the placed part of a key ("{}"); "" for none
	Balance    sharding.Policy
	Timeout    time.Duration // defaults to Proxy.Timeout
	Transport  string        // "tcp" or "udp" (needs Proxy.KeyFile)
	Health     Health
	Shards     []Shard        // in file order; index i is shard i
	Rules      []FunctionRule // [[cluster.function]], in file order
	Shadow     *Shadow        // [cluster.shadow]; nil when not set
}

// Shadow is a [cluster.shadow] table: a share of the cluster's requests
// is also sent, as a copy whose answer is dropped, to another cluster of
// the file (a new engine version, a migration target), placed there by
// the same key. The app's answer always comes from this cluster.
type Shadow struct {
	// Cluster names the cluster the copies go to; not this one.
	Cluster string
	// Share of the keys whose requests are copied, 0 < Share <= 1: a key
	// is in or out by its hash, so the shadow cluster sees every request
	// of the keys in its share (warm caches, realistic hit rates).
	Share float64
	// Functions are patterns (FunctionMatches) of the functions copied;
	// empty: every function. Fan-outs (splits, merges, diagonals) are
	// never copied.
	Functions []string
}

// Shard is one entry of a cluster's shards array.
type Shard struct {
	Name     string    // ketama/bounded point name; default sharding.DefaultShardName(Replicas[0].Addr)
	Weight   int       // ketama only; default 1
	Replicas []Replica // the engines holding this shard's data
}

// Replica is one engine of a shard, written either as "host:port" or as
// { addr = "host:port", weight = 2 }.
type Replica struct {
	Addr   string // host:port; the host may be a name, resolved when dialled
	Weight int    // balance weight (weighted, least_outstanding only); default 1
}

// Weights returns the replicas' balance weights for sharding.NewBalancer.
func (s *Shard) Weights() []int {
	w := make([]int, len(s.Replicas))
	for i, r := range s.Replicas {
		w[i] = r.Weight
	}
	return w
}

// Addrs returns the replicas' addresses.
func (s *Shard) Addrs() []string {
	a := make([]string, len(s.Replicas))
	for i, r := range s.Replicas {
		a[i] = r.Addr
	}
	return a
}

// Health is the [cluster.health] table: when an engine is taken out of
// service (fail fast) and how it comes back.
type Health struct {
	// ConsecutiveTimeouts marks an engine down after that many timeouts in a row.
	ConsecutiveTimeouts int
	// SlowLatency counts an answer slower than this as a timeout; 0 is off.
	SlowLatency time.Duration
	// MaxInflight caps requests outstanding to one engine; more are refused
	// at once instead of queueing.
	MaxInflight int
	// ProbeInterval is the first delay before probing a down engine; each
	// failed probe doubles it up to ProbeMaxInterval, plus up to
	// ProbeJitter times the delay at random.
	ProbeInterval    time.Duration
	ProbeMaxInterval time.Duration
	ProbeJitter      float64
	// MaxDownShare caps the share of a cluster's engines marked down; beyond
	// it the proxy fails open and sends to them anyway, so a monitoring
	// glitch cannot black-hole a whole cluster.
	MaxDownShare float64
	// Failover lets a request whose replica is down go to another replica
	// of the same shard. Keys never move to another shard.
	Failover bool
	// RetryBudget caps the retries of functions marked retry (see
	// FunctionRule.Retry): per second, at most this share of the cluster's
	// requests of the second before, plus RetryFloor.
	RetryBudget float64
}

// FunctionRule is one [[cluster.function]] table: how the proxy treats one
// TL function of the cluster. New per-function settings go here.
type FunctionRule struct {
	Name string // exact TL function name
	// Key is the argument holding the routing key, used instead of the
	// first int/long/string argument. A vector argument (keys:%(Vector
	// string)) makes the function a split: one sub-request per shard with
	// that shard's keys.
	Key string
	// Align says how a split's answer lines up with its keys:
	// AlignPositional (element i answers key i; the default) or
	// AlignDictionary (a dictionary keyed by key: entries are concatenated).
	Align string
	// Merge makes the function a scatter: sent to every shard, the answers
	// merged by this strategy (MergeConcat ... MergeFirst). "" is no merge.
	Merge string
	// SortField, Descending, LimitArg and DefaultLimit apply to MergeSorted:
	// elements are ordered by the result element's field SortField, at most
	// the value of argument LimitArg of them are kept (DefaultLimit when
	// that value is <= 0; no limit when LimitArg is "").
	SortField    string
	Descending   bool
	LimitArg     string
	DefaultLimit int
	// OnError is the partial-failure policy of a split or a scatter:
	// OnErrorFail (the first failed shard's error, by shard order) or
	// OnErrorPartial (answer from the shards that answered; the count of
	// failed shards goes in the result extra's failed_subqueries).
	OnError string
	// Missing is the constructor answered, in a positional split with
	// on_error = "partial", for the keys of shards that failed
	// ("memcache.not_found"). It must be a constructor of the result's
	// element type without fields. Required in that case: the proxy never
	// invents a value.
	Missing string
	// Retry marks the function idempotent: when the connection to its
	// engine is lost before the answer, the request (or a fan-out's
	// sub-request) is sent once more, to another replica of the same
	// shard, within the request's deadline and the cluster's
	// Health.RetryBudget. Needs Health.Failover.
	Retry bool
	// Coalesce joins the sub-requests of a positional split that go to
	// the same engine at the same moment (from several apps' requests,
	// with the same envelope and other arguments) into one engine call,
	// and cuts its answer back into theirs: fewer, larger calls for the
	// engine. A cancel no longer reaches a joined sub-request.
	Coalesce bool
	// RateLimit caps the function's requests through this proxy at
	// RateLimit a second on average, with Burst at once after a quiet
	// spell; the rest are answered at once with FLOOD_CONTROL and never
	// reach an engine. 0 is no limit. Burst defaults to RateLimit/10 (a
	// tenth of a second's worth), at least 1.
	RateLimit int
	Burst     int
}

// Bounds of FunctionRule.RateLimit and Burst.
const (
	MaxRateLimit = 10_000_000
	MaxBurst     = 10_000_000
)

// Fan-out settings of a FunctionRule.
const (
	AlignPositional = "positional"
	AlignDictionary = "dictionary"

	MergeConcat = "concat"
	MergeSum    = "sum"
	MergeMin    = "min"
	MergeMax    = "max"
	MergeAnd    = "and"
	MergeOr     = "or"
	MergeSorted = "sorted"
	MergeFirst  = "first"

	OnErrorFail    = "fail"
	OnErrorPartial = "partial"

	// DefaultMergeLimit is a sorted merge's limit when the request's limit
	// argument is <= 0 (the events engine's rule); MaxMergeLimit bounds
	// default_limit.
	DefaultMergeLimit = 100
	MaxMergeLimit     = 1_000_000
)

// Merges lists the merge strategies.
func Merges() []string {
	return []string{MergeConcat, MergeSum, MergeMin, MergeMax, MergeAnd, MergeOr, MergeSorted, MergeFirst}
}

// String renders the rule for `rpcproxy check`.
func (r FunctionRule) String() string {
	var parts []string
	key := r.Key
	if key == "" {
		key = "(first int/long/string argument, else the first vector)"
	}
	switch {
	case r.Merge != "":
		parts = append(parts, "scatter to every shard, merge = "+r.Merge)
		if r.Merge == MergeSorted {
			dir := "ascending"
			if r.Descending {
				dir = "descending"
			}
			lim := "no limit"
			if r.LimitArg != "" {
				lim = fmt.Sprintf("limit = argument %s (<= 0: %d)", r.LimitArg, r.DefaultLimit)
			}
			parts = append(parts, "by "+r.SortField+" "+dir, lim)
		}
	default:
		parts = append(parts, "key = "+key)
		if r.Align != "" {
			parts = append(parts, "split by shard, align = "+r.Align)
		}
		if r.Missing != "" {
			parts = append(parts, "missing = "+r.Missing)
		}
	}
	if r.Merge != "" || r.Align != "" {
		parts = append(parts, "on_error = "+r.OnError)
	}
	if r.Coalesce {
		parts = append(parts, "coalesce concurrent sub-requests per engine")
	}
	if r.Retry {
		parts = append(parts, "retry on another replica when the connection is lost")
	}
	if r.RateLimit > 0 {
		parts = append(parts, fmt.Sprintf("at most %d a second, %d at once", r.RateLimit, r.Burst))
	}
	return strings.Join(parts, ", ")
}

// Spec returns the placement spec of c for sharding.NewPicker.
func (c *Cluster) Spec() sharding.Spec {
	shards := make([]sharding.Shard, len(c.Shards))
	for i, s := range c.Shards {
		shards[i] = sharding.Shard{Name: s.Name, Weight: s.Weight}
	}
	return sharding.Spec{Mode: c.Sharding, Hash: c.Hash, Shards: shards, Load: c.Load, Partitions: c.Partitions, HashTag: c.HashTag}
}

// Rule returns the rule for TL function name, if the cluster has one.
func (c *Cluster) Rule(name string) (FunctionRule, bool) {
	for _, r := range c.Rules {
		if r.Name == name {
			return r, true
		}
	}
	return FunctionRule{}, false
}

// Cluster returns the cluster called name.
func (c *Config) Cluster(name string) (*Cluster, bool) {
	for i := range c.Clusters {
		if c.Clusters[i].Name == name {
			return &c.Clusters[i], true
		}
	}
	return nil, false
}

// ClusterForFunction returns the cluster whose functions patterns match the
// TL function name. Validation rejects overlapping patterns, so there is at
// most one.
func (c *Config) ClusterForFunction(name string) (*Cluster, bool) {
	for i := range c.Clusters {
		for _, p := range c.Clusters[i].Functions {
			if FunctionMatches(p, name) {
				return &c.Clusters[i], true
			}
		}
	}
	return nil, false
}

// Load reads and validates the config file at path; relative schema paths
// resolve against the file's directory. A file that is read but invalid
// gives an *Error listing every problem.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("configs: %w", err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("configs: %w", err)
	}
	return Parse(path, data, abs)
}

// Parse decodes, defaults and validates config text. name is used in error
// messages only; baseDir is where relative schema paths point.
func Parse(name string, data []byte, baseDir string) (*Config, error) {
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{Problems: []Problem{{
				File: name, Line: pe.Position.Line, Col: pe.Position.Col,
				Msg: "TOML syntax: " + pe.Message,
			}}}
		}
		return nil, fmt.Errorf("configs: %s: %w", name, err)
	}
	ps := &problems{}
	cfg := decode(newTable("", raw, ps), baseDir)
	cfg.File = name
	cfg.SHA256 = sha256.Sum256(data)
	if err := ps.result(name, locate(string(data))); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decode reads the top-level table; every section reports into the same
// problems list so one run shows every mistake.
func decode(root *table, baseDir string) *Config {
	cfg := &Config{}
	proxyTable, ok := root.table("proxy")
	if !ok {
		proxyTable = newTable("proxy", map[string]any{}, root.ps)
	}
	cfg.Proxy = parseProxy(proxyTable, baseDir)
	clusters, ok := root.tables("cluster")
	if len(clusters) == 0 && (ok || !root.has("cluster")) {
		root.ps.add("cluster", "no clusters: add at least one [[cluster]] table")
	}
	for _, t := range clusters {
		cfg.Clusters = append(cfg.Clusters, parseCluster(t, cfg.Proxy))
	}
	checkClusters(cfg, clusters, root.ps)
	root.unknownKeys()
	return cfg
}

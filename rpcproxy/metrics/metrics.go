package metrics

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// bucketBounds are the latency histogram's upper bounds, in nanoseconds.
// A function, not a variable, so there is no package-level mutable state.
func bucketBounds() [14]int64 {
	us := int64(time.Microsecond)
	ms := int64(time.Millisecond)
	return [14]int64{100 * us, 250 * us, 500 * us, ms, 2500 * us, 5 * ms, 10 * ms, 25 * ms, 50 * ms, 100 * ms, 250 * ms, 500 * ms, 1000 * ms, 2500 * ms}
}

// Cluster is one cluster's counters.
type Cluster struct {
	Name     string
	Requests atomic.Uint64 // requests routed to the cluster
	Answers  atomic.Uint64 // answered by an engine (error answers included)
	Errors   atomic.Uint64 // answered with an error, by an engine or by the proxy
	Timeouts atomic.Uint64 // no answer before the deadline
	Refused  atomic.Uint64 // failed fast: engine down, busy or not connected
	NoTarget atomic.Uint64 // no key or shard for the request

	// Fan-out (requests sent to several shards; each also counts once
	// above, as one request).
	Fanouts   atomic.Uint64 // requests fanned out to several shards
	SubSent   atomic.Uint64 // sub-requests written to an engine
	SubFailed atomic.Uint64 // sub-requests refused at once, answered with an error or not answered (timeout, connection lost); not cancelled ones
	Partial   atomic.Uint64 // answers built although at least one shard failed (on_error = "partial", diagonal)
	Coalesced atomic.Uint64 // sub-requests sent joined with others in one engine call (coalesce = true)

	// Retries (functions marked retry): requests and sub-requests sent
	// again to another replica after their connection was lost, and
	// retries the cluster's retry budget refused.
	Retries       atomic.Uint64
	RetriesDenied atomic.Uint64

	// Slow: requests answered or failed proxy.slow_request or more after
	// they arrived.
	Slow atomic.Uint64
	// RateLimited: requests refused at once (FLOOD_CONTROL) because their
	// function was over its rate_limit.
	RateLimited atomic.Uint64
	// Shadow copies ([cluster.shadow]): sent to the shadow cluster, and
	// failed (refused at once, error answers, no answer).
	ShadowSent   atomic.Uint64
	ShadowFailed atomic.Uint64

	Latency
}

func newCluster(name string) *Cluster {
	return &Cluster{Name: name, Latency: Latency{bounds: bucketBounds()}}
}

// Function is one function's counters in one cluster.
type Function struct {
	Cluster, Name string
	Requests      atomic.Uint64 // requests of the function routed to the cluster
	Errors        atomic.Uint64 // answered with an error, by an engine or by the proxy
	Timeouts      atomic.Uint64 // no answer before the deadline
	Latency                     // of the answered ones
}

// Latency is a latency histogram: fixed buckets of atomic counts.
type Latency struct {
	bounds [14]int64
	counts [15]atomic.Uint64 // last: +Inf
	sumNs  atomic.Int64
}

// Observe adds one answered request's latency.
func (c *Latency) Observe(d time.Duration) {
	ns := int64(d)
	i := 0
	for i < len(c.bounds) && ns > c.bounds[i] {
		i++
	}
	c.counts[i].Add(1)
	c.sumNs.Add(ns)
}

// Bucket is one cumulative histogram bucket.
type Bucket struct {
	Le    time.Duration // upper bound; 0 for +Inf
	Count uint64        // observations <= Le
}

// Histogram returns the cumulative buckets, the count and the sum.
func (c *Latency) Histogram() (buckets []Bucket, count uint64, sum time.Duration) {
	for i := range c.counts {
		count += c.counts[i].Load()
		le := time.Duration(0)
		if i < len(c.bounds) {
			le = time.Duration(c.bounds[i])
		}
		buckets = append(buckets, Bucket{Le: le, Count: count})
	}
	return buckets, count, time.Duration(c.sumNs.Load())
}

// Quantile estimates the q-quantile (0..1) as the upper bound of the bucket
// holding it; 0 when nothing was observed, and the largest finite bound for
// observations above it.
func (c *Latency) Quantile(q float64) time.Duration {
	buckets, n, _ := c.Histogram()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	for _, b := range buckets {
		if b.Count >= rank {
			if b.Le == 0 {
				return time.Duration(c.bounds[len(c.bounds)-1])
			}
			return b.Le
		}
	}
	return time.Duration(c.bounds[len(c.bounds)-1])
}

// Registry keeps one Cluster per name, and one Function per cluster and
// function name, for the life of the proxy.
type Registry struct {
	mu        sync.Mutex
	clusters  map[string]*Cluster
	functions map[[2]string]*Function
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{clusters: map[string]*Cluster{}, functions: map[[2]string]*Function{}}
}

// Function returns the counters of function name in cluster, creating
// them.
func (r *Registry) Function(cluster, name string) *Function {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := [2]string{cluster, name}
	f, ok := r.functions[k]
	if !ok {
		f = &Function{Cluster: cluster, Name: name, Latency: Latency{bounds: bucketBounds()}}
		r.functions[k] = f
	}
	return f
}

// Functions returns the counters of every function that had a request, by
// cluster and name.
func (r *Registry) Functions() []*Function {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Function
	for _, f := range r.functions {
		if f.Requests.Load() > 0 {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cluster != out[j].Cluster {
			return out[i].Cluster < out[j].Cluster
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Cluster returns the counters of the named cluster, creating them.
func (r *Registry) Cluster(name string) *Cluster {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.clusters[name]
	if !ok {
		c = newCluster(name)
		r.clusters[name] = c
	}
	return c
}

// Clusters returns every cluster's counters, by name.
func (r *Registry) Clusters() []*Cluster {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Cluster, 0, len(r.clusters))
	for _, c := range r.clusters {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

package route

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/rpcproxy/health"
	"github.com/rpcproxy/rpcproxy/rpcproxy/metrics"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// Function is one function of a cluster as the request path needs it:
// its counters and what its [[cluster.function]] rule and the cluster's
// shadow say about it. A request finds it once (Cluster.Function), instead
// of one lookup by tag per setting.
type Function struct {
	Stats *metrics.Function
	// Retry: the function is marked retry (idempotent).
	Retry bool
	// Shadowed: the cluster's shadow copies the function (when it has a
	// shadow; see ShadowShard).
	Shadowed bool
	limit    *rateLimit // nil: no rate_limit
}

// Limit is the error that refuses a request of fn at now when fn is over
// its rate_limit, or nil when it may go (and is counted).
func (fn *Function) Limit(now time.Time) *rpc.Error {
	if fn.limit != nil && !fn.limit.Allow(now) {
		return fn.limit.err
	}
	return nil
}

// functions is a Cluster's per-function state: the rules' settings by
// tag, fixed when the table is built (and the limits handed over by
// Start), and the Functions made from them on first use.
type functions struct {
	reg    *metrics.Registry
	sch    *schema.Schema
	retry  map[uint32]bool       // function tags marked retry
	limits map[uint32]*rateLimit // function tags with a rate_limit
	// made is copy-on-write, so the request path reads it without a lock,
	// and a function costs memory only once it is used (a cluster reached
	// by actor id or port may get any function of the schemas).
	made   atomic.Pointer[map[uint32]*Function]
	makeMu sync.Mutex
}

// addRule records rule r of function tag.
func (fs *functions) addRule(tag uint32, cluster string, r configs.FunctionRule) {
	if r.Retry {
		if fs.retry == nil {
			fs.retry = map[uint32]bool{}
		}
		fs.retry[tag] = true
	}
	if r.RateLimit > 0 {
		if fs.limits == nil {
			fs.limits = map[uint32]*rateLimit{}
		}
		fs.limits[tag] = newRateLimit(cluster, r)
	}
}

// Function returns req's function in c (a diagonal's: its inner
// function's), or nil for a function the schemas do not have. It is made
// on the first request of the function after the table started (Start).
func (c *Cluster) Function(req *rpc.InvokeReq) *Function {
	tag, ok := lookupTag(req)
	if !ok || c.sch == nil {
		return nil
	}
	if m := c.made.Load(); m != nil {
		if fn, ok := (*m)[tag]; ok {
			return fn
		}
	}
	sf := c.sch.ByTag(tag)
	if sf == nil || !sf.Function {
		return nil // not kept: garbage tags must not grow the map
	}
	c.makeMu.Lock()
	defer c.makeMu.Unlock()
	old := c.made.Load()
	if old != nil {
		if fn, ok := (*old)[tag]; ok {
			return fn
		}
	}
	fn := &Function{
		Stats:    c.reg.Function(c.Name, sf.Name),
		Retry:    c.retry[tag],
		Shadowed: c.Shadow != nil && c.Shadow.copies(sf.Name),
		limit:    c.limits[tag],
	}
	m := make(map[uint32]*Function, 1)
	if old != nil {
		maps.Copy(m, *old)
	}
	m[tag] = fn
	c.made.Store(&m)
	return fn
}

// rateLimit is one function's rate_limit in a cluster, with the error
// its refused requests get (built once: refusing allocates nothing).
type rateLimit struct {
	*health.RateLimit
	rate, burst int
	err         *rpc.Error
}

func newRateLimit(cluster string, r configs.FunctionRule) *rateLimit {
	return &rateLimit{
		RateLimit: health.NewRateLimit(r.RateLimit, r.Burst),
		rate:      r.RateLimit,
		burst:     r.Burst,
		err: &rpc.Error{Code: rpc.CodeFloodControl, Description: fmt.Sprintf(
			"rpcproxy: %s is over its rate limit in cluster %s (rate_limit = %d a second, burst %d)", r.Name, cluster, r.RateLimit, r.Burst)},
	}
}

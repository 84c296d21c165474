package sharding

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"
)

// Policy names how a Balancer chooses among one shard's replicas.
type Policy string

// The replica balancing policies.
const (
	// RoundRobin takes the replicas in turn. It has no weights.
	RoundRobin Policy = "round_robin"
	// Weighted picks at random with probability proportional to weight.
	Weighted Policy = "weighted"
	// LeastOutstanding samples two replicas and takes the one with fewer
	// requests in flight per unit of weight (power of two choices).
	LeastOutstanding Policy = "least_outstanding"
	// LeastLatency samples two replicas and takes the one with the lower
	// latency EWMA, in-flight requests breaking near-ties. It has no weights.
	LeastLatency Policy = "least_latency"
)

// Policies returns every policy, in documentation order, in a new slice.
func Policies() []Policy {
	return []Policy{RoundRobin, Weighted, LeastOutstanding, LeastLatency}
}

// Defaults and limits of a Balancer.
const (
	// MaxReplicas bounds the replicas of one shard.
	MaxReplicas = 4096
	// DefaultHalfLife is BalancerOptions.HalfLife when 0.
	DefaultHalfLife = 8
	// DefaultProbeOneIn is BalancerOptions.ProbeOneIn when 0.
	DefaultProbeOneIn = 64
	// DefaultFailureLatency is BalancerOptions.FailureLatency when 0.
	DefaultFailureLatency = time.Second
	// latencyTieShift makes least_latency treat EWMAs within 1/8 (12.5%) of
	// each other as equal: a difference that small is noise, and letting
	// in-flight decide spreads load instead of piling it on the luckier
	// replica.
	latencyTieShift = 3
)

// BalancerOptions tunes a Balancer. The zero value gives the defaults.
type BalancerOptions struct {
	// Rand returns uniformly distributed 64-bit values; it must be safe for
	// concurrent use if the Balancer is. nil means math/rand/v2's Uint64.
	// Tests inject a deterministic source.
	Rand func() uint64
	// HalfLife is, for least_latency, the number of responses after which an
	// observation weighs half as much in the latency EWMA. 0 means
	// DefaultHalfLife.
	HalfLife int
	// ProbeOneIn makes least_latency send one pick in ProbeOneIn to a random
	// replica that is up, so a replica that was slow is measured again instead
	// of being starved on a stale EWMA. 0 means DefaultProbeOneIn; negative
	// disables probing.
	ProbeOneIn int
	// FailureLatency is the least latency least_latency records for a failed
	// request, so a replica that fails fast does not look fast. 0 means
	// DefaultFailureLatency.
	FailureLatency time.Duration
}

// replica is one replica's shared state, padded to a cache line so replicas
// updated from different cores do not false-share.
type replica struct {
	down     atomic.Bool
	inflight atomic.Int64
	ewma     atomic.Uint64 // math.Float64bits of nanoseconds; 0 = not measured
	weight   uint64
	_        [32]byte
}

type policyKind uint8

const (
	kindRoundRobin policyKind = iota
	kindWeighted
	kindLeastOutstanding
	kindLeastLatency
)

// Balancer chooses one replica of one shard. It is safe for concurrent use:
// all state is atomics, Pick takes no lock and does not allocate. The caller
// reports each request with Start before sending and Finish when it ends, and
// health with SetDown; replica indexes are 0..Len()-1 in config order and an
// index out of range panics.
type Balancer struct {
	policy  Policy
	kind    policyKind
	reps    []replica
	cum     []uint64 // cumulative weights, for weighted
	total   uint64
	rand    func() uint64
	alpha   float64       // EWMA weight of a new observation
	probe   uint64        // one pick in probe explores; 0 = never
	failLat float64       // nanoseconds
	next    atomic.Uint64 // round_robin's turn counter
	downs   atomic.Int64  // replicas marked down, for round_robin's fast path
}

// NewBalancer returns a Balancer over len(weights) replicas. A weight of 0
// means 1. Weights matter to weighted (probabilities) and least_outstanding
// (in-flight per unit of weight); round_robin and least_latency reject unequal
// weights rather than ignore them. Errors wrap ErrInvalidBalancer.
func NewBalancer(policy Policy, weights []int, opts BalancerOptions) (*Balancer, error) {
	b := &Balancer{policy: policy}
	switch policy {
	case RoundRobin:
		b.kind = kindRoundRobin
	case Weighted:
		b.kind = kindWeighted
	case LeastOutstanding:
		b.kind = kindLeastOutstanding
	case LeastLatency:
		b.kind = kindLeastLatency
	default:
		return nil, balancerErr("unknown policy %q (allowed: %s)", policy, join(Policies()))
	}
	if len(weights) == 0 || len(weights) > MaxReplicas {
		return nil, balancerErr("%s: %d replicas, must be between 1 and %d", policy, len(weights), MaxReplicas)
	}
	b.reps = make([]replica, len(weights))
	b.cum = make([]uint64, len(weights))
	for i, w := range weights {
		if w < 0 || w > MaxWeight {
			return nil, balancerErr("%s: replica %d: weight %d, must be between 0 and %d", policy, i, w, MaxWeight)
		}
		if w == 0 {
			w = 1
		}
		if (b.kind == kindRoundRobin || b.kind == kindLeastLatency) && i > 0 && b.reps[0].weight != uint64(w) {
			return nil, balancerErr("%s: replica %d: weight %d differs from replica 0's %d; only %s and %s use weights",
				policy, i, w, b.reps[0].weight, Weighted, LeastOutstanding)
		}
		b.reps[i].weight = uint64(w)
		b.total += uint64(w)
		b.cum[i] = b.total
	}

	b.rand = opts.Rand
	if b.rand == nil {
		b.rand = rand.Uint64
	}
	switch h := opts.HalfLife; {
	case h < 0:
		return nil, balancerErr("%s: half-life %d, must not be negative", policy, h)
	case h == 0:
		opts.HalfLife = DefaultHalfLife
	}
	// After HalfLife observations an old one weighs (1-alpha)^HalfLife = 1/2.
	b.alpha = -math.Expm1(-math.Ln2 / float64(opts.HalfLife))
	switch p := opts.ProbeOneIn; {
	case p == 0:
		b.probe = DefaultProbeOneIn
	case p > 0:
		b.probe = uint64(p)
	}
	switch f := opts.FailureLatency; {
	case f < 0:
		return nil, balancerErr("%s: failure latency %v, must not be negative", policy, f)
	case f == 0:
		b.failLat = float64(DefaultFailureLatency)
	default:
		b.failLat = float64(f)
	}
	return b, nil
}

// Pick returns the replica for the next request, or ok=false when every
// replica is marked down.
func (b *Balancer) Pick() (replica int, ok bool) {
	if len(b.reps) == 1 {
		return 0, !b.reps[0].down.Load()
	}
	switch b.kind {
	case kindRoundRobin:
		return b.pickRoundRobin()
	case kindWeighted:
		return b.pickWeighted()
	case kindLeastOutstanding:
		x, y, ok := b.twoUp(b.rand())
		if !ok {
			return -1, false
		}
		if b.fewerOutstanding(y, x) {
			return y, true
		}
		return x, true
	default: // kindLeastLatency
		if b.probe != 0 && b.rand()%b.probe == 0 {
			x, _, ok := b.twoUp(b.rand())
			return x, ok
		}
		x, y, ok := b.twoUp(b.rand())
		if !ok {
			return -1, false
		}
		if b.faster(y, x) {
			return y, true
		}
		return x, true
	}
}

// Start records that a request was sent to replica.
func (b *Balancer) Start(replica int) { b.reps[replica].inflight.Add(1) }

// Finish records that a request to replica ended after latency; failed means
// it got no valid answer. least_latency folds latency (raised to the
// failure latency when failed) into the replica's EWMA.
func (b *Balancer) Finish(replica int, latency time.Duration, failed bool) {
	r := &b.reps[replica]
	r.inflight.Add(-1)
	if b.kind != kindLeastLatency {
		return
	}
	sample := float64(latency)
	if failed {
		sample = max(sample, b.failLat)
	}
	for {
		old := r.ewma.Load()
		next := sample
		if old != 0 {
			prev := math.Float64frombits(old)
			next = prev + b.alpha*(sample-prev)
		}
		// 0 means "not measured", so a measured replica never stores it.
		next = max(next, 1)
		if r.ewma.CompareAndSwap(old, math.Float64bits(next)) {
			return
		}
	}
}

// Abandon records that a request to replica ended without saying anything
// about the replica: the caller cancelled it. Its truncated latency is no
// sample (it would make a slow replica look fast), and it is no failure.
func (b *Balancer) Abandon(replica int) { b.reps[replica].inflight.Add(-1) }

// SetDown marks replica down (skipped by Pick) or up again. A replica that
// comes back up forgets its latency: it is measured afresh, one probe request
// at a time, instead of being judged on how it behaved while failing.
func (b *Balancer) SetDown(replica int, down bool) {
	r := &b.reps[replica]
	switch was := r.down.Swap(down); {
	case was && !down:
		b.downs.Add(-1)
		r.ewma.Store(0)
	case !was && down:
		b.downs.Add(1)
	}
}

// Down reports whether replica is marked down.
func (b *Balancer) Down(replica int) bool { return b.reps[replica].down.Load() }

// Len returns the number of replicas.
func (b *Balancer) Len() int { return len(b.reps) }

// Policy returns the balancing policy.
func (b *Balancer) Policy() Policy { return b.policy }

// Outstanding returns the requests in flight to replica (Starts minus
// Finishes, never below 0).
func (b *Balancer) Outstanding(replica int) int64 { return b.inflight(replica) }

// Latency returns least_latency's EWMA for replica, or 0 when it has not been
// measured (or the policy is not least_latency).
func (b *Balancer) Latency(replica int) time.Duration {
	return time.Duration(math.Float64frombits(b.reps[replica].ewma.Load()))
}

func (b *Balancer) inflight(i int) int64 { return max(b.reps[i].inflight.Load(), 0) }

func balancerErr(format string, args ...any) error {
	return errorf(ErrInvalidBalancer, format, args...)
}

// bound maps a uniform 32-bit value onto [0, n) by multiply-shift, which is
// cheaper than a division and as uniform for the n a shard has.
func bound(r uint32, n uint64) uint64 { return uint64(r) * n >> 32 }

func (b *Balancer) pickRoundRobin() (int, bool) {
	turn := b.next.Add(1) - 1
	if b.downs.Load() == 0 {
		return int(turn % uint64(len(b.reps))), true
	}
	// Take turns among the replicas that are up, so none gets the turn of a
	// down neighbour on top of its own.
	var up uint64
	for i := range b.reps {
		if !b.reps[i].down.Load() {
			up++
		}
	}
	if up == 0 {
		return -1, false
	}
	if i := b.nthUp(turn % up); i >= 0 {
		return i, true
	}
	return b.firstUp() // a replica went down during the scan
}

func (b *Balancer) pickWeighted() (int, bool) {
	r := b.rand()
	i, _ := slices.BinarySearch(b.cum, bound(uint32(r), b.total)+1)
	if !b.reps[i].down.Load() {
		return i, true
	}
	// Some replica is down: draw again among the ones that are up.
	var up uint64
	for j := range b.reps {
		if !b.reps[j].down.Load() {
			up += b.reps[j].weight
		}
	}
	if up == 0 {
		return -1, false
	}
	x := bound(uint32(r>>32), up)
	for j := range b.reps {
		if b.reps[j].down.Load() {
			continue
		}
		if x < b.reps[j].weight {
			return j, true
		}
		x -= b.reps[j].weight
	}
	// A replica went down between the two scans.
	return b.firstUp()
}

// twoUp returns two distinct random replicas that are up (the same one twice
// when only one is up), or ok=false when none is.
func (b *Balancer) twoUp(r uint64) (x, y int, ok bool) {
	n := uint64(len(b.reps))
	x, y = int(bound(uint32(r>>32), n)), int(bound(uint32(r), n-1))
	if y >= x {
		y++
	}
	if !b.reps[x].down.Load() && !b.reps[y].down.Load() {
		return x, y, true
	}
	var up uint64
	for i := range b.reps {
		if !b.reps[i].down.Load() {
			up++
		}
	}
	if up < 2 {
		x, ok := b.firstUp()
		return x, x, ok
	}
	kx, ky := bound(uint32(r>>32), up), bound(uint32(r), up-1)
	if ky >= kx {
		ky++
	}
	x, y = b.nthUp(kx), b.nthUp(ky)
	if x < 0 || y < 0 { // replicas changed state during the scans
		x, ok := b.firstUp()
		return x, x, ok
	}
	return x, y, true
}

func (b *Balancer) firstUp() (int, bool) {
	for i := range b.reps {
		if !b.reps[i].down.Load() {
			return i, true
		}
	}
	return -1, false
}

func (b *Balancer) nthUp(k uint64) int {
	for i := range b.reps {
		if b.reps[i].down.Load() {
			continue
		}
		if k == 0 {
			return i
		}
		k--
	}
	return -1
}

// fewerOutstanding reports whether x carries fewer requests per unit of
// weight than y, comparing ox/wx < oy/wy without dividing.
func (b *Balancer) fewerOutstanding(x, y int) bool {
	return uint64(b.inflight(x))*b.reps[y].weight < uint64(b.inflight(y))*b.reps[x].weight
}

// latencyClass orders replicas before latencies are compared: a replica never
// measured and idle comes first (it gets one probe), then measured replicas,
// then unmeasured ones already waiting for their probe's answer.
func (b *Balancer) latencyClass(i int) (class int, ewma float64) {
	bits := b.reps[i].ewma.Load()
	switch {
	case bits != 0:
		return 1, math.Float64frombits(bits)
	case b.inflight(i) == 0:
		return 0, 0
	default:
		return 2, 0
	}
}

// faster reports whether least_latency prefers x over y.
func (b *Balancer) faster(x, y int) bool {
	cx, ex := b.latencyClass(x)
	cy, ey := b.latencyClass(y)
	if cx != cy {
		return cx < cy
	}
	if cx == 1 {
		lo, hi := min(ex, ey), max(ex, ey)
		if hi-lo > hi/(1<<latencyTieShift) {
			return ex < ey
		}
	}
	return b.inflight(x) < b.inflight(y)
}

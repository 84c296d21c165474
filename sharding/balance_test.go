package sharding

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// splitmix is a deterministic Rand for tests (not safe for concurrent use).
func splitmix(seed uint64) func() uint64 {
	return func() uint64 {
		seed += 0x9e3779b97f4a7c15
		z := seed
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		return z ^ z>>31
	}
}

func mustBalancer(t testing.TB, p Policy, weights []int, opts BalancerOptions) *Balancer {
	t.Helper()
	if opts.Rand == nil {
		opts.Rand = splitmix(42)
	}
	b, err := NewBalancer(p, weights, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewBalancerErrors(t *testing.T) {
	tests := []struct {
		name        string
		policy      Policy
		weights     []int
		opts        BalancerOptions
		expectedErr string
	}{
		{"unknown policy", "random", []int{1}, BalancerOptions{}, `unknown policy "random" (allowed: round_robin, weighted, least_outstanding, least_latency)`},
		{"no replicas", Weighted, nil, BalancerOptions{}, "weighted: 0 replicas, must be between 1 and 4096"},
		{"too many replicas", RoundRobin, make([]int, MaxReplicas+1), BalancerOptions{}, "4097 replicas"},
		{"negative weight", Weighted, []int{1, -2}, BalancerOptions{}, "replica 1: weight -2"},
		{"huge weight", LeastOutstanding, []int{MaxWeight + 1}, BalancerOptions{}, "must be between 0 and"},
		{"weights on round_robin", RoundRobin, []int{1, 2}, BalancerOptions{}, "only weighted and least_outstanding use weights"},
		{"weights on least_latency", LeastLatency, []int{3, 3, 1}, BalancerOptions{}, "replica 2: weight 1 differs from replica 0's 3"},
		{"negative half-life", LeastLatency, []int{1}, BalancerOptions{HalfLife: -1}, "half-life -1"},
		{"negative failure latency", LeastLatency, []int{1}, BalancerOptions{FailureLatency: -time.Second}, "failure latency -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewBalancer(tt.policy, tt.weights, tt.opts)
			if err == nil {
				t.Fatalf("NewBalancer = %v, want error containing %q", b, tt.expectedErr)
			}
			if !errors.Is(err, ErrInvalidBalancer) || !strings.Contains(err.Error(), tt.expectedErr) {
				t.Errorf("error %q, want ErrInvalidBalancer containing %q", err, tt.expectedErr)
			}
		})
	}
}

func TestRoundRobin(t *testing.T) {
	b := mustBalancer(t, RoundRobin, []int{0, 0, 0}, BalancerOptions{})
	tests := []struct {
		name string
		down []int
		want []int
	}{
		{"in turn", nil, []int{0, 1, 2, 0, 1, 2}},
		{"skips down", []int{1}, []int{0, 2, 0, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, d := range tt.down {
				b.SetDown(d, true)
				defer b.SetDown(d, false)
			}
			b.next.Store(0)
			var got []int
			for range tt.want {
				r, ok := b.Pick()
				if !ok {
					t.Fatal("Pick: ok=false")
				}
				got = append(got, r)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("picks %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWeightedFollowsWeights(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		down    int // -1: none
		want    []float64
	}{
		{"1:2:7", []int{1, 2, 7}, -1, []float64{0.1, 0.2, 0.7}},
		{"zero means one", []int{0, 1}, -1, []float64{0.5, 0.5}},
		{"heavy one down", []int{1, 2, 7}, 2, []float64{1.0 / 3, 2.0 / 3, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustBalancer(t, Weighted, tt.weights, BalancerOptions{})
			if tt.down >= 0 {
				b.SetDown(tt.down, true)
			}
			const picks = 10_000
			counts := make([]int, len(tt.weights))
			for range picks {
				r, ok := b.Pick()
				if !ok {
					t.Fatal("Pick: ok=false")
				}
				counts[r]++
			}
			for i, c := range counts {
				got := float64(c) / picks
				if got < tt.want[i]-0.02 || got > tt.want[i]+0.02 {
					t.Errorf("replica %d got %.3f of picks, want %.3f±0.02 (counts %v)", i, got, tt.want[i], counts)
				}
			}
		})
	}
}

func TestDownNeverPicked(t *testing.T) {
	for _, p := range Policies() {
		t.Run(string(p), func(t *testing.T) {
			b := mustBalancer(t, p, []int{1, 1, 1, 1, 1}, BalancerOptions{ProbeOneIn: 4})
			b.SetDown(1, true)
			b.SetDown(3, true)
			if !b.Down(1) || b.Down(0) {
				t.Fatal("Down does not report SetDown")
			}
			counts := make([]int, b.Len())
			for range 1000 {
				r, ok := b.Pick()
				if !ok {
					t.Fatal("Pick: ok=false with replicas up")
				}
				counts[r]++
				b.Start(r)
				b.Finish(r, time.Millisecond, false)
			}
			if counts[1] != 0 || counts[3] != 0 {
				t.Errorf("down replicas picked: %v", counts)
			}
			for _, i := range []int{0, 2, 4} {
				if counts[i] == 0 {
					t.Errorf("up replica %d never picked: %v", i, counts)
				}
			}
		})
	}
}

func TestAllDown(t *testing.T) {
	for _, p := range Policies() {
		for _, n := range []int{1, 2, 5} {
			t.Run(fmt.Sprintf("%s/replicas=%d", p, n), func(t *testing.T) {
				b := mustBalancer(t, p, make([]int, n), BalancerOptions{})
				for i := range n {
					b.SetDown(i, true)
				}
				for range 20 {
					if r, ok := b.Pick(); ok {
						t.Fatalf("Pick = %d, true with every replica down", r)
					}
				}
				b.SetDown(n-1, false)
				for range 20 {
					if r, ok := b.Pick(); !ok || r != n-1 {
						t.Fatalf("Pick = %d, %v; want the only replica up, %d", r, ok, n-1)
					}
				}
			})
		}
	}
}

func TestLeastOutstanding(t *testing.T) {
	tests := []struct {
		name     string
		weights  []int
		inflight []int
		never    int // a replica that must never be picked
	}{
		{"prefers idle of two", []int{1, 1}, []int{5, 0}, 0},
		{"busiest of three never wins", []int{1, 1, 1}, []int{0, 9, 1}, 1},
		{"weight scales in-flight", []int{1, 3}, []int{2, 4}, 0}, // 2/1 > 4/3
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustBalancer(t, LeastOutstanding, tt.weights, BalancerOptions{})
			for i, n := range tt.inflight {
				for range n {
					b.Start(i)
				}
			}
			for range 1000 {
				if r, _ := b.Pick(); r == tt.never {
					t.Fatalf("picked replica %d with in-flight %v", r, tt.inflight)
				}
			}
		})
	}
}

// simulate runs picks where each request completes at once with the latency
// lat returns, and reports how many picks each replica got in the last
// half.
func simulate(b *Balancer, picks int, lat func(step, replica int) time.Duration) []int {
	counts := make([]int, b.Len())
	for step := range picks {
		r, ok := b.Pick()
		if !ok {
			return nil
		}
		if step >= picks/2 {
			counts[r]++
		}
		b.Start(r)
		b.Finish(r, lat(step, r), false)
	}
	return counts
}

func TestLeastLatencyReactsToSlowReplica(t *testing.T) {
	slowAfter := func(step, r int) time.Duration {
		if r == 0 && step >= 100 {
			return 20 * time.Millisecond
		}
		return time.Millisecond
	}
	tests := []struct {
		name           string
		probe          int
		minOf0, maxOf0 int // picks of the slow replica among the last 200
		minEWMA        time.Duration
	}{
		// Without probes it stops being measured once it looks slower.
		{"no probes: slow replica starved", -1, 0, 0, 1200 * time.Microsecond},
		{"probes keep measuring it", 8, 1, 30, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustBalancer(t, LeastLatency, []int{1, 1, 1}, BalancerOptions{ProbeOneIn: tt.probe})
			counts := simulate(b, 400, slowAfter)
			if counts[0] < tt.minOf0 || counts[0] > tt.maxOf0 {
				t.Errorf("slow replica got %d of 200 picks, want %d..%d (counts %v)", counts[0], tt.minOf0, tt.maxOf0, counts)
			}
			if b.Latency(0) < tt.minEWMA || b.Latency(1) != time.Millisecond {
				t.Errorf("EWMA = %v, %v; want slow >= %v, fast 1ms", b.Latency(0), b.Latency(1), tt.minEWMA)
			}
		})
	}
}

func TestLeastLatencyProbesUnmeasured(t *testing.T) {
	b := mustBalancer(t, LeastLatency, []int{1, 1}, BalancerOptions{ProbeOneIn: -1})
	b.Start(0)
	b.Finish(0, time.Millisecond, false)
	if r, _ := b.Pick(); r != 1 {
		t.Fatalf("Pick = %d, want the never-measured idle replica 1", r)
	}
	b.Start(1) // its probe is in flight: wait for the answer
	for range 50 {
		if r, _ := b.Pick(); r != 0 {
			t.Fatalf("Pick = %d while replica 1's probe is in flight, want 0", r)
		}
	}
	b.Finish(1, 1050*time.Microsecond, false) // within the tie band of 1ms
	b.Start(0)
	if r, _ := b.Pick(); r != 1 {
		t.Errorf("Pick = %d, want 1: latencies tie and replica 0 has a request in flight", r)
	}
}

func TestLeastLatencyFailuresAndRecovery(t *testing.T) {
	b := mustBalancer(t, LeastLatency, []int{1, 1}, BalancerOptions{ProbeOneIn: -1, FailureLatency: 50 * time.Millisecond})
	b.Start(1)
	b.Finish(1, 2*time.Millisecond, false)
	b.Start(0)
	b.Finish(0, time.Microsecond, true) // fails fast: must not look fast
	if got := b.Latency(0); got != 50*time.Millisecond {
		t.Fatalf("EWMA after a fast failure = %v, want the failure latency 50ms", got)
	}
	if r, _ := b.Pick(); r != 1 {
		t.Errorf("Pick = %d, want the replica that answers", r)
	}
	b.SetDown(0, true)
	b.SetDown(0, false)
	if got := b.Latency(0); got != 0 {
		t.Errorf("EWMA after coming back up = %v, want 0 (measured afresh)", got)
	}
	if r, _ := b.Pick(); r != 0 {
		t.Errorf("Pick = %d, want the recovered replica probed", r)
	}
}

// TestAbandonIsNoSample: a cancelled request ends its in-flight count
// and leaves least_latency's EWMA as it was, neither fast nor failed.
func TestAbandonIsNoSample(t *testing.T) {
	b := mustBalancer(t, LeastLatency, []int{1, 1}, BalancerOptions{ProbeOneIn: -1, FailureLatency: 50 * time.Millisecond})
	b.Start(0)
	b.Finish(0, 10*time.Millisecond, false)
	b.Start(0)
	b.Start(0)
	if got := b.Outstanding(0); got != 2 {
		t.Fatalf("Outstanding = %d, want 2", got)
	}
	b.Abandon(0)
	if got := b.Outstanding(0); got != 1 {
		t.Errorf("Outstanding after Abandon = %d, want 1", got)
	}
	if got := b.Latency(0); got != 10*time.Millisecond {
		t.Errorf("EWMA after Abandon = %v, want 10ms unchanged", got)
	}
	b.Abandon(0)
	if got := b.Latency(1); got != 0 {
		t.Errorf("the other replica's EWMA = %v, want 0 (never measured)", got)
	}
}

func TestEWMAHalfLife(t *testing.T) {
	b := mustBalancer(t, LeastLatency, []int{1}, BalancerOptions{HalfLife: 4})
	b.Start(0)
	b.Finish(0, 100*time.Millisecond, false)
	for range 4 {
		b.Start(0)
		b.Finish(0, 0, false)
	}
	if got := b.Latency(0); got < 49*time.Millisecond || got > 51*time.Millisecond {
		t.Errorf("after one half-life of zero samples the EWMA is %v, want 50ms", got)
	}
	if b.Outstanding(0) != 0 {
		t.Errorf("Outstanding = %d, want 0", b.Outstanding(0))
	}
}

// TestBalancerConcurrent hammers every policy from several goroutines while
// replicas flap; run with -race.
func TestBalancerConcurrent(t *testing.T) {
	for _, p := range Policies() {
		t.Run(string(p), func(t *testing.T) {
			b, err := NewBalancer(p, []int{1, 1, 1, 1}, BalancerOptions{}) // math/rand/v2: concurrent-safe
			if err != nil {
				t.Fatal(err)
			}
			b.SetDown(3, true) // stays down throughout
			const workers, iters = 4, 2000
			var wg sync.WaitGroup
			var bad atomic.Int64
			stop := make(chan struct{})
			flapped := make(chan struct{})
			go func() {
				defer close(flapped)
				defer b.SetDown(1, false)
				for i := range 1_000_000 { // bounded; normally ends at stop
					select {
					case <-stop:
						return
					default:
						b.SetDown(1, i%2 == 0)
					}
				}
			}()
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range iters {
						r, ok := b.Pick()
						if !ok || r == 3 {
							bad.Add(1)
							continue
						}
						b.Start(r)
						b.Finish(r, time.Duration(w*iters+i)*time.Microsecond, i%10 == 0)
					}
				}()
			}
			wg.Wait()
			close(stop)
			<-flapped
			if n := bad.Load(); n != 0 {
				t.Errorf("%d picks returned ok=false or the down replica", n)
			}
			for i := range b.Len() {
				if n := b.Outstanding(i); n != 0 {
					t.Errorf("replica %d: %d outstanding after all finished", i, n)
				}
			}
		})
	}
}

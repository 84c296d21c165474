package health

import (
	"sync"
	"time"
)

// RetryBudget caps a cluster's retries, so that an engine crash with many
// requests in flight, or a flapping connection, cannot multiply the load on
// the replicas that are left: within each window (a second, from the first
// Take after the last one), at most share × the cluster's requests plus
// floor retries are allowed. The requests counted are those of the window
// before (its average per second, when Take was not called for several
// windows), or of this window so far when that is more, so the first
// window after Start is not starved.
//
// It is pure logic like the rest of the package: the caller passes the
// time and the cluster's request counter (monotonic). The mutex is taken
// only on the retry path, never on the request path.
type RetryBudget struct {
	share, floor float64

	mu    sync.Mutex
	start time.Time // the window's start; zero before Start or the first Take
	count uint64    // the request counter at start
	prev  float64   // requests per window in the window(s) before
	used  float64   // retries taken in this window
}

// RetryWindow is a RetryBudget's window.
const RetryWindow = time.Second

// NewRetryBudget returns a budget of share (0..1) of the requests plus
// floor retries per window.
func NewRetryBudget(share float64, floor int) *RetryBudget {
	return &RetryBudget{share: share, floor: float64(floor)}
}

// Start opens the first window at now, with requests the cluster's
// request counter then.
func (b *RetryBudget) Start(now time.Time, requests uint64) {
	b.mu.Lock()
	b.start, b.count, b.prev, b.used = now, requests, 0, 0
	b.mu.Unlock()
}

// Take reports whether one more retry is allowed at now, and counts it if
// so; requests is the cluster's request counter.
func (b *RetryBudget) Take(now time.Time, requests uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.start.IsZero() {
		b.start, b.count = now, requests
	}
	if el := now.Sub(b.start); el >= RetryWindow {
		windows := float64(el) / float64(RetryWindow)
		b.prev = float64(b.since(requests)) / windows
		b.start, b.count, b.used = now, requests, 0
	}
	allowed := b.floor + b.share*max(b.prev, float64(b.since(requests)))
	if b.used+1 > allowed {
		return false
	}
	b.used++
	return true
}

// since is the requests counted since the window's start (0 if the
// counter went back, which a monotonic counter does not).
func (b *RetryBudget) since(requests uint64) uint64 {
	if requests < b.count {
		return 0
	}
	return requests - b.count
}

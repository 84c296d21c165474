package health

import (
	"sync/atomic"
	"time"
)

// RateLimit lets requests through at most rate a second on average, and
// burst at once after a quiet spell: the generic cell rate algorithm. Its
// state is one atomic word, the theoretical arrival time of the next
// request (tat): a request at t may pass when tat - t is at most
// (burst-1) intervals, and moves tat one interval past max(tat, t). So
// Allow takes no lock and allocates nothing; several goroutines compete
// with a compare-and-swap.
//
// Like the rest of the package it has no clock: Start and Allow take the
// time. Times are kept as nanoseconds since Start's, on the monotonic
// clock when the times carry it.
type RateLimit struct {
	interval  int64 // nanoseconds between requests at the rate
	tolerance int64 // (burst-1) intervals
	base      time.Time
	tat       atomic.Int64 // nanoseconds since base
}

// NewRateLimit returns a limit of rate requests a second with burst at
// once (both at least 1).
func NewRateLimit(rate, burst int) *RateLimit {
	iv := int64(time.Second) / int64(max(rate, 1))
	return &RateLimit{interval: iv, tolerance: int64(max(burst, 1)-1) * iv}
}

// Start sets the limit's clock at now with a full burst; call it once,
// before Allow.
func (l *RateLimit) Start(now time.Time) { l.base = now }

// Allow reports whether a request at now may pass, and counts it if so.
// A time before Start's counts as Start's.
func (l *RateLimit) Allow(now time.Time) bool {
	t := max(int64(now.Sub(l.base)), 0)
	for {
		tat := l.tat.Load()
		from := max(tat, t)
		if from-t > l.tolerance {
			return false
		}
		if l.tat.CompareAndSwap(tat, from+l.interval) {
			return true
		}
	}
}

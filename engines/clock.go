package engines

import "time"

// Clock is the time source of an engine: Now for expiry, deadlines and
// stats, AfterFunc for replies delayed by fault injection and for periodic
// work such as an expiry sweep. Tests pass a fake (enginetest.Clock) so
// that expiry and latency are driven by the test, never by sleeping.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f on its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call and reports whether it did (false: f has
	// already been started or the timer was stopped before).
	Stop() bool
}

// SystemClock returns the real clock (time.Now, time.AfterFunc).
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

var _ Timer = (*time.Timer)(nil)

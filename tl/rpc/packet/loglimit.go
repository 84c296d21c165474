package packet

import (
	"sync"
	"time"
)

// LogLimit caps the warnings of the connections that share it (through
// Config.WarnLimit: a server's app connections, a pool's engine
// connections) at one a second, so a burst of failures (a fleet of apps
// restarting, a port scanner) costs one log line a second, not one per
// connection. Each line logged carries the count of those not logged
// since it ("unlogged"). The zero LogLimit is ready; it is safe for
// concurrent use.
type LogLimit struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	last     time.Time
	unlogged int64
}

// Allow reports whether a line may be logged now, and how many were not
// logged since the last one. A nil LogLimit allows every line.
func (l *LogLimit) Allow() (unlogged int64, ok bool) {
	if l == nil {
		return 0, true
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	return l.AllowAt(now())
}

// AllowAt is Allow for a line of time t, for callers that have read
// their clock already.
func (l *LogLimit) AllowAt(t time.Time) (unlogged int64, ok bool) {
	if l == nil {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && t.Sub(l.last) < time.Second {
		l.unlogged++
		return 0, false
	}
	l.last = t
	n := l.unlogged
	l.unlogged = 0
	return n, true
}

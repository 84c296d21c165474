package enginetest

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/rpcproxy/rpcproxy/engines"
)

// Clock is a fake engines.Clock: time moves only in Advance, which runs
// the AfterFunc callbacks that fall due, in due order, on the caller's
// goroutine.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer
	changed chan struct{} // closed and replaced when timers change
}

// NewClock returns a fake clock reading start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, changed: make(chan struct{})}
}

var _ engines.Clock = (*Clock)(nil)

type timer struct {
	c       *Clock
	due     time.Time
	f       func()
	stopped bool
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc registers f to run when Advance passes now+d.
func (c *Clock) AfterFunc(d time.Duration, f func()) engines.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, due: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	c.notifyLocked()
	return t
}

// Stop implements engines.Timer.
func (t *timer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			t.stopped = true
			c.notifyLocked()
			return true
		}
	}
	return false
}

func (c *Clock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves the time forward by d and runs every callback due by then,
// earliest first (callbacks armed while advancing run too if due).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].due.Before(c.timers[j].due) })
		if len(c.timers) == 0 || c.timers[0].due.After(target) {
			c.now = target
			c.mu.Unlock()
			return
		}
		t := c.timers[0]
		c.timers = c.timers[1:]
		if t.due.After(c.now) {
			c.now = t.due
		}
		c.notifyLocked()
		c.mu.Unlock()
		t.f()
	}
}

// Timers is the number of pending callbacks.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// WaitTimers waits until at least n callbacks are pending, or ctx ends
// (then it returns ctx's error). Tests use it to know that a request has
// reached the engine and been queued before they advance the time.
func (c *Clock) WaitTimers(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		got, ch := len(c.timers), c.changed
		c.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

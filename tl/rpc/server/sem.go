package server

import (
	"sync"
	"sync/atomic"
)

// byteSem is a FIFO weighted semaphore over request bytes. Waiters are
// served in arrival order so that a large request is not starved by a
// stream of small ones. Each waiter brings its own reusable channel, so a
// contended acquire does not allocate either.
//
// Every connection's reader acquires and every reply releases, so the
// uncontended path takes no lock: used is an atomic, and acquire and
// release touch mu only while somebody waits (queued > 0).
//
//	acquire: queued == 0 and used+n fits -> CAS used (done, no lock);
//	         else under mu: queued++, then try again (a release that ran
//	         before queued++ is seen by this try), else append to waiters
//	         and block on the waiter's channel
//	release: used -= n; queued > 0 -> under mu, grant waiters in order
//	         while they fit (queued-- for each)
//
// A release that reads queued == 0 did its subtraction before the waiter's
// queued++ (both sequentially consistent), so the waiter's own try under
// mu sees the bytes: no grant is lost. While anybody waits, newcomers take
// the locked path and queue behind them.
type byteSem struct {
	used    atomic.Int64
	queued  atomic.Int32 // acquirers in the locked path (waiting, or about to)
	limit   atomic.Int64 // changed by setLimit while in use
	mu      sync.Mutex   // guards waiters
	waiters []*semWaiter
	onWait  func() // test hook: a waiter was queued; nil in production
}

// semWaiter belongs to one connection reader, which waits for at most one
// grant at a time.
type semWaiter struct {
	n     int64
	ready chan struct{} // cap 1: signalled once per grant
	// beforeWait, if set, runs before the waiter blocks (the reader
	// flushes the writes it holds back: the bytes may wait on them).
	beforeWait func()
}

func newSemWaiter() *semWaiter { return &semWaiter{ready: make(chan struct{}, 1)} }

// take adds n to used if it fits under limit, or if nothing is in use
// (a limit lowered below a waiting request's size must not strand it).
func (s *byteSem) take(n int64) bool {
	for {
		u := s.used.Load()
		if u+n > s.limit.Load() && u > 0 {
			return false
		}
		if s.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// setLimit changes the limit; waiters that fit a raised one are granted.
func (s *byteSem) setLimit(n int64) {
	s.limit.Store(n)
	if s.queued.Load() > 0 {
		s.grant()
	}
}

// acquire takes n bytes (n <= limit), waiting while they are not available.
// It gives up, taking nothing, when stop is closed first.
func (s *byteSem) acquire(n int64, w *semWaiter, stop <-chan struct{}) bool {
	if s.queued.Load() == 0 && s.take(n) {
		return true
	}
	s.mu.Lock()
	s.queued.Add(1)
	if len(s.waiters) == 0 && s.take(n) {
		s.queued.Add(-1)
		s.mu.Unlock()
		return true
	}
	w.n = n
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()
	if s.onWait != nil {
		s.onWait()
	}
	if w.beforeWait != nil {
		w.beforeWait()
	}
	select {
	case <-w.ready:
		return true
	case <-stop:
	}
	s.mu.Lock()
	for i, x := range s.waiters {
		if x == w {
			s.remove(i)
			s.queued.Add(-1)
			s.mu.Unlock()
			// Leaving may let the next waiter in: it waited only behind us.
			s.grant()
			return false
		}
	}
	s.mu.Unlock()
	// Granted while we were giving up: hand the bytes back.
	<-w.ready
	s.release(n)
	return false
}

// release returns n bytes and grants waiters that now fit, in order.
func (s *byteSem) release(n int64) {
	s.used.Add(-n)
	if s.queued.Load() > 0 {
		s.grant()
	}
}

// grant hands bytes to the waiters at the head of the queue while they fit.
func (s *byteSem) grant() {
	s.mu.Lock()
	for len(s.waiters) > 0 {
		w := s.waiters[0]
		if !s.take(w.n) {
			break
		}
		s.remove(0)
		s.queued.Add(-1)
		w.ready <- struct{}{}
	}
	s.mu.Unlock()
}

func (s *byteSem) remove(i int) {
	copy(s.waiters[i:], s.waiters[i+1:])
	s.waiters[len(s.waiters)-1] = nil
	s.waiters = s.waiters[:len(s.waiters)-1]
}

// inUse returns the bytes currently taken.
func (s *byteSem) inUse() int64 { return s.used.Load() }

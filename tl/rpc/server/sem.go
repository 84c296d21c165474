package server

import "sync"

// byteSem is a FIFO weighted semaphore over request bytes. Waiters are
// served in arrival order so that a large request is not starved by a
// stream of small ones. Each waiter brings its own reusable channel, so a
// contended acquire does not allocate either.
type byteSem struct {
	mu      sync.Mutex
	used    int64
	limit   int64
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

// acquire takes n bytes (n <= limit), waiting while they are not available.
// It gives up, taking nothing, when stop is closed first.
func (s *byteSem) acquire(n int64, w *semWaiter, stop <-chan struct{}) bool {
	s.mu.Lock()
	if len(s.waiters) == 0 && s.used+n <= s.limit {
		s.used += n
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
			s.mu.Unlock()
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
	s.mu.Lock()
	s.used -= n
	for len(s.waiters) > 0 {
		w := s.waiters[0]
		if s.used+w.n > s.limit {
			break
		}
		s.used += w.n
		s.remove(0)
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
func (s *byteSem) inUse() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

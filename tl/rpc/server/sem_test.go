package server

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

func TestByteSem(t *testing.T) {
	leakCheck(t)
	var s byteSem
	s.limit.Store(100)
	never := make(chan struct{})
	if !s.acquire(60, newSemWaiter(), never) {
		t.Fatal("first acquire failed")
	}
	// 50 does not fit; a later 30 that would fit must queue behind it (FIFO).
	big, small := newSemWaiter(), newSemWaiter()
	queued := make(chan struct{}, 2)
	s.onWait = signal(queued)
	got := make(chan int64, 2)
	go func() {
		if s.acquire(50, big, never) {
			got <- 50
		}
	}()
	recv(t, queued, "big to queue")
	go func() {
		if s.acquire(30, small, never) {
			got <- 30
		}
	}()
	recv(t, queued, "small to queue")
	s.release(60)
	if sum := recv(t, got, "grant") + recv(t, got, "grant"); sum != 80 || s.inUse() != 80 {
		t.Fatalf("granted %d, in use %d", sum, s.inUse())
	}

	// A waiter whose stop closes takes nothing and leaves the queue.
	stop := make(chan struct{})
	w := newSemWaiter()
	gaveUp := make(chan bool, 1)
	go func() { gaveUp <- s.acquire(50, w, stop) }()
	recv(t, queued, "third to queue")
	close(stop)
	if recv(t, gaveUp, "give up") {
		t.Fatal("acquire succeeded after stop")
	}
	s.release(80)
	if s.inUse() != 0 || len(s.waiters) != 0 {
		t.Fatalf("in use %d, %d waiters", s.inUse(), len(s.waiters))
	}
}

// TestByteSemLeavingHeadLetsOthersIn: when the waiter at the head of the
// queue gives up, a smaller one queued behind it that fits is granted at
// once, not at the next release.
func TestByteSemLeavingHeadLetsOthersIn(t *testing.T) {
	leakCheck(t)
	var s byteSem
	s.limit.Store(100)
	never := make(chan struct{})
	if !s.acquire(60, newSemWaiter(), never) {
		t.Fatal("first acquire failed")
	}
	queued := make(chan struct{}, 2)
	s.onWait = signal(queued)
	stop := make(chan struct{})
	gaveUp := make(chan bool, 1)
	go func() { gaveUp <- s.acquire(50, newSemWaiter(), stop) }()
	recv(t, queued, "big to queue")
	got := make(chan bool, 1)
	go func() { got <- s.acquire(30, newSemWaiter(), never) }()
	recv(t, queued, "small to queue behind it")
	close(stop)
	if recv(t, gaveUp, "big gives up") {
		t.Fatal("the big acquire succeeded after stop")
	}
	if !recv(t, got, "small granted") {
		t.Fatal("the small acquire failed")
	}
	if s.inUse() != 90 {
		t.Fatalf("in use %d, want 90", s.inUse())
	}
}

// TestByteSemConcurrent: many acquirers and releasers at once (run with
// -race) never hold more than the limit together, and everything taken
// is given back.
func TestByteSemConcurrent(t *testing.T) {
	leakCheck(t)
	const limit, workers, rounds = 100, 8, 2000
	var s byteSem
	s.limit.Store(limit)
	never := make(chan struct{})
	var held atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newSemWaiter()
			for r := range rounds {
				n := int64(1 + (i*7+r*13)%60)
				if !s.acquire(n, w, never) {
					errs <- "acquire failed"
					return
				}
				if h := held.Add(n); h > limit {
					errs <- fmt.Sprintf("%d bytes held at once, limit %d", h, limit)
				}
				held.Add(-n)
				s.release(n)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if s.inUse() != 0 || s.queued.Load() != 0 || len(s.waiters) != 0 {
		t.Fatalf("after: in use %d, queued %d, %d waiters", s.inUse(), s.queued.Load(), len(s.waiters))
	}
}

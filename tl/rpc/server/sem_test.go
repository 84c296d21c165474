package server

import "testing"

func TestByteSem(t *testing.T) {
	leakCheck(t)
	s := byteSem{limit: 100}
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

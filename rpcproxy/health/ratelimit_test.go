package health

import (
	"sync"
	"testing"
	"time"
)

// TestRateLimit drives a 10/s limit with a burst of 3 through a fake
// clock: the burst at once, then one request per 100 ms, and a quiet
// spell refills the burst but never more.
func TestRateLimit(t *testing.T) {
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at   time.Duration
		n    int // requests at that time
		want int // of them allowed
	}{
		{0, 5, 3},                      // the burst
		{50 * time.Millisecond, 1, 0},  // the next slot is at 100 ms
		{100 * time.Millisecond, 2, 1}, // one slot
		{250 * time.Millisecond, 2, 1}, // one more (the slot of 200 ms)
		{10 * time.Second, 10, 3},      // a quiet spell refills the burst, no more
		{10*time.Second + 99*time.Millisecond, 1, 0},
		{10*time.Second + 100*time.Millisecond, 1, 1},
	}
	l := NewRateLimit(10, 3)
	l.Start(t0)
	for _, s := range steps {
		got := 0
		for range s.n {
			if l.Allow(t0.Add(s.at)) {
				got++
			}
		}
		if got != s.want {
			t.Fatalf("at %v: %d of %d allowed, want %d", s.at, got, s.n, s.want)
		}
	}
	if l.Allow(t0.Add(-time.Hour)) {
		t.Error("a time before Start counts as Start's, whose slots are gone")
	}
}

// TestRateLimitConcurrent: goroutines racing at one instant get exactly
// the burst between them.
func TestRateLimitConcurrent(t *testing.T) {
	l := NewRateLimit(1000, 50)
	now := time.Unix(5, 0)
	l.Start(now)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for range 100 {
				if l.Allow(now) {
					n++
				}
			}
			mu.Lock()
			allowed += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if allowed != 50 {
		t.Fatalf("%d allowed at one instant, want the burst of 50", allowed)
	}
}

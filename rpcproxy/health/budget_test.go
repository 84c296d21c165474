package health

import (
	"testing"
	"time"
)

func TestRetryBudget(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type take struct {
		ms       int    // time since t0
		requests uint64 // the cluster's counter
		n        int    // retries asked
		want     int    // retries allowed
	}
	cases := []struct {
		name     string
		share    float64
		floor    int
		start    bool // Start(t0, startReq) first
		startReq uint64
		takes    []take
	}{
		{"floor only before any traffic", 0.1, 10, true, 0, []take{{ms: 10, n: 15, want: 10}}},
		{"share of this window's requests while the one before was quieter", 0.1, 0, true, 0, []take{
			{ms: 100, requests: 50, n: 10, want: 5},
			{ms: 200, requests: 100, n: 10, want: 5}, // 0.1 × 100 = 10, 5 already used
		}},
		{"the window before sets the allowance of the next", 0.1, 2, true, 0, []take{
			{ms: 999, requests: 1000, n: 0, want: 0},
			{ms: 1000, requests: 1000, n: 200, want: 102}, // 2 + 0.1 × 1000 requests of the second before
			{ms: 1500, requests: 1100, n: 5, want: 0},     // the window's allowance is used up
			{ms: 2000, requests: 1100, n: 20, want: 12},   // the window before had 100 requests
		}},
		{"a long quiet spell averages the windows it spans", 0.5, 0, true, 0, []take{
			{ms: 10_000, requests: 100, n: 20, want: 5}, // 100 requests over 10 windows: 10 per window
		}},
		{"no Start: the first Take opens the window", 0.1, 1, false, 0, []take{
			{ms: 0, requests: 5000, n: 3, want: 1},
		}},
		{"zero share and floor allow nothing", 0, 0, true, 0, []take{{ms: 1500, requests: 1000, n: 3, want: 0}}},
		{"a counter that went back counts nothing", 0.1, 1, true, 500, []take{{ms: 10, requests: 0, n: 3, want: 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := NewRetryBudget(c.share, c.floor)
			if c.start {
				b.Start(t0, c.startReq)
			}
			for i, tk := range c.takes {
				got := 0
				for range tk.n {
					if b.Take(at(tk.ms), tk.requests) {
						got++
					}
				}
				if got != tk.want {
					t.Errorf("take %d (at %d ms, %d requests): %d of %d retries allowed, want %d", i, tk.ms, tk.requests, got, tk.n, tk.want)
				}
			}
		})
	}
}

package health

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func settings() Settings {
	return Settings{ConsecutiveTimeouts: 3, MaxInflight: 2, ProbeInterval: time.Second,
		ProbeMaxInterval: 4 * time.Second, ProbeJitter: 0.5, SlowLatency: 100 * time.Millisecond}
}

func TestTransitions(t *testing.T) {
	type step struct {
		name string
		do   func(tr *Tracker) Change
		want Change
		up   bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"connect error downs at once", []step{
			{"connect", func(tr *Tracker) Change { return tr.ConnectFailed(t0) }, Change{true, StateDown, CauseConnect, false}, false},
			{"again", func(tr *Tracker) Change { return tr.ConnectFailed(t0) }, Change{}, false},
		}},
		{"three timeouts", []step{
			{"1", func(tr *Tracker) Change { return tr.TimedOut(t0) }, Change{}, true},
			{"2", func(tr *Tracker) Change { return tr.TimedOut(t0) }, Change{}, true},
			{"3", func(tr *Tracker) Change { return tr.TimedOut(t0) }, Change{true, StateDown, CauseTimeouts, false}, false},
		}},
		{"an answer resets the count", []step{
			{"1", func(tr *Tracker) Change { return tr.TimedOut(t0) }, Change{}, true},
			{"2", func(tr *Tracker) Change { return tr.TimedOut(t0) }, Change{}, true},
			{"ok", func(tr *Tracker) Change { return tr.Answered(t0, time.Millisecond) }, Change{}, true},
			{"3", func(tr *Tracker) Change { return tr.TimedOut(t0) }, Change{}, true},
			{"4", func(tr *Tracker) Change { return tr.TimedOut(t0) }, Change{}, true},
		}},
		{"slow answers count as timeouts", []step{
			{"1", func(tr *Tracker) Change { return tr.Answered(t0, time.Second) }, Change{}, true},
			{"2", func(tr *Tracker) Change { return tr.Answered(t0, time.Second) }, Change{}, true},
			{"3", func(tr *Tracker) Change { return tr.Answered(t0, time.Second) }, Change{true, StateDown, CauseTimeouts, false}, false},
		}},
		{"probe brings it back", []step{
			{"connect", func(tr *Tracker) Change { return tr.ConnectFailed(t0) }, Change{true, StateDown, CauseConnect, false}, false},
			{"probe fails", func(tr *Tracker) Change {
				if !tr.ProbeDue(t0.Add(2 * time.Second)) {
					t.Fatal("probe not due")
				}
				return tr.ProbeDone(t0.Add(2*time.Second), false)
			}, Change{}, false},
			{"probe ok", func(tr *Tracker) Change {
				if !tr.ProbeDue(t0.Add(time.Minute)) {
					t.Fatal("probe not due")
				}
				return tr.ProbeDone(t0.Add(time.Minute), true)
			}, Change{true, StateUp, CauseProbeOK, false}, true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(settings(), NewGroup(4, 0.5), func() float64 { return 0 })
			for _, s := range tc.steps {
				if got := s.do(tr); got != s.want {
					t.Errorf("%s: change %+v, want %+v", s.name, got, s.want)
				}
				if tr.Up() != s.up {
					t.Errorf("%s: up %v, want %v", s.name, tr.Up(), s.up)
				}
			}
		})
	}
}

func TestProbeSchedule(t *testing.T) {
	base := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	tests := []struct {
		name string
		rand float64
	}{{"no jitter", 0}, {"mid jitter", 0.5}, {"full jitter", 0.999999}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(settings(), nil, func() float64 { return tc.rand })
			now := t0
			tr.ConnectFailed(now)
			for i, d := range base {
				// The delay is the backoff plus up to ProbeJitter (0.5) of it.
				lo, hi := d, d+d/2
				got := tr.NextProbe().Sub(now)
				if got < lo || got > hi || (tc.rand == 0 && got != d) {
					t.Fatalf("probe %d: delay %v, want within [%v, %v]", i, got, lo, hi)
				}
				if tr.ProbeDue(tr.NextProbe().Add(-time.Nanosecond)) {
					t.Fatalf("probe %d due before its time", i)
				}
				now = tr.NextProbe()
				if !tr.ProbeDue(now) {
					t.Fatalf("probe %d not due at its time", i)
				}
				if tr.ProbeDue(now) {
					t.Fatalf("probe %d: a second probe started while one is in flight", i)
				}
				tr.ProbeDone(now, false)
			}
		})
	}
}

func TestMaxDownShareFailsOpen(t *testing.T) {
	g := NewGroup(4, 0.5) // at most 2 of 4
	trs := make([]*Tracker, 4)
	for i := range trs {
		trs[i] = New(settings(), g, nil)
	}
	for i, tr := range trs {
		c := tr.ConnectFailed(t0)
		wantDown := i < 2
		if tr.Up() == wantDown {
			t.Errorf("engine %d: up %v, want %v", i, tr.Up(), !wantDown)
		}
		if c.FailOpen == wantDown || !c.Changed {
			t.Errorf("engine %d: change %+v", i, c)
		}
	}
	if g.Down() != 2 {
		t.Fatalf("group down %d, want 2", g.Down())
	}
	// A fail-open engine is still probed.
	if !trs[3].NeedsProbe() || !trs[3].ProbeDue(t0.Add(time.Hour)) {
		t.Fatal("fail-open engine is not probed")
	}
	if c := trs[3].ProbeDone(t0.Add(time.Hour), true); c.Cause != CauseFailOpenProbe {
		t.Errorf("fail-open probe ok: %+v", c)
	}
	// One recovers: the budget frees and the next failure may go down.
	trs[0].ProbeDue(t0.Add(time.Hour))
	trs[0].ProbeDone(t0.Add(time.Hour), true)
	if c := trs[2].ConnectFailed(t0.Add(time.Hour)); c.State != StateDown {
		t.Errorf("after a recovery the next failure should go down: %+v", c)
	}
}

func TestGroupCap(t *testing.T) {
	tests := []struct {
		n     int
		share float64
		want  int64
	}{{1, 0.5, 1}, {4, 0.5, 2}, {10, 0.1, 1}, {10, 0.25, 2}, {3, 0, 0}, {3, 1, 3}}
	for _, tc := range tests {
		if got := NewGroup(tc.n, tc.share).Max(); got != tc.want {
			t.Errorf("NewGroup(%d, %v).Max() = %d, want %d", tc.n, tc.share, got, tc.want)
		}
	}
}

func TestInflightCap(t *testing.T) {
	tr := New(settings(), nil, nil)
	first, second := tr.TryStart(), tr.TryStart() // max_inflight is 2
	if !first || !second {
		t.Fatal("under the cap refused")
	}
	if tr.TryStart() {
		t.Fatal("third request admitted over max_inflight 2")
	}
	tr.Finish()
	if !tr.TryStart() {
		t.Fatal("refused after a finish")
	}
	if tr.Inflight() != 2 {
		t.Fatalf("inflight %d", tr.Inflight())
	}
}

func TestUpDoesNotAllocate(t *testing.T) {
	tr := New(settings(), nil, nil)
	if n := testing.AllocsPerRun(100, func() {
		if tr.Up() && tr.TryStart() {
			tr.Answered(t0, time.Millisecond)
			tr.Finish()
		}
	}); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

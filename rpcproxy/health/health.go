package health

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Settings are one cluster's [cluster.health] values as the tracker uses
// them. Zero ConsecutiveTimeouts means 1; zero MaxInflight means no cap.
type Settings struct {
	ConsecutiveTimeouts int
	SlowLatency         time.Duration // 0: off
	MaxInflight         int
	ProbeInterval       time.Duration
	ProbeMaxInterval    time.Duration
	ProbeJitter         float64 // 0..1, share of the delay added at random
}

// State is an engine's health as the request path sees it.
type State uint32

const (
	StateUp   State = iota // takes requests
	StateDown              // refused at once, probed until it answers
)

func (s State) String() string {
	if s == StateDown {
		return "down"
	}
	return "up"
}

// Cause says why a transition happened.
type Cause uint8

const (
	CauseNone          Cause = iota
	CauseConnect             // dial, handshake or connection failure
	CauseTimeouts            // ConsecutiveTimeouts timeouts in a row
	CauseProbeOK             // a probe was answered
	CauseFailOpenProbe       // a fail-open engine's probe was answered
)

func (c Cause) String() string {
	switch c {
	case CauseConnect:
		return "connect error"
	case CauseTimeouts:
		return "consecutive timeouts"
	case CauseProbeOK, CauseFailOpenProbe:
		return "probe answered"
	}
	return ""
}

// Change is a transition reported by a Tracker method; the zero Change means
// nothing changed. FailOpen reports that the engine should have gone down but
// the Group cap kept it up.
type Change struct {
	Changed  bool
	State    State
	Cause    Cause
	FailOpen bool
}

// Tracker is one engine's health. The zero value is not usable: use New.
type Tracker struct {
	state    atomic.Uint32 // State; the only field the request path reads
	inflight atomic.Int64
	timeouts atomic.Int32
	probing  atomic.Bool
	failOpen atomic.Bool
	set      atomic.Pointer[Settings]
	group    atomic.Pointer[Group]

	mu        sync.Mutex // serialises transitions and the probe schedule
	delay     time.Duration
	nextProbe time.Time
	rand      func() float64

	downs atomic.Uint64 // transitions to down, for stats
}

// New returns a tracker that starts Up. rand returns uniform values in
// [0, 1) for probe jitter; nil means no jitter.
func New(s Settings, g *Group, rand func() float64) *Tracker {
	t := &Tracker{rand: rand}
	t.SetSettings(s)
	t.SetGroup(g)
	return t
}

// SetSettings replaces the settings (on reload); the state is kept.
func (t *Tracker) SetSettings(s Settings) {
	if s.ConsecutiveTimeouts < 1 {
		s.ConsecutiveTimeouts = 1
	}
	if s.ProbeInterval <= 0 {
		s.ProbeInterval = time.Second
	}
	if s.ProbeMaxInterval < s.ProbeInterval {
		s.ProbeMaxInterval = s.ProbeInterval
	}
	t.set.Store(&s)
}

// Settings returns the current settings.
func (t *Tracker) Settings() Settings { return *t.set.Load() }

// SetGroup moves the tracker into g (on reload). A down engine takes its
// place in g's budget; g may then be over its cap until engines recover,
// which only errs towards serving.
func (t *Tracker) SetGroup(g *Group) {
	old := t.group.Swap(g)
	if old == g || t.State() != StateDown {
		return
	}
	if old != nil {
		old.down.Add(-1)
	}
	if g != nil {
		g.down.Add(1)
	}
}

// Up reports whether the engine may take requests: one atomic load.
func (t *Tracker) Up() bool { return State(t.state.Load()) == StateUp }

// State returns the current state.
func (t *Tracker) State() State { return State(t.state.Load()) }

// FailOpen reports whether the engine failed but is kept up by its Group cap.
func (t *Tracker) FailOpen() bool { return t.failOpen.Load() }

// Inflight returns the requests started and not finished.
func (t *Tracker) Inflight() int64 { return t.inflight.Load() }

// Downs returns how many times the engine went down.
func (t *Tracker) Downs() uint64 { return t.downs.Load() }

// TryStart admits one request under MaxInflight; false means the engine is
// saturated and the request must go elsewhere or fail now. Every true must
// be paired with Finish.
func (t *Tracker) TryStart() bool {
	n := t.inflight.Add(1)
	if limit := t.set.Load().MaxInflight; limit > 0 && n > int64(limit) {
		t.inflight.Add(-1)
		return false
	}
	return true
}

// Finish ends a request admitted by TryStart.
func (t *Tracker) Finish() { t.inflight.Add(-1) }

// Answered records an answer that took latency. An answer slower than
// SlowLatency counts as a timeout.
func (t *Tracker) Answered(now time.Time, latency time.Duration) Change {
	if slow := t.set.Load().SlowLatency; slow > 0 && latency > slow {
		return t.TimedOut(now)
	}
	if t.timeouts.Load() != 0 {
		t.timeouts.Store(0)
	}
	return Change{}
}

// TimedOut records a timeout; the ConsecutiveTimeouts-th in a row takes the
// engine down.
func (t *Tracker) TimedOut(now time.Time) Change {
	n := t.timeouts.Add(1)
	if int(n) < t.set.Load().ConsecutiveTimeouts {
		return Change{}
	}
	return t.goDown(now, CauseTimeouts)
}

// ConnectFailed records a failed dial or a broken connection: down at once.
func (t *Tracker) ConnectFailed(now time.Time) Change {
	return t.goDown(now, CauseConnect)
}

func (t *Tracker) goDown(now time.Time, cause Cause) Change {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.timeouts.Store(0)
	if t.State() == StateDown {
		return Change{}
	}
	s := t.set.Load()
	t.delay = s.ProbeInterval
	t.nextProbe = now.Add(t.jittered(t.delay))
	if g := t.group.Load(); g != nil && !g.acquire() {
		first := !t.failOpen.Swap(true)
		return Change{Changed: first, State: StateUp, Cause: cause, FailOpen: true}
	}
	t.failOpen.Store(false)
	t.state.Store(uint32(StateDown))
	t.downs.Add(1)
	return Change{Changed: true, State: StateDown, Cause: cause}
}

func (t *Tracker) jittered(d time.Duration) time.Duration {
	j := t.set.Load().ProbeJitter
	if j <= 0 || t.rand == nil {
		return d
	}
	return d + time.Duration(math.Floor(float64(d)*j*t.rand()))
}

// NeedsProbe reports whether the engine is down or failing open.
func (t *Tracker) NeedsProbe() bool { return !t.Up() || t.failOpen.Load() }

// ProbeDue starts a probe if one is due at now and none is in flight. A true
// result must be followed by ProbeDone.
func (t *Tracker) ProbeDue(now time.Time) bool {
	if !t.NeedsProbe() || t.probing.Load() {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Before(t.nextProbe) || !t.NeedsProbe() {
		return false
	}
	return t.probing.CompareAndSwap(false, true)
}

// NextProbe returns when the next probe is due (zero if none is scheduled).
func (t *Tracker) NextProbe() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.NeedsProbe() {
		return time.Time{}
	}
	return t.nextProbe
}

// ProbeDone ends the probe started by ProbeDue. Success brings the engine
// back up; failure doubles the delay up to ProbeMaxInterval.
func (t *Tracker) ProbeDone(now time.Time, ok bool) Change {
	t.mu.Lock()
	defer t.mu.Unlock()
	defer t.probing.Store(false)
	if !ok {
		s := t.set.Load()
		t.delay = min(2*t.delay, s.ProbeMaxInterval)
		t.nextProbe = now.Add(t.jittered(t.delay))
		return Change{}
	}
	t.timeouts.Store(0)
	if t.failOpen.Swap(false) && t.Up() {
		return Change{Changed: true, State: StateUp, Cause: CauseFailOpenProbe}
	}
	if t.Up() {
		return Change{}
	}
	if g := t.group.Load(); g != nil {
		g.release()
	}
	t.state.Store(uint32(StateUp))
	return Change{Changed: true, State: StateUp, Cause: CauseProbeOK}
}

// Group is the set of engines of one cluster under one max_down_share cap.
type Group struct {
	max  int64
	down atomic.Int64
}

// NewGroup returns a group of n engines of which at most share (0..1) may be
// down, rounded down but at least one when share > 0: a cluster of one
// engine must still fail fast. share 0 never marks an engine down.
func NewGroup(n int, share float64) *Group {
	m := int64(math.Floor(share * float64(n)))
	if share > 0 && m < 1 {
		m = 1
	}
	return &Group{max: m}
}

// Max returns the cap.
func (g *Group) Max() int64 { return g.max }

// Down returns the engines of the group marked down.
func (g *Group) Down() int64 { return g.down.Load() }

func (g *Group) acquire() bool {
	for {
		n := g.down.Load()
		if n >= g.max {
			return false
		}
		if g.down.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (g *Group) release() { g.down.Add(-1) }

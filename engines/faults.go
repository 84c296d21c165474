package engines

import (
	"container/heap"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// Faults is the test-only misbehaviour of an engine. The zero value is a
// healthy engine. Faults apply to every function, built-ins included,
// except engine.debugSetFaults, which must keep working to undo them.
type Faults struct {
	// Latency delays every answer by this much (0 = none), from a timer:
	// the connection keeps reading meanwhile.
	Latency time.Duration
	// ErrorPPM answers this many requests per million with ErrorCode
	// instead of calling the function (0..1,000,000).
	ErrorPPM int
	// Stall accepts requests and does not answer them. A held request is
	// answered when Stall is turned off (served then), at shutdown
	// (GRACEFUL_SHUTDOWN), or a grace period after its own deadline
	// (QUERY_TIMEOUT, long after the client stopped waiting), which keeps
	// the memory of abandoned requests bounded.
	Stall bool
}

// Limits of Faults.
const (
	MaxLatency = time.Hour
	PPM        = 1_000_000
	// InjectedErrorCode is answered for injected errors: INTERNAL, an
	// engine-side failure that a proxy may retry elsewhere.
	InjectedErrorCode = rpc.CodeInternal
	// stallGrace is how long after its deadline a stalled request is
	// released; clients have given up by then.
	stallGrace = time.Second
)

// Validate reports the first field out of range.
func (f Faults) Validate() error {
	switch {
	case f.Latency < 0 || f.Latency > MaxLatency:
		return fmt.Errorf("%w: fault latency %v outside [0, %v]", ErrBadConfig, f.Latency, MaxLatency)
	case f.ErrorPPM < 0 || f.ErrorPPM > PPM:
		return fmt.Errorf("%w: fault error rate %d ppm outside [0, %d]", ErrBadConfig, f.ErrorPPM, PPM)
	}
	return nil
}

func (f Faults) active() bool { return f != Faults{} }

func (f Faults) stats(add func(k, v string)) {
	add("fault_latency_ms", strconv.FormatInt(f.Latency.Milliseconds(), 10))
	add("fault_error_rate_ppm", strconv.Itoa(f.ErrorPPM))
	add("fault_stall", strconv.FormatBool(f.Stall))
}

// held is a queue entry: a delayed request (due = when to serve it) or a
// stalled request's release (due = its deadline plus stallGrace). A
// release is valid only while stalled[r].seq == seq: the Request may have
// been answered and reused for another stalled call since.
type held struct {
	due   time.Time
	r     *server.Request
	fail  bool // answer with an injected error
	stall bool // a release, not a delayed request
	seq   uint64
}

type heldHeap []held

func (h heldHeap) Len() int           { return len(h) }
func (h heldHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h heldHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *heldHeap) Push(x any)        { *h = append(*h, x.(held)) }
func (h *heldHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = held{}
	*h = old[:len(old)-1]
	return x
}

// stalledReq is a request held by Stall.
type stalledReq struct {
	seq  uint64
	fail bool
}

// holder keeps the requests faults delay or stall. One timer, armed for
// the earliest due time, serves the whole queue, so delayed requests cost
// no goroutine each; the timer's goroutine exists only while it fires.
type holder struct {
	clock Clock
	serve func(r *server.Request, fail bool) // answers a request now
	drop  func(r *server.Request, code int32, text string)

	mu       sync.Mutex
	stalling bool // Faults.Stall as last set: checked under mu so no request is held after unstall
	q        heldHeap
	stalled  map[*server.Request]stalledReq
	seq      uint64
	timer    Timer
	armed    time.Time      // due time of timer; zero = none
	timers   sync.WaitGroup // armed or running timers, for close
	closed   bool
}

// delay queues r to be served at due; false if the holder is closed (the
// caller serves it now).
func (h *holder) delay(r *server.Request, fail bool, due time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	heap.Push(&h.q, held{due: due, r: r, fail: fail})
	h.armLocked(due)
	return true
}

// Outcomes of holder.stall.
const (
	stallHeld   = iota
	stallOff    // Stall was turned off meanwhile: serve the request now
	stallClosed // shutting down: answer GRACEFUL_SHUTDOWN
)

// stall holds r unless Stall has been turned off since the caller read
// the faults, or the holder is closed.
func (h *holder) stall(r *server.Request, fail bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return stallClosed
	case !h.stalling:
		return stallOff
	}
	h.seq++
	h.stalled[r] = stalledReq{seq: h.seq, fail: fail}
	if dl, ok := r.Deadline(); ok {
		due := dl.Add(stallGrace)
		heap.Push(&h.q, held{due: due, r: r, seq: h.seq, stall: true})
		h.armLocked(due)
	}
	return stallHeld
}

// armLocked makes sure a timer fires no later than due.
func (h *holder) armLocked(due time.Time) {
	if h.timer != nil && !h.armed.After(due) {
		return
	}
	if h.timer != nil && h.timer.Stop() {
		h.timers.Done()
	}
	h.armed = due
	h.timers.Add(1)
	h.timer = h.clock.AfterFunc(max(due.Sub(h.clock.Now()), 0), h.fire)
}

// fire answers what is due and re-arms for the rest. A timer that was
// replaced but had already started runs it too; that is harmless.
func (h *holder) fire() {
	defer h.timers.Done()
	h.mu.Lock()
	now := h.clock.Now()
	var due []held
	for len(h.q) > 0 && !h.q[0].due.After(now) {
		it := heap.Pop(&h.q).(held)
		if it.stall {
			if st, ok := h.stalled[it.r]; !ok || st.seq != it.seq {
				continue // already released
			}
			delete(h.stalled, it.r)
		}
		due = append(due, it)
	}
	if !h.armed.After(now) {
		h.timer, h.armed = nil, time.Time{}
	}
	if len(h.q) > 0 && !h.closed {
		h.armLocked(h.q[0].due)
	}
	h.mu.Unlock()
	for _, it := range due {
		if it.stall {
			h.drop(it.r, rpc.CodeQueryTimeout, "engines: stalled request released after its deadline")
			continue
		}
		h.serve(it.r, it.fail)
	}
}

// setStall records Faults.Stall; turning it off serves every stalled
// request now.
func (h *holder) setStall(on bool) {
	h.mu.Lock()
	was := h.stalling
	h.stalling = on
	if on || !was {
		h.mu.Unlock()
		return
	}
	rs := h.stalled
	h.stalled = make(map[*server.Request]stalledReq)
	h.mu.Unlock()
	for r, st := range rs {
		h.serve(r, st.fail)
	}
}

// close stops holding: delayed requests are served now, stalled ones
// answered GRACEFUL_SHUTDOWN, and later requests are not held. It waits
// for running timers.
func (h *holder) close() {
	h.mu.Lock()
	h.closed = true
	if h.timer != nil && h.timer.Stop() {
		h.timers.Done()
	}
	h.timer, h.armed = nil, time.Time{}
	q := h.q
	h.q = nil
	stalled := h.stalled
	h.stalled = map[*server.Request]stalledReq{}
	h.mu.Unlock()
	for _, it := range q {
		if !it.stall {
			h.serve(it.r, it.fail)
		}
	}
	for r := range stalled {
		h.drop(r, rpc.CodeGracefulShutdown, "engines: shutting down")
	}
	h.timers.Wait()
}

// counts reports the requests delayed and stalled now.
func (h *holder) counts() (delayed, stalled int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.q) - h.stallTimeoutsLocked(), len(h.stalled)
}

func (h *holder) stallTimeoutsLocked() int {
	n := 0
	for _, it := range h.q {
		if it.stall {
			n++
		}
	}
	return n
}

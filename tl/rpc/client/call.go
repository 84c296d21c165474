package client

import (
	"sync/atomic"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// Bits of call.state. They order the sender (who reads head and body
// until WritePacket returns) against a completion that comes meanwhile
// (timer, loss, cancel): such a completion only records its error and
// leaves delivery to the sender, so a Done handler never runs while the
// request bytes are still being read, and a call is never recycled under
// its sender.
const (
	stSending uint32 = 1 << iota
	stDone
)

// call is one pending request. Calls are pooled per slot; s is fixed for
// the life of the struct, so a timer callback can find its lock without
// reading fields that a later use would rewrite.
type call struct {
	s *slot

	// Guarded by s.mu while the call is in s.tab.
	qid   int64
	cn    *conn // connection it was written to; nil while queued
	timer *time.Timer
	armed bool
	// noReuse: the timer fired while another owner completed the call, so
	// its callback may still read qid; never recycle the struct.
	noReuse bool

	noResult bool
	tl2      bool
	h        Handler
	token    uint64
	dst      *Response // Do: where the answer is copied; may be nil
	done     chan struct{}
	err      error
	state    atomic.Uint32

	head    []byte // query_id and headers
	body    []byte // caller's body, or bodyBuf while queued
	bodyBuf []byte
	inv     rpc.InvokeReq
	scratch [8]byte
}

// arm starts the local deadline timer; s.mu must be held, so that the
// owner who removes the call sees armed consistently.
func (c *call) arm(deadline time.Time) {
	if deadline.IsZero() {
		return
	}
	d := time.Until(deadline)
	if c.timer == nil {
		c.timer = time.AfterFunc(d, c.expire)
	} else {
		c.timer.Reset(d)
	}
	c.armed = true
}

// disarm stops the timer after the call left the table; s.mu held.
func (c *call) disarm() {
	if !c.armed {
		return
	}
	c.armed = false
	if !c.timer.Stop() {
		c.noReuse = true
	}
}

// expire is the timer callback. A late callback for a call already
// completed finds it gone from the table and does nothing.
func (c *call) expire() {
	s := c.s
	s.mu.Lock()
	if !s.tab.remove(c.qid, c) {
		s.mu.Unlock()
		return
	}
	c.armed = false
	retire := s.detachLocked(c)
	s.mu.Unlock()
	retire.closeIfDrained()
	s.cl.stats.timeouts.Add(1)
	c.finish(ErrTimeout)
}

// finish completes a call with a local failure (resp nil). The caller has
// removed it from the table, so it is the only completer.
func (c *call) finish(err error) {
	c.err = err
	if c.state.Or(stDone)&stSending != 0 {
		return // the sender delivers once WritePacket returns
	}
	c.deliver(nil)
}

// sent is called by the sender after WritePacket; it delivers a
// completion that arrived meanwhile.
func (c *call) sent() {
	if c.state.And(^stSending)&stDone != 0 {
		c.deliver(nil)
	}
}

// deliver hands the outcome to the waiter: Do's channel, or the Handler
// after recycling the call (so that Done may start another call with it).
func (c *call) deliver(resp *Response) {
	c.s.cl.stats.inFlight.Add(-1)
	if c.h == nil {
		c.done <- struct{}{}
		return
	}
	h, token, err := c.h, c.token, c.err
	c.s.release(c)
	h.Done(token, resp, err)
}

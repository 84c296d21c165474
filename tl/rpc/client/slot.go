package client

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// slot is one of the Client's Conns connection slots: a dial loop keeping
// one current connection up, the pending table of every call sent or
// queued on it, and connections still draining after rpcServerWantsFin.
// One mutex guards the table and the connection pointers; it is held only
// for table operations, never across I/O or callbacks.
type slot struct {
	cl   *Client
	pool sync.Pool
	wake chan struct{} // cap 1: the current connection retired (lost or fin)
	up   atomic.Bool   // cur != nil, for picking a slot without the lock

	mu      sync.Mutex
	tab     table
	cur     *conn
	live    []*conn // cur and draining connections
	waiting []entry // calls queued while not connected, in order
	downErr error   // *ConnError of the last failed dial; nil once up
	closed  bool
}

func newSlot(cl *Client) *slot {
	s := &slot{cl: cl, wake: make(chan struct{}, 1)}
	s.pool.New = func() any { return &call{s: s, done: make(chan struct{}, 1)} }
	return s
}

func (s *slot) get() *call { return s.pool.Get().(*call) }

// release returns a completed call to the pool, dropping references to
// caller memory.
func (s *slot) release(c *call) {
	if c.noReuse {
		return
	}
	c.cn, c.h, c.dst, c.err, c.body = nil, nil, nil, nil, nil
	c.state.Store(0)
	if cap(c.bodyBuf) > 64<<10 {
		c.bodyBuf = nil // a huge queued body is not kept per pooled call
	}
	if cap(c.head) > 64<<10 {
		c.head = nil
	}
	s.pool.Put(c)
}

// detachLocked accounts for a call that left the table while sent on a
// connection, and returns that connection if it is draining and now idle.
func (s *slot) detachLocked(c *call) *conn {
	cn := c.cn
	if cn == nil {
		return nil
	}
	cn.inflight--
	if cn.draining && cn.inflight == 0 {
		return cn
	}
	return nil
}

// submit sends c or queues it. A non-nil error means the call was not
// accepted: nothing will be delivered and the caller releases c. On nil,
// the outcome is delivered exactly once, possibly before submit returns.
func (s *slot) submit(c *call, deadline time.Time) error {
	// Counted before it can be delivered, so the gauge never dips below 0.
	s.cl.stats.inFlight.Add(1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.cl.stats.inFlight.Add(-1)
		return ErrClosed
	}
	cn := s.cur
	if cn == nil {
		if s.cl.opts.FailFast && s.downErr != nil {
			err := s.downErr
			s.mu.Unlock()
			s.cl.stats.inFlight.Add(-1)
			return err
		}
		// Queued: the caller may reuse its body once we return.
		c.bodyBuf = append(c.bodyBuf[:0], c.body...)
		c.body = c.bodyBuf
		c.cn = nil
		s.tab.put(c.qid, c)
		s.compactWaitingLocked()
		s.waiting = append(s.waiting, entry{c.qid, c})
		c.arm(deadline)
		s.mu.Unlock()
		return nil
	}
	c.cn = cn
	if !c.noResult {
		cn.inflight++
		s.tab.put(c.qid, c)
		c.arm(deadline)
		c.state.Store(stSending)
	}
	s.mu.Unlock()
	if err := s.write(c); err != nil {
		s.cl.stats.inFlight.Add(-1)
		return err
	}
	return nil
}

// compactWaitingLocked drops queue entries of calls that completed while
// queued (deadline, cancel), so that a long outage with short deadlines
// does not grow the queue without bound. It runs only when at least half
// the entries could be stale, which keeps it amortised O(1) per call.
func (s *slot) compactWaitingLocked() {
	if len(s.waiting) < 64 || len(s.waiting) < 2*s.tab.n {
		return
	}
	kept := s.waiting[:0]
	for _, w := range s.waiting {
		if s.tab.get(w.qid) == w.c {
			kept = append(kept, w)
		}
	}
	clear(s.waiting[len(kept):])
	s.waiting = kept
}

// write sends an accepted call on c.cn and, for no_result calls, delivers
// at once. A non-nil error means the write failed and the call was taken
// back (removed from the table by us), so the caller must report the
// error; a failure noticed by another owner is delivered by that owner.
func (s *slot) write(c *call) error {
	cn := c.cn
	if c.noResult {
		if err := cn.pc.WritePacket(rpc.TypeInvokeReq, c.head, c.body); err != nil {
			return s.writeError(cn, err)
		}
		s.cl.stats.sent.Add(1)
		c.deliver(nil)
		return nil
	}
	err := cn.pc.WritePacket(rpc.TypeInvokeReq, c.head, c.body)
	if err == nil {
		s.cl.stats.sent.Add(1)
		c.sent()
		return nil
	}
	s.mu.Lock()
	mine := s.tab.remove(c.qid, c)
	var retire *conn
	if mine {
		c.disarm()
		retire = s.detachLocked(c)
	}
	s.mu.Unlock()
	retire.closeIfDrained()
	if !mine {
		c.sent() // someone else completed it (loss, timer): they recorded why
		return nil
	}
	c.state.Store(0)
	return s.writeError(cn, err)
}

func (s *slot) writeError(cn *conn, err error) error {
	if cn.pc.Err() == nil { // the connection is fine: the request is at fault
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return &ConnError{Addr: s.cl.addr, Err: ErrConnLost, Cause: err}
}

// abort completes c with cause if it is still pending: Do's context ended,
// or Cancel was called. A canceled (not timed out) request already sent
// gets an rpcCancelReq when the peer supports it; after a local timeout
// none is sent, because the server's own timer fires (wire.md §4.7).
func (s *slot) abort(c *call, qid int64, canceled bool) bool {
	s.mu.Lock()
	if !s.tab.remove(qid, c) {
		s.mu.Unlock()
		return false
	}
	c.disarm()
	cn := c.cn
	retire := s.detachLocked(c)
	s.mu.Unlock()
	if !canceled {
		s.cl.stats.timeouts.Add(1)
		c.finish(ErrTimeout)
		retire.closeIfDrained()
		return true
	}
	if cn != nil && cn.cancelOK {
		_ = cn.pc.WritePacket(rpc.TypeCancelReq, rpc.AppendCancelReq(c.scratch[:0], c.qid), nil)
	}
	retire.closeIfDrained()
	s.cl.stats.canceled.Add(1)
	c.finish(ErrCanceled)
	return true
}

// failLocked removes every call matching pred from the table, appending
// them to dst for the caller to finish outside the lock.
func (s *slot) failLocked(dst []*call, pred func(*call) bool) []*call {
	start := len(dst)
	for _, e := range s.tab.e {
		if e.c != nil && pred(e.c) {
			dst = append(dst, e.c)
		}
	}
	for _, c := range dst[start:] {
		s.tab.remove(c.qid, c)
		c.disarm()
	}
	return dst
}

// run is the slot's dial loop: connect, publish, wait until the
// connection retires, reconnect. Delay is 0 after rpcServerWantsFin or a
// connection that was up for at least MinReconnectDelay, else exponential
// with full jitter. OnState is called from here only, so reports for one
// slot never overlap.
func (s *slot) run() {
	defer s.cl.wg.Done()
	o := &s.cl.opts
	fails := 0
	reportedDown := false
	for {
		cn, err := s.connect()
		if err != nil {
			if s.cl.ctx.Err() != nil {
				return
			}
			fails++
			ce := s.dialFailed(err)
			if !reportedDown {
				reportedDown = true
				s.cl.report(false, ce)
			}
			if !s.sleep(o.backoff(fails)) {
				return
			}
			continue
		}
		if !s.publish(cn) {
			return
		}
		reportedDown = false
		s.cl.report(true, nil)
		select {
		case <-s.wake:
		case <-s.cl.ctx.Done():
			return
		}
		lost := cn.lossErr()
		if lost != nil {
			reportedDown = true
			s.cl.report(false, lost)
		}
		// After rpcServerWantsFin, or a loss of a connection that was up
		// a while, redial at once; a connection lost right after it came
		// up is flapping, so back off as after a failed dial.
		if lost == nil || time.Since(cn.born) >= o.MinReconnectDelay {
			fails = 0
			continue
		}
		fails++
		if !s.sleep(o.backoff(fails)) {
			return
		}
	}
}

func (s *slot) sleep(d time.Duration) bool {
	if d <= 0 {
		return s.cl.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.cl.ctx.Done():
		return false
	}
}

// connect dials and handshakes, both bounded by DialTimeout and aborted
// by Close.
func (s *slot) connect() (*conn, error) {
	o := &s.cl.opts
	ctx, cancel := context.WithTimeout(s.cl.ctx, o.DialTimeout)
	defer cancel()
	if o.isUDP() {
		return s.connectUDP(ctx)
	}
	nc, err := o.Dial(ctx, o.Network, s.cl.addr)
	if err != nil {
		return nil, fmt.Errorf("rpc/client: dial: %w", err)
	}
	// The handshake reads with its own deadlines; closing the socket is
	// the only way to end it early.
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	pc, err := packet.ClientHandshake(nc, o.Packet)
	if !stop() {
		if err == nil {
			_ = pc.Close()
		}
		return nil, fmt.Errorf("rpc/client: handshake: %w", ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("rpc/client: handshake: %w", err)
	}
	return newConn(s, pc), nil
}

// dialFailed marks the slot down; with FailFast, queued calls fail now.
func (s *slot) dialFailed(err error) *ConnError {
	ce := &ConnError{Addr: s.cl.addr, Err: ErrNoConnection, Cause: err}
	s.cl.stats.dialErrors.Add(1)
	s.cl.opts.Logger.Warn("rpc/client: connect failed", "addr", s.cl.addr, "err", err)
	var victims []*call
	s.mu.Lock()
	s.downErr = ce
	if s.cl.opts.FailFast {
		victims = s.failLocked(nil, func(c *call) bool { return c.cn == nil })
		s.waiting = s.waiting[:0]
	}
	s.mu.Unlock()
	for _, c := range victims {
		s.cl.stats.failed.Add(1)
		c.finish(ce)
	}
	return ce
}

// publish makes cn current, starts its reader and sends the queued calls.
func (s *slot) publish(cn *conn) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = cn.pc.Close()
		return false
	}
	s.cur = cn
	s.up.Store(true)
	s.live = append(s.live, cn)
	s.downErr = nil
	batch := make([]*call, 0, len(s.waiting))
	for _, w := range s.waiting {
		c := w.c
		if s.tab.get(w.qid) != c {
			continue // completed while queued (timeout, cancel)
		}
		c.cn = cn
		if c.noResult {
			s.tab.remove(c.qid, c)
			c.disarm()
		} else {
			cn.inflight++
			c.state.Store(stSending)
		}
		batch = append(batch, c)
	}
	clear(s.waiting)
	s.waiting = s.waiting[:0]
	s.mu.Unlock()

	s.cl.stats.connects.Add(1)
	s.cl.opts.Logger.Info("rpc/client: connected", "addr", s.cl.addr, "local", cn.local,
		"udp", cn.udp, "version", cn.version, "encrypted", cn.crypto)
	s.cl.wg.Add(1)
	go cn.read()
	for _, c := range batch {
		if !c.noResult && c.state.Load()&stDone != 0 {
			c.sent() // timed out between the lock and here: do not send
			continue
		}
		if err := s.write(c); err != nil {
			c.finish(err)
		}
	}
	return true
}

// retire takes cn out of service as the current connection; it reports
// whether cn was current (and the dial loop was woken).
func (s *slot) retireLocked(cn *conn) bool {
	if s.cur != cn {
		return false
	}
	s.cur = nil
	s.up.Store(false)
	return true
}

func (s *slot) wakeLoop() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *slot) dropLocked(cn *conn) {
	for i, x := range s.live {
		if x == cn {
			s.live = append(s.live[:i], s.live[i+1:]...)
			return
		}
	}
}

// close fails queued calls and closes every connection; the readers fail
// the calls in flight.
func (s *slot) close() {
	s.mu.Lock()
	s.closed = true
	live := append([]*conn(nil), s.live...)
	victims := s.failLocked(nil, func(c *call) bool { return c.cn == nil })
	s.waiting = nil
	s.mu.Unlock()
	for _, c := range victims {
		c.finish(ErrClosed)
	}
	for _, cn := range live {
		_ = cn.pc.Close()
	}
}

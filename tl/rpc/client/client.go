package client

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// Client is a multiplexed TL RPC client for one address. It is safe for
// concurrent use; create one per upstream and Close it when done.
type Client struct {
	addr  string
	opts  Options
	slots []*slot
	qid   atomic.Int64
	rr    atomic.Uint32
	stats counters

	startOnce sync.Once
	closeOnce sync.Once
	ctx       context.Context // canceled by Close: aborts dials and backoff sleeps
	cancel    context.CancelFunc
	wg        sync.WaitGroup // dial loops and readers

	udpMu  sync.Mutex
	ownUDP *udp.Transport // made on first UDP dial when Options.UDP is nil
}

// New returns a Client for addr. Nothing is dialed until the first call.
func New(addr string, opts Options) (*Client, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	cl := &Client{addr: addr, opts: o}
	cl.ctx, cl.cancel = context.WithCancel(context.Background())
	cl.slots = make([]*slot, o.Conns)
	for i := range cl.slots {
		cl.slots[i] = newSlot(cl)
	}
	// Query ids: random start so that a restarted client does not reuse
	// the ids of its predecessor on a server that still remembers them.
	cl.qid.Store(rand.Int64())
	return cl, nil
}

// Addr is the address the Client calls.
func (cl *Client) Addr() string { return cl.addr }

// nextQID returns a positive, never-zero id, unique per Client.
func (cl *Client) nextQID() int64 {
	for {
		if id := cl.qid.Add(1) & math.MaxInt64; id != 0 {
			return id
		}
	}
}

func (cl *Client) startAll() {
	for _, s := range cl.slots {
		s.mu.Lock()
		if !s.closed {
			cl.wg.Add(1)
			go s.run()
		}
		s.mu.Unlock()
	}
}

// pick spreads calls round-robin over the slots that are up, falling back
// to the round-robin choice when none is.
func (cl *Client) pick() *slot {
	n := uint32(len(cl.slots))
	if n == 1 {
		return cl.slots[0]
	}
	i := cl.rr.Add(1)
	for k := range n {
		if s := cl.slots[(i+k)%n]; s.up.Load() {
			return s
		}
	}
	return cl.slots[i%n]
}

// prepare validates req, computes its timeout and builds the envelope
// into a pooled call.
func (cl *Client) prepare(req *Request, deadline time.Time) (*call, time.Time, error) {
	if len(req.Body) < 4 {
		return nil, time.Time{}, fmt.Errorf("%w: body of %d bytes has no function tag", ErrBadRequest, len(req.Body))
	}
	ms, local, err := requestTimeout(&req.Extra, deadline, cl.opts.DefaultTimeout, cl.opts.TimeoutGrace, cl.opts.Now())
	if err != nil {
		if err == ErrTimeout {
			cl.stats.timeouts.Add(1)
		}
		return nil, time.Time{}, err
	}
	cl.startOnce.Do(cl.startAll)
	s := cl.pick()
	c := s.get()
	c.qid = cl.nextQID()
	if req.Header != nil {
		c.head = append(tl.AppendInt64(c.head[:0], c.qid), req.Header...)
	} else {
		c.inv = rpc.InvokeReq{QueryID: c.qid, ActorID: req.ActorID, Extra: req.Extra, TL2: req.TL2}
		c.inv.Extra.SetCustomTimeoutMs(ms)
		c.head = rpc.AppendInvokeReqHeader(c.head[:0], &c.inv)
		c.inv = rpc.InvokeReq{} // drop references to the caller's extra
	}
	if n := len(c.head) + len(req.Body); n > packet.MaxBodyLen {
		s.release(c)
		return nil, time.Time{}, fmt.Errorf("%w: request of %d bytes, max %d", ErrBadRequest, n, packet.MaxBodyLen)
	}
	c.body = req.Body
	c.noResult = req.Extra.Flags&rpc.FlagNoResult != 0
	c.tl2 = req.TL2
	return c, local, nil
}

// Do sends req and waits for the answer, which is copied into resp (nil
// discards it). The context's deadline becomes custom_timeout_ms and the
// local deadline; cancellation sends rpcCancelReq. Errors: *rpc.Error for
// an error answer (resp holds it too), ErrTimeout, ErrCanceled, a
// *ConnError (ErrConnLost, ErrNoConnection), ErrClosed, ErrBadRequest.
// A no_result request returns once it is queued for writing.
func (cl *Client) Do(ctx context.Context, req *Request, resp *Response) error {
	if err := ctx.Err(); err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return ErrTimeout
		}
		return ErrCanceled
	}
	deadline, _ := ctx.Deadline()
	c, local, err := cl.prepare(req, deadline)
	if err != nil {
		return err
	}
	if resp != nil {
		resp.Reset()
	}
	c.dst = resp
	s := c.s
	if err := s.submit(c, local); err != nil {
		s.release(c)
		return err
	}
	if done := ctx.Done(); done == nil {
		<-c.done // a context that never ends: skip the select
	} else {
		select {
		case <-c.done:
		case <-done:
			s.abort(c, c.qid, ctx.Err() != context.DeadlineExceeded)
			<-c.done
		}
	}
	err = c.err
	s.release(c)
	return err
}

// Go starts req and returns at once; h.Done(token, ...) reports the
// outcome exactly once unless Go returns an error (then never). deadline
// (zero = none) is the local deadline and caps custom_timeout_ms as in
// Do. Nothing is allocated per call in steady state and no goroutine is
// started. The returned query id can be passed to Cancel.
func (cl *Client) Go(req *Request, deadline time.Time, h Handler, token uint64) (int64, error) {
	if h == nil {
		return 0, fmt.Errorf("%w: nil Handler", ErrBadRequest)
	}
	c, local, err := cl.prepare(req, deadline)
	if err != nil {
		return 0, err
	}
	c.h, c.token = h, token
	qid := c.qid
	s := c.s
	if err := s.submit(c, local); err != nil {
		s.release(c)
		return 0, err
	}
	return qid, nil
}

// Cancel cancels a call started by Go if it is still pending: its Handler
// gets ErrCanceled (on this goroutine) and the server an rpcCancelReq. It
// reports whether the call was still pending.
func (cl *Client) Cancel(qid int64) bool {
	for _, s := range cl.slots {
		s.mu.Lock()
		c := s.tab.get(qid)
		s.mu.Unlock()
		if c != nil {
			return s.abort(c, qid, true)
		}
	}
	return false
}

// Close fails every pending call with ErrClosed, closes the connections
// (and the Client's own UDP Transport, not Options.UDP) and waits for the
// Client's goroutines to exit. Calls after Close fail with ErrClosed. It
// is idempotent.
func (cl *Client) Close() error {
	cl.closeOnce.Do(func() {
		cl.cancel()
		for _, s := range cl.slots {
			s.close()
		}
	})
	cl.wg.Wait()
	cl.closeUDP()
	return nil
}

// report calls OnState if set.
func (cl *Client) report(up bool, err error) {
	if cl.opts.OnState != nil {
		cl.opts.OnState(cl.addr, up, err)
	}
}

package rpcproxy

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/route"
	"github.com/rpcproxy/rpcproxy/rpcproxy/upstream"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// forward is one request on its way through the proxy, from ServeRPC to
// the reply. Pooled: nothing on the request path allocates in steady state.
type forward struct {
	p     *Proxy
	r     *server.Request // nil once replied (no_result requests reply at once)
	rep   *replier
	gen   *generation
	c     *route.Cluster
	fn    *route.Function // the function in c (counters, rules); nil if unknown
	shard *route.Shard
	idx   int // replica index in shard
	e     *upstream.Engine
	qid   atomic.Int64 // the engine's query id, for cancels
	start time.Time
	// due is the request's deadline, toward every replica it is sent to.
	due time.Time

	req rpc.InvokeReq // the envelope as forwarded
	hdr []byte        // the forwarded envelope

	// A function marked retry keeps its call in body (the app's bytes
	// are valid only during ServeRPC) and may be sent once more (again).
	body   []byte
	retry  bool // may still be retried
	resent bool // sent again: not part of the app reader's burst

	// The answer, filled on the engine's reader goroutine.
	buf  []byte
	res  rpc.ReqResult
	fail error

	// The app connection's calls in flight (replier.calls), guarded by
	// the replier's mutex.
	prevCall, nextCall *forward
	listed             bool

	// scat is the fan-out state of a request sent to several shards;
	// created on the first fan-out and kept across recycles.
	scat *scatter
	// fan: this request is a fan-out (scat is in use), so a cancel goes
	// to its sub-calls. Set before track, cleared by recycle after push
	// unlinked it, so CancelRPC reads it under the replier's mutex.
	fan bool
}

var _ upstream.Call = (*forward)(nil)

// handler serves one listener's requests.
type handler struct {
	p      *Proxy
	listen netip.AddrPort // as configured: the routing key of a cluster port
}

var (
	_ server.Handler  = (*handler)(nil)
	_ server.Canceler = (*handler)(nil)
)

// ServeRPC routes and forwards one request. It runs on the app
// connection's reader goroutine and never blocks: every failure is an
// immediate reply.
func (h *handler) ServeRPC(r *server.Request) {
	p := h.p
	// One clock read per burst of requests on this app connection: the
	// reader flushes its batch before it waits, which starts a new one.
	now := r.Batch().Now(p.opts.Now)
	g := p.acquireGen()
	t := g.tab
	c, err := t.Lookup(h.listen, &r.InvokeReq)
	if err != nil {
		p.noTarget.Add(1)
		g.release()
		r.ReplyErr(err)
		return
	}
	c.Stats.Requests.Add(1)
	fn := c.Function(&r.InvokeReq)
	if fn != nil {
		fn.Stats.Requests.Add(1)
		if lerr := fn.Limit(now); lerr != nil {
			// Over its function's rate_limit: refused before any work.
			c.Stats.RateLimited.Add(1)
			c.Stats.Errors.Add(1)
			fn.Stats.Errors.Add(1)
			g.release()
			r.ReplyErr(lerr)
			return
		}
	}
	f := p.getForward()
	f.r, f.gen, f.c, f.fn, f.start = r, g, c, fn, now
	f.req = r.InvokeReq // the server's copy stays as received: it masks the answer's extra
	f.req.StripActor()
	if sp, rule, call := t.Spread(c, &f.req); sp != route.One {
		h.spread(f, sp, rule, call, now)
		return
	}
	i, key, err := t.ShardKey(c, &f.req)
	if err != nil {
		c.Stats.NoTarget.Add(1)
		f.finish(err)
		return
	}
	f.shard = &c.Shards[i]
	if err := f.pickReplica(); err != nil {
		c.Stats.Refused.Add(1)
		f.finish(err)
		return
	}
	deadline, left := f.deadline(now)
	if left <= 0 {
		f.countTimeout()
		f.abandon() // never sent: it says nothing about the replica
		f.finish(errExpired)
		return
	}
	noResult := f.envelope(left)
	f.due = deadline
	if !noResult && fn != nil && fn.Retry {
		f.retry = true
		f.body = append(f.body[:0], f.req.Body...)
		f.req.Body = f.body
	}

	if c.Shadow != nil {
		if to, si := c.ShadowShard(fn, key); to != nil {
			p.sendShadow(f, to, si, r.Batch(), now, deadline)
		}
	}

	// After a successful Send the answer may arrive on another goroutine
	// at once: f belongs to it, so everything f needs is set before.
	var rep *replier
	if noResult {
		f.r = nil
	} else {
		rep = connReplier(r)
		rep.track(f)
	}
	if err := f.e.Send(f, f.hdr, f.req.Body, now, deadline); err != nil {
		if err = f.again(err, now); err != nil {
			if rep != nil {
				rep.untrack(f)
			}
			c.Stats.Refused.Add(1)
			f.fail = err // a refusal (backlog, no connection) is the replica's failure
			f.release(now)
			f.r, f.rep = r, nil
			f.finish(err)
			return
		}
	}
	if noResult {
		r.Reply(nil) // writes nothing: the app asked for no answer
	}
}

// deadline is f's deadline and the time left until it: the app's
// custom_timeout_ms from its arrival less the cluster's margin (so the
// proxy's QUERY_TIMEOUT reaches the app before the app's own timer
// fires), else the cluster's timeout from now. It reads the app's
// timeout, so it runs before envelope rewrites it.
func (f *forward) deadline(now time.Time) (time.Time, time.Duration) {
	d, ok := f.r.Deadline()
	if !ok {
		d = now.Add(f.c.Timeout)
	} else if ms, ok := f.req.Extra.Timeout(); ok {
		d = d.Add(-margin(time.Duration(ms)*time.Millisecond, f.c.Margin))
	}
	return d, d.Sub(now)
}

// margin is how much of an app's timeout the proxy keeps for itself: the
// configured margin, at most a tenth of the timeout.
func margin(timeout, configured time.Duration) time.Duration {
	return min(configured, timeout/10)
}

// envelope writes f.hdr, the envelope forwarded to the engines, for a
// request with left to run: the app's remaining time becomes
// custom_timeout_ms, and no_result is cleared (wire.md §4.3: the proxy
// waits for the answer itself, so every request is accounted to its
// engine's health; the app is answered, with nothing, at once). It
// reports whether the app asked for no result.
func (f *forward) envelope(left time.Duration) (noResult bool) {
	noResult = f.req.Extra.NoResult()
	f.req.Extra.ClearNoResult()
	f.req.Extra.SetCustomTimeoutMs(int32((left + time.Millisecond - 1) / time.Millisecond))
	f.hdr = rpc.AppendInvokeReqHeader(f.hdr[:0], &f.req)
	return noResult
}

// Sent records the engine query id, for cancels.
func (f *forward) Sent(qid int64) { f.qid.Store(qid) }

// pickReplica chooses the shard's replica for f.
func (f *forward) pickReplica() error {
	i, e, err := pickReplica(f.shard, f.c.Failover)
	if err != nil {
		return err
	}
	f.idx, f.e = i, e
	return nil
}

// again sends f once more, to another replica of its shard, after err
// ended its try on f.e. A refusal (the request was not sent) moves on
// whenever the cluster allows failover; a lost connection (the engine may
// have run it: Engine.Lost) only for a function marked retry, and within
// the cluster's retry budget. Once per request, and only before its
// deadline. It returns nil when f is on its way again: then f belongs to
// its new engine, and the caller must not touch it. Otherwise it returns
// the error to answer (err, or the other replica's refusal), and f's
// accounting on f.e is still open.
//
// It runs on the app reader (a refused Send in ServeRPC) or on the lost
// engine's reader (Fail); the resent request leaves at once, in no
// reader's burst.
func (f *forward) again(err error, now time.Time) error {
	c := f.c
	lost := f.e.Lost(err)
	if !c.Failover || (lost && !f.retry) || f.resent || !now.Before(f.due) {
		return err
	}
	i, e, ok := retryTarget(c, f.shard, f.idx, lost, now)
	if !ok {
		return err
	}
	// Close the failed try: it counts against its replica.
	f.fail = err
	f.release(now)
	f.fail = nil
	f.setEngine(i, e)
	f.resent, f.retry = true, false
	return f.e.Send(f, f.hdr, f.req.Body, now, f.due)
}

// retryTarget is the replica of shard s (of cluster c) that a request,
// or a sub-request, failed on replica idx goes to next: the next usable
// one (pickOther, which counts it as started), for a lost connection
// (lost) only within the cluster's retry budget, and counted as a retry.
// ok false: no other replica, or no budget left; the request stays failed.
func retryTarget(c *route.Cluster, s *route.Shard, idx int, lost bool, now time.Time) (int, *upstream.Engine, bool) {
	i, e, ok := pickOther(s, idx)
	if !ok {
		return 0, nil, false
	}
	if lost {
		if !c.Retry.Take(now, c.Stats.Requests.Load()) {
			dropTry(s, i, e)
			c.Stats.RetriesDenied.Add(1)
			return 0, nil, false
		}
		c.Stats.Retries.Add(1)
	}
	return i, e, true
}

// setEngine moves f to replica i of its shard, under the replier's lock
// that CancelRPC reads f.e and f.qid under.
func (f *forward) setEngine(i int, e *upstream.Engine) {
	if f.rep != nil {
		f.rep.mu.Lock()
		defer f.rep.mu.Unlock()
	}
	f.idx, f.e = i, e
	f.qid.Store(0)
}

// pickOther chooses a usable replica of shard s other than not (the one
// that just failed), the next one in config order, and counts the request
// as started on it as pickReplica does. Never another shard.
func pickOther(s *route.Shard, not int) (int, *upstream.Engine, bool) {
	n := len(s.Replicas)
	for k := 1; k < n; k++ {
		j := (not + k) % n
		e := s.Replicas[j]
		if h := e.Health(); h.Up() && h.TryStart() {
			s.Balancer.Start(j)
			return j, e, true
		}
	}
	return 0, nil, false
}

// pickReplica chooses a replica of shard s: the balancer's pick if it is
// up and under its in-flight cap, else (with failover) the next usable
// replica of the same shard in config order. Never another shard. The
// replica's health and balancer count the request as started.
func pickReplica(s *route.Shard, failover bool) (int, *upstream.Engine, error) {
	i, _ := s.Balancer.Pick() // nothing is ever marked down in the balancer: health is checked here
	n := len(s.Replicas)
	var refusal error
	for k := 0; k < n; k++ {
		j := (i + k) % n
		e := s.Replicas[j]
		h := e.Health()
		switch {
		case !h.Up():
			if refusal == nil {
				refusal = e.DownError()
			}
		case !h.TryStart():
			if refusal == nil {
				refusal = e.BusyError()
			}
		default:
			s.Balancer.Start(j)
			return j, e, nil
		}
		if !failover {
			break
		}
	}
	return 0, nil, refusal
}

// release ends the accounting of a request sent (or about to be sent) to
// f.e, answered or failed at now. A cancelled request is no latency sample
// and no failure of the replica (Balancer.Abandon).
func (f *forward) release(now time.Time) {
	if f.e == nil {
		return
	}
	if f.fail == errCancelled {
		f.abandon()
		return
	}
	endTry(f.shard, f.idx, f.e, f.latency(now), f.fail != nil)
}

// abandon ends the accounting of a request that never reached its engine
// (expired before it was sent) or that its app cancelled: no latency
// sample and no failure for the balancer (Balancer.Abandon).
func (f *forward) abandon() {
	if f.e == nil {
		return
	}
	dropTry(f.shard, f.idx, f.e)
}

// endTry closes the accounting pickReplica (or pickOther) opened for
// replica i of shard s, engine e: its in-flight count, and the balancer's
// sample of latency lat, failed or not.
func endTry(s *route.Shard, i int, e *upstream.Engine, lat time.Duration, failed bool) {
	e.Health().Finish()
	s.Balancer.Finish(i, lat, failed)
}

// dropTry closes it with no sample and no failure: the request never
// reached the replica, or its app cancelled it (Balancer.Abandon).
func dropTry(s *route.Shard, i int, e *upstream.Engine) {
	e.Health().Finish()
	s.Balancer.Abandon(i)
}

// countError, countTimeout and countLatency count f in its cluster and,
// when the schemas know its function, in the function's counters.
func (f *forward) countError() {
	f.c.Stats.Errors.Add(1)
	if f.fn != nil {
		f.fn.Stats.Errors.Add(1)
	}
}

func (f *forward) countTimeout() {
	f.c.Stats.Timeouts.Add(1)
	if f.fn != nil {
		f.fn.Stats.Timeouts.Add(1)
	}
}

func (f *forward) countLatency(lat time.Duration) {
	f.c.Stats.Observe(lat)
	if f.fn != nil {
		f.fn.Stats.Observe(lat)
	}
}

// latency is f's time from ServeRPC to now. Both readings are burst
// times (packet.Batch.Now), so an answer read in a burst that started
// before its request's could come out negative: that counts as 0.
func (f *forward) latency(now time.Time) time.Duration {
	return max(now.Sub(f.start), 0)
}

// finish replies with err (before anything was sent) and recycles f.
func (f *forward) finish(err error) {
	f.countError()
	r := f.r
	f.recycle()
	r.ReplyErr(err)
}

// Answer is called on the engine's reader goroutine: hand the answer to
// the app's replier, which writes it at once, never blocking.
func (f *forward) Answer(_ uint32, _ []byte, res *rpc.ReqResult, b *packet.Batch) {
	// On the engine's reader: one clock read per burst of answers.
	now := b.Now(f.p.opts.Now)
	lat := f.latency(now)
	f.c.Stats.Answers.Add(1)
	f.countLatency(lat)
	if res.IsError() {
		f.countError()
	}
	if f.isSlow(lat) {
		f.slow(lat, now, res.Err(), nil, nil)
	}
	f.release(now)
	if f.r == nil { // no_result: nobody waits
		f.recycle()
		return
	}
	// res aliases the engine's read buffer, valid until Answer returns;
	// push copies the answer into the app connection's pending writes
	// before that, so this is the answer's only copy and no re-parse.
	f.res = *res
	f.rep.push(f, b)
}

// Fail is called when the engine gave no answer (deadline, connection
// lost, engine removed). A lost connection may send the request again
// (again).
func (f *forward) Fail(err error) {
	now := f.p.now()
	if f.r != nil && f.retry {
		if err = f.again(err, now); err == nil {
			return
		}
	}
	if rerr, ok := err.(*rpc.Error); ok && rerr.Code == rpc.CodeQueryTimeout {
		f.countTimeout()
	}
	f.countError()
	f.fail = err
	if lat := f.latency(now); f.isSlow(lat) {
		f.slow(lat, now, err, nil, nil)
	}
	f.release(now)
	if f.r == nil {
		f.recycle()
		return
	}
	f.rep.push(f, nil)
}

// recycle returns f to the pool, releasing its table generation.
func (f *forward) recycle() {
	p, g := f.p, f.gen
	f.r, f.rep, f.gen, f.c, f.fn, f.shard, f.e, f.fail = nil, nil, nil, nil, nil, nil, nil, nil
	f.idx, f.fan = 0, false
	f.retry, f.resent, f.due = false, false, time.Time{}
	if cap(f.body) > maxKeptAnswer {
		f.body = nil // a rare huge call does not pin its memory in the pool
	}
	f.body = f.body[:0]
	f.qid.Store(0)
	f.req, f.res = rpc.InvokeReq{}, rpc.ReqResult{}
	f.buf, f.hdr = f.buf[:0], f.hdr[:0]
	if g != nil {
		g.release()
	}
	p.fwdPool.Put(f)
}

func (p *Proxy) getForward() *forward {
	f := p.fwdPool.Get().(*forward)
	f.p = p
	return f
}

// generation is one routing table in use. Requests hold it from ServeRPC
// to their reply; after a swap, the retired table's engines are released
// when its last request ends, so requests finish on the table they
// started with and engines that stay keep their connections.
type generation struct {
	tab *route.Table
	// slots holds the joined call being assembled per engine and
	// coalescing function (coalesce.go); made with the generation, read
	// without a lock.
	slots   map[joinKey]*joinSlot
	active  atomic.Int64
	retired atomic.Bool
	once    sync.Once
	drained func()
}

func (p *Proxy) acquireGen() *generation {
	for {
		g := p.gen.Load()
		g.active.Add(1)
		if p.gen.Load() == g {
			return g
		}
		g.release() // swapped meanwhile: use the new one
	}
}

func (g *generation) release() {
	if g.active.Add(-1) == 0 && g.retired.Load() {
		g.once.Do(g.drained)
	}
}

func (g *generation) retire() {
	g.retired.Store(true)
	if g.active.Load() == 0 {
		g.once.Do(g.drained)
	}
}

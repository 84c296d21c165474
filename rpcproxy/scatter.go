package rpcproxy

import (
	"sync/atomic"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/fanout"
	"github.com/rpcproxy/rpcproxy/rpcproxy/route"
	"github.com/rpcproxy/rpcproxy/rpcproxy/upstream"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// scatter is a request that leaves for several shards (route.Spread):
// one sub-call per shard, all sent from ServeRPC under the request's one
// deadline, and the merge (package fanout) when the last one is done. It
// belongs to its forward and is reused with it, so a fan-out allocates
// nothing in steady state.
//
//	ServeRPC: plan (split) or copy the call; for each shard: pick a
//	          replica (down or busy: Failed at once, never waited for),
//	          Send; pending counts the sub-calls in flight, plus one
//	          held by ServeRPC until every Send is done
//	engine reader / deadline sweep: sub.Answer or sub.Fail fills the
//	          shard's Answer; the last one (pending 0) merges into the
//	          forward's buffer and pushes it to the app's replier
//	app reader (CancelRPC): holds the scatter open (hold), passes
//	          rpcCancelReq to every sub-call still pending and ends the
//	          ones it removed; the app gets errCancelled at the end
//
// Who touches what, and when. pending is the scatter's lifetime: while it
// is above 0, finish has not run, so s, its subs and its forward are not
// reset or recycled. Whoever holds one of its counts (ServeRPC's hold,
// one per sub-call in flight, CancelRPC's hold) may read the subs; each
// sub's Answer slot and buf are written only by whoever finishes that
// sub-call: its engine's reader or sweeper (Answer, Fail), or the cancel
// when Engine.Cancel removed the call (then neither Answer nor Fail will
// come), never both. The sub's shard is written by spread before its Send
// and by reset, so it is stable while a count is held; idx and e also by a
// retry (sub.again, from Fail, which owns the sub-call then): e is atomic,
// and qid (atomic: set by Send, cleared by release) is cleared before e
// moves, which is how cancel reads a consistent pair. finish
// (pending 0) is alone with s: every count is gone. The decrement to 0
// orders every sub's writes before finish's reads.
//
// Cancels: a fan-out with an app waiting stays in its replier's calls
// list from spread until push (like a forward), so CancelRPC finds it
// under the replier's mutex; push unlinks it under that mutex before
// recycling it, so a forward found there is not recycled until the
// mutex is released. Under it, CancelRPC takes a count (hold) only if
// pending is still above 0 (a 0 means finish has begun: the answer is on
// its way), and then drops the mutex: the count keeps s alive. Lock
// order: none is nested. The replier's mutex is never held while calling
// the engine (Cancel takes the engine's mutex) or finishing, and engines
// call Answer and Fail without their mutex held.
type scatter struct {
	f       *forward
	spread  route.Spread
	rule    *fanout.Rule
	plan    *fanout.Plan    // Split
	call    []byte          // Merge, Diagonal: the call every shard gets
	answers []fanout.Answer // Merge, Diagonal (Split: plan.Answers)
	subs    []sub
	pending atomic.Int32
	// failedAsked: the app set return_failed_subqueries.
	failedAsked bool
	// retry: the function is marked retry, so a sub-call whose connection
	// is lost is sent once more to another replica (sub.again).
	retry bool
	// cancelled: CancelRPC removed at least one sub-call, so the app is
	// answered errCancelled. Written under a count of pending, read by
	// finish.
	cancelled atomic.Bool
	// held is what the shards' answers kept in the subs' buffers charge
	// to the proxy's budget of held answer bytes, given back by reset.
	held atomic.Int64
}

// maxKeptAnswer bounds the answer buffer a pooled sub-call keeps.
const maxKeptAnswer = 256 << 10

// sub is one shard's sub-call of a scatter.
type sub struct {
	s     *scatter
	shard *route.Shard
	idx   int
	// e is atomic because a retry (again) moves the sub-call to another
	// replica while a cancel may be reading it.
	e   atomic.Pointer[upstream.Engine]
	ans *fanout.Answer
	buf []byte
	cut []int32      // buf's layout when it is a part of a joined answer
	qid atomic.Int64 // the engine's query id, for cancels
	// A retry's own envelope (Send writes the query id into it; f.hdr
	// is shared by every sub-call), and whether it was made.
	hdr    []byte
	resent bool
	// batch is the app reader's burst, handed to Send (Batch) and
	// cleared there: the sub-requests of a burst's fan-outs leave with
	// one write per engine, not one each.
	batch *packet.Batch
}

var (
	_ upstream.Call    = (*sub)(nil)
	_ upstream.Batcher = (*sub)(nil)
)

// spread sends f to several shards. Like ServeRPC it never blocks; every
// failure before a sub-call is sent is an immediate reply.
func (h *handler) spread(f *forward, sp route.Spread, rule *fanout.Rule, call []byte, now time.Time) {
	r, c := f.r, f.c
	c.Stats.Fanouts.Add(1)
	deadline, left := f.deadline(now)
	if left <= 0 {
		f.countTimeout()
		f.finish(errExpired)
		return
	}
	if f.scat == nil {
		f.scat = &scatter{f: f}
	}
	s := f.scat
	s.spread, s.rule = sp, rule
	n := len(c.Shards)
	fan := f.gen.tab.Fanout()
	if sp == route.Split {
		plan, err := fan.Split(rule, call, c.Picker, n)
		if err != nil {
			c.Stats.NoTarget.Add(1)
			f.finish(&rpc.Error{Code: rpc.CodeSyntax, Description: "rpcproxy: cannot split " + rule.Function + ": " + err.Error()})
			return
		}
		s.plan = plan
	} else {
		s.call = append(s.call[:0], call...)
		if cap(s.answers) < n {
			s.answers = make([]fanout.Answer, n)
		}
		s.answers = s.answers[:n]
	}
	if cap(s.subs) < n {
		s.subs = make([]sub, n)
	}
	s.subs = s.subs[:n]
	s.failedAsked = f.req.Extra.Flags&rpc.FlagReturnFailedSubqueries != 0
	// A diagonal's sub-calls are its inner call, but the rule marks the
	// function, not rpcProxy.diagonal: they are not retried.
	s.retry = sp != route.Diagonal && f.fn != nil && f.fn.Retry
	f.due = deadline
	noResult := f.envelope(left) // f.hdr: every sub-call's envelope
	if noResult {
		f.r = nil
	} else {
		// Listed in the connection's calls in flight until push, so
		// CancelRPC finds it. CancelRPC runs on this same goroutine, so
		// it sees f only after this loop has sent every sub-call.
		f.fan = true
		connReplier(r).track(f)
	}
	// Everything the sub-calls need is set: from the first Send on, the
	// last answer may merge and reply on another goroutine, so s and f
	// are not touched after the loop except through done.
	s.pending.Store(1)
	batch := r.Batch()
	for i := range n {
		ans, body := s.slot(i)
		if ans == nil {
			continue
		}
		sb := &s.subs[i]
		sb.s, sb.shard, sb.ans = s, &c.Shards[i], ans
		idx, e, err := pickReplica(sb.shard, c.Failover)
		if err != nil {
			c.Stats.Refused.Add(1)
			c.Stats.SubFailed.Add(1)
			*ans = fanout.Answer{Status: fanout.Failed, Err: rpcError(err)}
			continue
		}
		sb.idx = idx
		sb.e.Store(e)
		s.pending.Add(1)
		if rule != nil && rule.Coalesce {
			// A joined sub-call holds no batch: it leaves at the seal, and
			// a later retry (again) runs elsewhere.
			if head, keys, tail, ok := s.plan.Layout(i); ok && f.gen.join(f.p, sb, e, f.hdr, head, keys, tail, now, deadline, batch) {
				continue
			}
		}
		sb.batch = batch
		if err := e.Send(sb, f.hdr, body, now, deadline); err != nil {
			sb.refused(err, now, batch) // never the last: spread's hold is counted
			continue
		}
		c.Stats.SubSent.Add(1)
	}
	s.done(batch)
	if noResult {
		r.Reply(nil) // writes nothing: the app asked for no answer
	}
}

// send sends sb, a sub-call a joined call left alone (coalesce.go), on
// its own to e, in burst b, after its spread has returned: a refusal ends
// it as spread would have.
//
// Once Send has succeeded, sb belongs to its engine: the answer may come
// back at once (a UDP engine's datagram leaves inside Send), and finish
// the request and recycle it, so nothing of sb or its request is touched
// after.
func (sb *sub) send(e *upstream.Engine, b *packet.Batch) {
	f := sb.s.f
	st := f.c.Stats
	_, body := sb.s.slot(sb.shard.Index)
	sb.batch = b
	if err := e.Send(sb, f.hdr, body, f.start, f.due); err != nil {
		sb.batch = nil
		sb.refused(err, b.Now(f.p.opts.Now), b)
		return
	}
	st.SubSent.Add(1)
}

// refused ends sb, which its engine refused at Send (not sent), at now,
// within burst b.
func (sb *sub) refused(err error, now time.Time, b *packet.Batch) {
	st := sb.s.f.c.Stats
	st.Refused.Add(1)
	st.SubFailed.Add(1)
	sb.release(true, now)
	*sb.ans = fanout.Answer{Status: fanout.Failed, Err: rpcError(err)}
	sb.s.done(b)
}

// slot returns shard i's Answer and the call it gets, or nil when shard i
// is not asked (a split shard without keys).
func (s *scatter) slot(i int) (*fanout.Answer, []byte) {
	if s.spread == route.Split {
		if !s.plan.Asked(i) {
			return nil, nil
		}
		return &s.plan.Answers[i], s.plan.Subs[i]
	}
	return &s.answers[i], s.call
}

func rpcError(err error) *rpc.Error {
	if e, ok := err.(*rpc.Error); ok {
		return e
	}
	return &rpc.Error{Code: rpc.CodeUnknown, Description: "rpcproxy: " + err.Error()}
}

// Batch is the app reader's burst the sub-request joins (see
// upstream.Batcher); Send asks for it once, before the sub-call is
// registered, on the goroutine that runs spread.
func (sb *sub) Batch() *packet.Batch {
	b := sb.batch
	sb.batch = nil
	return b
}

// Sent records the engine query id, for cancels.
func (sb *sub) Sent(qid int64) { sb.qid.Store(qid) }

// Answer copies the shard's answer out of the engine's read buffer.
func (sb *sub) Answer(_ uint32, _ []byte, res *rpc.ReqResult, b *packet.Batch) {
	failed := res.IsError()
	if failed {
		sb.s.f.c.Stats.SubFailed.Add(1)
		*sb.ans = fanout.Answer{Status: fanout.Failed, Err: &rpc.Error{Code: res.ErrorCode, Description: string(res.ErrorText)}}
		sb.end(true, b)
		return
	}
	if !sb.keep(len(res.Body), b) {
		return
	}
	sb.buf, sb.cut = append(sb.buf[:0], res.Body...), sb.cut[:0]
	sb.answered(b)
}

// keep charges an answer of n bytes, about to be kept until the merge, to
// the proxy's budget of held answer bytes (max_response_bytes_in_flight).
// Over the budget the shard counts as failed instead (its answer is
// dropped: a partial answer, or the function's error), and keep ends sb
// and returns false.
func (sb *sub) keep(n int, b *packet.Batch) bool {
	s := sb.s
	budget := s.f.p.limits.Budget()
	if budget.Over() {
		s.f.c.Stats.SubFailed.Add(1)
		*sb.ans = fanout.Answer{Status: fanout.Failed, Err: errHeldFull}
		sb.end(true, b)
		return false
	}
	budget.Charge(int64(n))
	s.held.Add(int64(n))
	return true
}

// answered ends sb with the answer in sb.buf, on an engine's reader
// working through burst b.
func (sb *sub) answered(b *packet.Batch) {
	*sb.ans = fanout.Answer{Status: fanout.OK, Body: sb.buf}
	if len(sb.cut) > 0 {
		sb.ans.Cut = sb.cut
	}
	sb.end(false, b)
}

// end releases sb's accounting and counts it done, on an engine's reader:
// one clock read per burst of answers, and the merged answer (when this
// is the last shard) joins the burst.
func (sb *sub) end(failed bool, b *packet.Batch) {
	s := sb.s
	sb.release(failed, b.Now(s.f.p.opts.Now))
	s.done(b)
}

// Fail records a shard that gave no answer (deadline, connection lost),
// unless the sub-call could be sent again (again).
func (sb *sub) Fail(err error) {
	if err = sb.again(err); err == nil {
		return
	}
	e := rpcError(err)
	st := sb.s.f.c.Stats
	if e.Code == rpc.CodeQueryTimeout {
		st.Timeouts.Add(1)
	}
	st.SubFailed.Add(1)
	*sb.ans = fanout.Answer{Status: fanout.Failed, Err: e}
	sb.release(true, sb.s.f.p.now())
	sb.s.done(nil)
}

// again sends the sub-call once more, to another replica of its shard,
// after its connection was lost: as forward.again does for a request sent
// to one shard (function marked retry, failover allowed, before the
// deadline, within the retry budget, once). nil: the sub-call is on its
// way again, and its new engine will finish it; otherwise the error that
// ends it, with its accounting still open.
func (sb *sub) again(err error) error {
	s := sb.s
	f, c := s.f, s.f.c
	e := sb.e.Load()
	if !s.retry || sb.resent || !c.Failover || !e.Lost(err) {
		return err
	}
	now := f.p.now()
	if !now.Before(f.due) {
		return err
	}
	i, next, ok := retryTarget(c, sb.shard, sb.idx, true, now)
	if !ok {
		return err
	}
	sb.release(true, now) // the failed try counts against its replica
	sb.idx, sb.resent = i, true
	sb.e.Store(next)
	_, body := s.slot(sb.shard.Index)
	sb.hdr = append(sb.hdr[:0], f.hdr...)
	return next.Send(sb, sb.hdr, body, now, f.due)
}

// release ends the accounting of the sub-call on its engine, answered
// or failed at now.
func (sb *sub) release(failed bool, now time.Time) {
	endTry(sb.shard, sb.idx, sb.e.Load(), sb.s.f.latency(now), failed)
	sb.qid.Store(0)
}

// abandon ends the accounting of a sub-call the app cancelled: no
// latency sample, no failure.
func (sb *sub) abandon() {
	dropTry(sb.shard, sb.idx, sb.e.Load())
	sb.qid.Store(0)
}

// done ends one sub-call (or ServeRPC's or CancelRPC's hold); the last
// one merges. b is the burst of the reader calling it (nil: none), which
// the answer joins. The caller must not touch s or its forward after.
func (s *scatter) done(b *packet.Batch) {
	if s.pending.Add(-1) == 0 {
		s.finish(b)
	}
}

// hold takes a count of pending for CancelRPC, unless the last count is
// gone already (finish has begun). CancelRPC calls it with the replier's
// mutex held and s's forward listed, so s is not recycled meanwhile.
func (s *scatter) hold() bool {
	for {
		n := s.pending.Load()
		if n <= 0 {
			return false
		}
		if s.pending.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// cancel passes rpcCancelReq to every sub-call still pending and ends
// the ones Engine.Cancel removed (no Answer or Fail will come for those);
// the others are finishing on their engines' goroutines. It runs on the
// app reader with a count taken by hold, and releases it, so the fan-out
// may finish (and reply) inside.
func (s *scatter) cancel() {
	for i := range s.subs {
		sb := &s.subs[i]
		// qid, then e, then qid again: a retry (again) clears qid before
		// it moves e, so an unchanged qid means e is the engine it is
		// pending on (or the call ended, and Cancel finds nothing).
		qid := sb.qid.Load()
		e := sb.e.Load()
		if qid == 0 || e == nil || sb.qid.Load() != qid {
			continue // not asked, refused before Send, ended, or moving
		}
		if !e.Cancel(qid) {
			continue // ended already, or its Answer or Fail runs now
		}
		// The cancel owns the sub-call now. As for a cancelled forward,
		// the balancer takes it as no sample (Balancer.Abandon).
		s.cancelled.Store(true)
		*sb.ans = fanout.Answer{Status: fanout.Failed, Err: errCancelled}
		sb.abandon()
		s.done(nil) // never the last: the hold is still counted
	}
	s.done(nil)
}

// finish merges the shards' answers into the forward's buffer and hands
// the forward to the app's replier, writing within burst b (if not nil).
func (s *scatter) finish(b *packet.Batch) {
	f := s.f
	fan := f.gen.tab.Fanout()
	c := f.c
	if s.cancelled.Load() {
		// Only a fan-out with an app waiting is listed, so f.r is set.
		s.reset()
		f.countError()
		f.fail = errCancelled
		f.rep.push(f, nil)
		return
	}
	var failed int
	var err *rpc.Error
	answers := s.answers
	switch s.spread {
	case route.Split:
		answers = s.plan.Answers
		f.buf, failed, err = fan.MergeSplit(f.buf[:0], s.rule, s.plan)
	case route.Merge:
		f.buf, failed, err = fan.Merge(f.buf[:0], s.rule, s.call, s.answers)
	default:
		f.buf, failed = fanout.Diagonal(f.buf[:0], s.answers)
	}
	now := b.Now(f.p.opts.Now)
	lat := f.latency(now)
	if f.isSlow(lat) {
		var e error // nil, not a nil *rpc.Error, when the merge succeeded
		if err != nil {
			e = err
		}
		f.slow(lat, now, e, s, answers)
	}
	s.reset()
	c.Stats.Answers.Add(1)
	f.countLatency(lat)
	if err != nil {
		f.countError()
		f.fail = err
		f.buf = f.buf[:0]
	} else {
		if failed > 0 {
			c.Stats.Partial.Add(1)
		}
		f.res = rpc.ReqResult{Body: f.buf}
		if s.failedAsked {
			f.res.HasExtra = true
			f.res.Extra.Flags = rpc.ResultFlagFailedSubqueries
			f.res.Extra.FailedSubqueries = int32(failed)
		}
	}
	if f.r == nil { // no_result: nobody waits
		f.recycle()
		return
	}
	f.rep.push(f, b)
}

// reset gives a split's plan back and drops the per-request references,
// keeping the buffers.
func (s *scatter) reset() {
	if n := s.held.Swap(0); n != 0 {
		s.f.p.limits.Budget().Charge(-n)
	}
	if s.plan != nil {
		s.f.gen.tab.Fanout().Release(s.plan)
		s.plan = nil
	}
	for i := range s.answers {
		s.answers[i] = fanout.Answer{}
	}
	for i := range s.subs {
		// buf, cut and hdr keep their arrays for the next fan-out, but a
		// rare huge answer does not pin its memory in the pool.
		buf, cut := s.subs[i].buf[:0], s.subs[i].cut[:0]
		if cap(buf) > maxKeptAnswer {
			buf = nil
		}
		if cap(cut)*4 > maxKeptAnswer {
			cut = nil
		}
		s.subs[i] = sub{buf: buf, cut: cut, hdr: s.subs[i].hdr[:0]}
	}
	s.rule, s.retry = nil, false
	s.cancelled.Store(false)
}

package rpcproxy

import (
	"sync"

	"github.com/rpcproxy/rpcproxy/rpcproxy/upstream"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// replier answers one app connection's requests. It has no goroutine: the
// goroutine that finishes a forward (the engine's reader, the deadline
// sweeper, a cancel) writes the answer itself with TryReplyResult, which
// copies it into the app connection's pending writes (inline to the socket
// when the connection is idle) and never waits for the app.
//
// Slow apps: when an app connection already has its packet
// WriteBufferLimit of answers pending (an app that stopped reading), the
// answer is replaced by CONGESTION_CONTROL_DISCARD (-3017), which the
// server queues up to 256 KiB over the limit; beyond that, that app's
// connection is closed (the app sees it end, as after a write timeout, and
// its requests in flight are released by replies that write nothing). So
// memory per app stays bounded and nobody else ever waits for that app.
//
// A replier lives in its app connection's value (server.Request's
// SetConnValue), so finding it takes no shared lock; its own mutex guards
// only the list of calls in flight that rpcCancelReq looks up. A list
// through the forwards, not a map: linking and unlinking are two pointer
// writes per request, and a cancel (rare) scans at most the connection's
// MaxInflightPerConn calls.
type replier struct {
	mu    sync.Mutex
	calls *forward // in flight, for rpcCancelReq: linked by prevCall, nextCall
}

// link adds f to the calls in flight; mu held.
func (rep *replier) link(f *forward) {
	f.prevCall, f.nextCall, f.listed = nil, rep.calls, true
	if rep.calls != nil {
		rep.calls.prevCall = f
	}
	rep.calls = f
}

// unlink removes f from the calls in flight, if it is there; mu held.
func (rep *replier) unlink(f *forward) {
	if !f.listed {
		return
	}
	if f.prevCall != nil {
		f.prevCall.nextCall = f.nextCall
	} else {
		rep.calls = f.nextCall
	}
	if f.nextCall != nil {
		f.nextCall.prevCall = f.prevCall
	}
	f.prevCall, f.nextCall, f.listed = nil, nil, false
}

// find returns the call in flight for the app's query id, or nil; mu
// held. A listed call's request is not answered yet, so f.r is valid. The
// newest call comes first, should an app reuse a query id.
func (rep *replier) find(queryID int64) *forward {
	for f := rep.calls; f != nil; f = f.nextCall {
		if f.r.QueryID == queryID {
			return f
		}
	}
	return nil
}

// connReplier returns r's connection's replier, creating it on the
// connection's first request (ServeRPC and CancelRPC run on the
// connection's reader, the only goroutine touching the value).
func connReplier(r *server.Request) *replier {
	if rep, ok := r.ConnValue().(*replier); ok {
		return rep
	}
	rep := &replier{}
	r.SetConnValue(rep)
	return rep
}

// track records f as a call in flight on rep's connection (for
// CancelRPC) and makes rep f's replier, before the forward is sent.
func (rep *replier) track(f *forward) {
	f.rep = rep
	rep.mu.Lock()
	rep.link(f)
	rep.mu.Unlock()
}

// untrack forgets the call f: it was not sent.
func (rep *replier) untrack(f *forward) {
	rep.mu.Lock()
	rep.unlink(f)
	rep.mu.Unlock()
}

// push answers f's request now, on the calling goroutine, without waiting
// for the app, and recycles f. A non-nil b is the burst of the reader
// running push (the engine reader inside an answer, or the app reader when
// a fan-out ends inside spread): the answer joins it and leaves with the
// burst's other writes to the same app connection.
func (rep *replier) push(f *forward, b *packet.Batch) {
	r := f.r
	// Forget the call first, under the lock CancelRPC reads f under: once
	// removed, no cancel touches f, so it may be recycled below.
	rep.mu.Lock()
	rep.unlink(f)
	rep.mu.Unlock()
	var ok bool
	if f.fail != nil {
		ok = r.TryReplyErr(f.fail)
	} else {
		ok = r.TryReplyResultIn(b, &f.res)
	}
	if !ok && f.fail == nil {
		ok = r.TryReplyErr(errAppSlow) // CONGESTION_CONTROL_DISCARD
	}
	if !ok {
		// Not even short errors fit: drop the app rather than wait for it.
		r.CloseConn()
		r.ReplyErr(errAppSlow) // writes nothing now: releases the request
	}
	f.recycle()
}

// Batch makes a forward's request join its app reader's burst (see
// upstream.Batcher): Send runs in ServeRPC, on that reader. A request
// sent again (forward.again) may be on another goroutine: it joins none.
func (f *forward) Batch() *packet.Batch {
	if f.r == nil || f.resent {
		return nil
	}
	return f.r.Batch()
}

var _ upstream.Batcher = (*forward)(nil)

// CancelRPC passes the app's rpcCancelReq on to the engine, or to every
// shard of a fan-out still working on it. If an engine call was still
// pending, the app gets an error answer (which VK clients ignore for a
// cancelled query; for a fan-out, once its last sub-call ended) and the
// engine an rpcCancelReq. The app connection's replier is the one table
// of its calls in flight: the server keeps none (server.Canceler).
func (h *handler) CancelRPC(conn any, queryID int64) bool {
	rep, ok := conn.(*replier)
	if !ok {
		return false
	}
	rep.mu.Lock()
	f := rep.find(queryID)
	if f == nil {
		rep.mu.Unlock()
		return false
	}
	if f.fan {
		// f is listed, so not recycled while mu is held; a count held
		// on its scatter keeps it so after (see scatter).
		s := f.scat
		held := s.hold()
		rep.mu.Unlock()
		if held {
			s.cancel()
		}
		return true
	}
	// Read under the lock: push (which recycles f) waits for it.
	e, qid := f.e, f.qid.Load()
	rep.mu.Unlock()
	if !e.Cancel(qid) {
		return true // answered meanwhile: push replies
	}
	// Cancel removed the engine call, so nobody else finishes f.
	f.countError()
	f.fail = errCancelled
	f.release(f.p.now())
	rep.push(f, nil)
	return true
}

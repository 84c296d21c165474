package rpcproxy

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// replier writes one app connection's answers on its own goroutine, so an
// engine's reader never waits for an app's socket: Answer copies the answer
// and pushes it here without blocking. If the app stops reading, only this
// goroutine waits (until the packet layer's write timeout closes the
// connection), and answers beyond MaxAppPending bytes queued are replaced by
// a short CONGESTION_CONTROL_DISCARD error, so memory stays bounded.
//
// A replier exists while its connection has requests in flight, and a
// little longer (replierIdle) so that a connection with one request at a
// time does not start a goroutine per request.
type replier struct {
	h     *handler
	id    uint64
	limit int64

	mu     sync.Mutex
	calls  map[*server.Request]*forward // for rpcCancelReq
	head   *forward
	tail   *forward
	active int // requests handed out by handler.replier and not yet done

	queued atomic.Int64 // answer bytes waiting
	kick   chan struct{}
}

const replierIdle = time.Second

// replier returns conn id's replier, counting one more active request.
func (h *handler) replier(id uint64) *replier {
	h.mu.RLock()
	rep := h.reps[id]
	if rep != nil {
		rep.mu.Lock()
		rep.active++
		rep.mu.Unlock()
	}
	h.mu.RUnlock()
	if rep != nil {
		return rep
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if rep = h.reps[id]; rep != nil {
		rep.mu.Lock()
		rep.active++
		rep.mu.Unlock()
		return rep
	}
	rep = &replier{h: h, id: id, limit: int64(h.p.opts.MaxAppPending), calls: map[*server.Request]*forward{},
		active: 1, kick: make(chan struct{}, 1)}
	h.reps[id] = rep
	h.p.wg.Add(1)
	go rep.run()
	return rep
}

func (rep *replier) track(r *server.Request, f *forward) {
	rep.mu.Lock()
	rep.calls[r] = f
	rep.mu.Unlock()
}

func (rep *replier) untrack(r *server.Request) {
	rep.mu.Lock()
	delete(rep.calls, r)
	rep.mu.Unlock()
}

// done ends one active request that will not be pushed.
func (rep *replier) done() {
	rep.mu.Lock()
	rep.active--
	rep.mu.Unlock()
	rep.wake()
}

func (rep *replier) wake() {
	select {
	case rep.kick <- struct{}{}:
	default:
	}
}

// fits reports whether n more answer bytes stay within the app's bound.
func (rep *replier) fits(n int) bool {
	return rep.limit <= 0 || rep.queued.Load()+int64(n) <= rep.limit
}

// push queues a finished forward for its reply; never blocks.
func (rep *replier) push(f *forward) {
	rep.queued.Add(int64(len(f.buf)))
	rep.mu.Lock()
	if rep.tail == nil {
		rep.head = f
	} else {
		rep.tail.next = f
	}
	rep.tail = f
	rep.mu.Unlock()
	rep.wake()
}

func (rep *replier) pop() *forward {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	f := rep.head
	if f == nil {
		return nil
	}
	rep.head = f.next
	if rep.head == nil {
		rep.tail = nil
	}
	f.next = nil
	// Forget it before replying: the Request is recycled by the reply.
	delete(rep.calls, f.r)
	return f
}

func (rep *replier) run() {
	defer rep.h.p.wg.Done()
	idle := time.NewTimer(replierIdle)
	defer idle.Stop()
	stop := rep.h.p.stopped // nil once the proxy is stopping: then leave as soon as idle
	for {
		f := rep.pop()
		if f == nil {
			if stop == nil && rep.retire() {
				return
			}
			select {
			case <-rep.kick:
			case <-idle.C:
				if rep.retire() {
					return
				}
				idle.Reset(replierIdle)
			case <-stop:
				stop = nil
			}
			continue
		}
		n := int64(len(f.buf))
		f.reply()
		rep.queued.Add(-n)
		f.recycle()
		rep.mu.Lock()
		rep.active--
		rep.mu.Unlock()
	}
}

// retire removes an idle replier; it reports false if requests came in.
func (rep *replier) retire() bool {
	h := rep.h
	h.mu.Lock()
	defer h.mu.Unlock()
	rep.mu.Lock()
	defer rep.mu.Unlock()
	if rep.active != 0 || rep.head != nil {
		return false
	}
	delete(h.reps, rep.id)
	return true
}

// CancelRPC passes the app's rpcCancelReq on to the engine. If the engine
// call was still pending, the app gets an error answer (which VK clients
// ignore for a cancelled query) and the engine an rpcCancelReq.
func (h *handler) CancelRPC(r *server.Request) {
	h.mu.RLock()
	rep := h.reps[r.ConnID()]
	h.mu.RUnlock()
	if rep == nil {
		return
	}
	rep.mu.Lock()
	f := rep.calls[r]
	delete(rep.calls, r)
	rep.mu.Unlock()
	if f == nil || !f.e.Cancel(f.qid.Load()) {
		return
	}
	f.c.Stats.Errors.Add(1)
	f.fail = errCancelled
	f.release()
	rep.push(f)
}

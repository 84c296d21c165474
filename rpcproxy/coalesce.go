package rpcproxy

import (
	"bytes"
	"encoding/binary"
	"sync"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/fanout"
	"github.com/rpcproxy/rpcproxy/rpcproxy/upstream"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// Coalescing (a split function with coalesce = true). The sub-requests a
// split sends to one engine while the proxy works through one round of
// ready app connections are joined into one engine call, and its answer is
// cut back into each sub-request's:
//
//	app reader A: spread: sub-request for engine E -> join: no call open
//	              for (E, function): open one, seal it at A's next Flush
//	app reader B: spread: sub-request for E -> join: appended to A's call
//	A's Flush:    yields (the other ready readers join meanwhile), then
//	              Seal: the call leaves as head, the sum of the counts,
//	              every part's keys, tail, in A's burst
//	E's reader:   Answer: CutAnswer finds each part's elements; each part
//	              gets head, its count, its elements, tail, as if it had
//	              been sent alone (sub.answered)
//
// Nothing waits to be joined: a call is sealed by the Flush of the burst
// that opened it, which runs before that reader waits for anything. Parts
// must have the same envelope (but for the query id) and the same bytes
// around their keys (the function's other arguments), or they are sent on
// their own. A joined call is one engine call: one pending entry, one
// query id (no part can be cancelled alone: a cancel skips joined parts),
// the latest of its parts' deadlines (they differ by less than the
// round), and an error answer, a timeout or a lost connection ends every
// part (a lost one retries each part on its own, sub.again).
//
// Who owns what: a joined call's fields are written by joiners under its
// slot's mutex until Seal takes it out of the slot; from Seal on, it
// belongs to the goroutine that sends it and then to the engine (Answer
// or Fail), which recycles it.

// Bounds of one joined call: an engine may refuse a longer vector.
const (
	maxJoinedKeys = 1024
	maxJoinedBody = 64 << 10
)

// joinKey names the slot of one engine and one function's rule.
type joinKey struct {
	e    *upstream.Engine
	rule *fanout.Rule
}

// joinSlot holds the call open for its (engine, rule), if any.
type joinSlot struct {
	mu   sync.Mutex
	open *joined
}

// joined is one engine call carrying the keys of several sub-requests.
type joined struct {
	p     *Proxy
	slot  *joinSlot
	fan   *fanout.Fanout
	rule  *fanout.Rule
	e     *upstream.Engine
	hdr   []byte // the envelope, the first part's (equal from byte 8 on)
	head  []byte // the call's bytes before the key count
	tail  []byte // and after the keys
	body  []byte // head, the count (patched at Seal), the keys, tail
	start time.Time
	due   time.Time
	keys  int

	parts  []*sub
	counts []int
	cuts   []int
	ends   []int32       // where each element of the answer ends (CutAnswer)
	batch  *packet.Batch // the sealing burst, for Batch during Send
}

var (
	_ upstream.Call    = (*joined)(nil)
	_ upstream.Batcher = (*joined)(nil)
	_ packet.Sealer    = (*joined)(nil)
)

// join adds sub-call sb (going to engine e, keys keys of its plan's
// Layout) to the call open for e and sb's rule, opening one sealed at b's
// next Flush if there is none. It reports false, leaving sb alone, when sb
// cannot join (no burst, another envelope or other arguments than the
// open call's, or the call is full): the caller sends it on its own.
func (g *generation) join(p *Proxy, sb *sub, e *upstream.Engine, hdr, head, keys, tail []byte, start, due time.Time, b *packet.Batch) bool {
	if b == nil {
		return false
	}
	s := sb.s
	sl := g.slots[joinKey{e, s.rule}]
	if sl == nil {
		return false
	}
	n := s.plan.Keys[sb.shard.Index]
	sl.mu.Lock()
	j := sl.open
	if j != nil && !j.fits(hdr, head, tail, n, len(keys)) {
		sl.mu.Unlock()
		return false
	}
	opened := j == nil
	if opened {
		j = p.getJoined()
		j.slot, j.fan, j.rule, j.e, j.start = sl, g.tab.Fanout(), s.rule, e, start
		j.hdr = append(j.hdr[:0], hdr...)
		j.head = append(j.head[:0], head...)
		j.tail = append(j.tail[:0], tail...)
		j.body = tl.AppendUint32(append(j.body[:0], head...), 0)
		sl.open = j
	}
	j.body = append(j.body, keys...)
	j.parts = append(j.parts, sb)
	j.counts = append(j.counts, n)
	j.keys += n
	if due.After(j.due) {
		j.due = due
	}
	sl.mu.Unlock()
	if opened {
		b.OnFlush(j)
	}
	return true
}

// fits reports whether a part with n keys (kb bytes of them), envelope hdr
// (its query id, the first 8 bytes, aside) and head and tail around its
// keys can join j; slot mutex held.
func (j *joined) fits(hdr, head, tail []byte, n, kb int) bool {
	return j.keys+n <= maxJoinedKeys && len(j.body)+kb+len(j.tail) <= maxJoinedBody &&
		bytes.Equal(j.hdr[8:], hdr[8:]) && bytes.Equal(j.head, head) && bytes.Equal(j.tail, tail)
}

// Seal closes j to new parts and sends it, in burst b. A call of one part
// goes as that part's own sub-call, so a quiet proxy changes nothing.
func (j *joined) Seal(b *packet.Batch) {
	sl := j.slot
	sl.mu.Lock()
	if sl.open == j {
		sl.open = nil
	}
	sl.mu.Unlock()
	if len(j.parts) == 1 {
		sb, e := j.parts[0], j.e
		j.recycle()
		sb.send(e, b)
		return
	}
	binary.LittleEndian.PutUint32(j.body[len(j.head):], uint32(j.keys))
	j.body = append(j.body, j.tail...)
	st, n := j.parts[0].s.f.c.Stats, uint64(len(j.parts))
	j.batch = b
	if err := j.e.Send(j, j.hdr, j.body, j.start, j.due); err != nil {
		j.Fail(err)
		return
	}
	// j may be answered and recycled already.
	st.SubSent.Add(n)
	st.Coalesced.Add(n)
}

// Batch is the sealing burst (upstream.Batcher), taken once.
func (j *joined) Batch() *packet.Batch {
	b := j.batch
	j.batch = nil
	return b
}

// Sent: parts are not cancelled one by one, so the query id is not kept.
func (j *joined) Sent(int64) {}

// Answer cuts the engine's answer into every part's and finishes them.
func (j *joined) Answer(typ uint32, body []byte, res *rpc.ReqResult, b *packet.Batch) {
	if res.IsError() {
		for _, sb := range j.parts {
			sb.Answer(typ, body, res, b)
		}
		j.recycle()
		return
	}
	cuts, ends, head, tail, err := j.fan.CutAnswer(j.rule, j.body, res.Body, j.counts, j.cuts[:0], j.ends[:0])
	j.cuts, j.ends = cuts, ends
	if err != nil {
		bad := &rpc.Error{Code: rpc.CodeProxyInvalidResponse, Description: "rpcproxy: engine " + j.e.Addr() + ": joined call: " + err.Error()}
		for _, sb := range j.parts {
			sb.Fail(bad)
		}
		j.recycle()
		return
	}
	first := 0
	for k, sb := range j.parts {
		// Each part's answer is built in its own buffer: head, its count,
		// its elements, tail; with its layout, so that the merge does not
		// walk it again.
		n := j.counts[k]
		first += n
		if !sb.keep(len(head)+4+cuts[k+1]-cuts[k]+len(tail), b) {
			continue
		}
		sb.buf = append(tl.AppendUint32(append(sb.buf[:0], head...), uint32(n)), res.Body[cuts[k]:cuts[k+1]]...)
		sb.buf = append(sb.buf, tail...)
		sb.cut = fanout.PartCut(sb.cut[:0], head, cuts, ends, k, first-n, n)
		sb.answered(b)
	}
	j.recycle()
}

// Fail ends every part with err (a lost connection may retry each).
func (j *joined) Fail(err error) {
	for _, sb := range j.parts {
		sb.Fail(err)
	}
	j.recycle()
}

// recycle returns j to the pool.
func (j *joined) recycle() {
	p := j.p
	for i := range j.parts {
		j.parts[i] = nil
	}
	j.parts, j.counts, j.cuts, j.ends = j.parts[:0], j.counts[:0], j.cuts[:0], j.ends[:0]
	j.slot, j.fan, j.rule, j.e, j.batch = nil, nil, nil, nil, nil
	j.start, j.due, j.keys = time.Time{}, time.Time{}, 0
	p.joinPool.Put(j)
}

func (p *Proxy) getJoined() *joined {
	j := p.joinPool.Get().(*joined)
	j.p = p
	return j
}

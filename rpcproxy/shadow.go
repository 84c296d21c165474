package rpcproxy

import (
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/route"
	"github.com/rpcproxy/rpcproxy/rpcproxy/upstream"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// shadow is the copy of a request sent to its cluster's shadow cluster
// ([cluster.shadow]): the same envelope and body, to the shard the same
// key has there, with the same deadline. Its answer is dropped. It holds
// the request's table generation until it ends, so a reload does not
// release its engine under it. Pooled, like forwards.
type shadow struct {
	p     *Proxy
	gen   *generation
	from  *route.Cluster // counts the copies
	shard *route.Shard
	idx   int
	e     *upstream.Engine
	start time.Time
	batch *packet.Batch // the app reader's burst, for Send
}

var (
	_ upstream.Call    = (*shadow)(nil)
	_ upstream.Batcher = (*shadow)(nil)
)

// sendShadow copies f's request (its forwarded envelope hdr and body) to
// shard i of cluster to. It never waits: a shadow replica that is down,
// busy or not connected drops the copy at once. It runs before f is sent,
// while f is still the reader's.
func (p *Proxy) sendShadow(f *forward, to *route.Cluster, i int, b *packet.Batch, now, deadline time.Time) {
	sh := &to.Shards[i]
	idx, e, err := pickReplica(sh, to.Failover)
	if err != nil {
		f.c.Stats.ShadowFailed.Add(1)
		return
	}
	s := p.shadowPool.Get().(*shadow)
	s.p, s.from, s.shard, s.idx, s.e, s.start, s.batch = p, f.c, sh, idx, e, now, b
	s.gen = f.gen
	s.gen.active.Add(1) // f holds it too, so it cannot drain meanwhile
	if err := e.Send(s, f.hdr, f.req.Body, now, deadline); err != nil {
		s.end(now, true)
		return
	}
	f.c.Stats.ShadowSent.Add(1)
}

// Sent needs nothing: a copy is never cancelled.
func (s *shadow) Sent(int64) {}

// Batch is the app reader's burst: the copy leaves with the request.
func (s *shadow) Batch() *packet.Batch {
	b := s.batch
	s.batch = nil
	return b
}

// Answer drops the answer; an error answer counts as a failed copy.
func (s *shadow) Answer(_ uint32, _ []byte, res *rpc.ReqResult, b *packet.Batch) {
	s.end(b.Now(s.p.opts.Now), res.IsError())
}

// Fail counts a copy that got no answer (timeout, connection lost).
func (s *shadow) Fail(error) { s.end(s.p.now(), true) }

// end closes the copy's accounting on its replica, as a forward's, and
// recycles it.
func (s *shadow) end(now time.Time, failed bool) {
	if failed {
		s.from.Stats.ShadowFailed.Add(1)
	}
	endTry(s.shard, s.idx, s.e, max(now.Sub(s.start), 0), failed)
	p, g := s.p, s.gen
	*s = shadow{}
	g.release()
	p.shadowPool.Put(s)
}

package udp

import (
	"crypto/cipher"
	"net/netip"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// An accepted connection that has been quiet for Config.IdleAfter is
// offered to its reader (ReadPacket returns ErrIdle); the reader, which
// knows whether requests are still being worked on, may then Park it. A
// parked connection leaves the Transport's live set (its rings, its timer
// scan, its reader goroutine and whatever slot the caller counted it in)
// and leaves behind a dormant record: the few fields the peer's next
// datagram needs. That datagram revives it as a new Conn from Accept, with
// the same hash, keys and seqs, so the peer notices nothing. VK's UDP
// transport has no close message: without parking, every app socket a
// sidecar ever heard from would keep a connection for good.

// dormant is what a parked connection keeps (about 100 bytes).
type dormant struct {
	addr      netip.AddrPort
	state     connState
	remote    packet.PID
	gen       uint32
	keyID     uint32
	hash      uint64
	inPrefix  uint32 // next seq expected from the peer
	outNext   uint32 // next seq we send
	streamOff int64
	order     uint64 // park order, for eviction
}

// parkRef is an entry of the eviction queue; it is stale when the record
// for key was revived (or parked again, under a later order).
type parkRef struct {
	key   addrKey
	order uint64
}

// quiet reports whether c is established and settled. Caller holds mu.
func (c *Conn) quiet() bool { return c.state != stWaitingForRemotePid && c.settled() }

// settled reports whether c holds nothing: no message queued, unacked,
// unread or half received, no ack or resend request owed. Caller holds
// mu.
func (c *Conn) settled() bool {
	o, in := &c.out, &c.in
	return o.qHead == len(o.queue) && o.ackPrefix == o.next &&
		c.recvHead == len(c.recvq) && len(in.msgs) == 0 && in.high == in.prefix &&
		in.ackAt.IsZero() && in.rrAt.IsZero()
}

// CancelGraceful takes back a CloseGraceful or ParkGraceful that has not
// ended c yet: c stays open. It reports false when c has ended already.
// A reader that took a message before changing its mind can always keep
// c: a graceful end waits for the reader to come back to ReadPacket.
func (c *Conn) CancelGraceful() bool { return c.endWhenSettled(settleNone) }

// Park ends an accepted connection that holds nothing, keeping a dormant
// record so that the peer's next datagram brings it back through Accept.
// It reports false, and changes nothing, when c has anything in flight,
// was dialled, has ended, or parking is off (Config.MaxDormant < 0). The
// caller must have nothing outstanding on c either (requests it still
// means to answer): after Park every write fails with ErrParked.
func (c *Conn) Park() bool {
	t := c.t
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.park(c)
}

// ParkGraceful parks c once it is settled (CloseGraceful's condition),
// or closes it then if it cannot be parked: the peer's next message finds
// the connection again, at Accept, as after Park.
func (c *Conn) ParkGraceful() { c.endWhenSettled(settlePark) }

// park is Park. Caller holds mu.
func (t *Transport) park(c *Conn) bool {
	if c.err != nil || c.active || t.s.maxDormant < 0 || !c.quiet() {
		return false
	}
	if len(t.dormant) >= t.s.maxDormant {
		t.evictDormant()
	}
	t.parkSeq++
	t.dormant[c.key] = dormant{
		addr: c.addr, state: c.state, remote: c.remote, gen: c.gen, keyID: c.keyID, hash: c.hash,
		inPrefix: c.in.prefix, outNext: c.out.next, streamOff: c.out.streamOff, order: t.parkSeq,
	}
	t.parkq = append(t.parkq, parkRef{c.key, t.parkSeq})
	t.stats.parked.Add(1)
	t.closeConn(c, ErrParked)
	return true
}

// evictDormant forgets the record parked longest ago; that peer's next
// datagram gets obsoleteHash, and VK's client then fails what it had in
// flight and connects again. Caller holds mu.
func (t *Transport) evictDormant() {
	for t.parkHead < len(t.parkq) {
		r := t.parkq[t.parkHead]
		t.parkq[t.parkHead] = parkRef{}
		t.parkHead++
		if d, ok := t.dormant[r.key]; ok && d.order == r.order {
			delete(t.dormant, r.key)
			t.stats.evicted.Add(1)
			break
		}
	}
	t.compactParkQueue()
}

// forgetDormant drops the record for k, if any: its peer restarted or
// dialled anew. Caller holds mu.
func (t *Transport) forgetDormant(k addrKey) {
	if _, ok := t.dormant[k]; ok {
		delete(t.dormant, k)
		t.compactParkQueue()
	}
}

// compactParkQueue keeps the eviction queue within twice the records it
// refers to, so revive and park cycles do not grow it without bound.
func (t *Transport) compactParkQueue() {
	live := len(t.parkq) - t.parkHead
	if live <= 2*len(t.dormant)+64 {
		if t.parkHead == len(t.parkq) {
			t.parkq, t.parkHead = t.parkq[:0], 0
		}
		return
	}
	q := t.parkq[:0]
	for _, r := range t.parkq[t.parkHead:] {
		if d, ok := t.dormant[r.key]; ok && d.order == r.order {
			q = append(q, r)
		}
	}
	clear(t.parkq[len(q):])
	t.parkq, t.parkHead = q, 0
}

// dormantBlock returns the record for k when the datagram's hash (hash
// mode) or the peer's pid and generation (pid mode) name it, with the
// cipher that opens the datagram. A pid-mode peer may still name us
// partially: it never heard from us. Caller holds mu.
func (t *Transport) dormantBlock(k addrKey, u *unencHeader) (dormant, cipher.Block, bool) {
	d, ok := t.dormant[k]
	if !ok {
		return dormant{}, nil, false
	}
	secret, ok := t.s.keys[d.keyID]
	switch {
	case !ok:
		return dormant{}, nil, false
	case u.flags&uHash != 0:
		if u.hash != d.hash {
			return dormant{}, nil, false
		}
		return d, t.blocks.get(secret, d.remote, t.local, d.gen), true
	case u.local != d.remote || u.gen != d.gen:
		return dormant{}, nil, false
	default:
		return d, t.blocks.get(secret, u.local, u.remote, u.gen), true
	}
}

// revive turns the dormant record for k back into a connection and queues
// it for Accept, for the caller to process the datagram t.rx heads. It
// returns nil, keeping the record, for a datagram without a message (a
// late ack: nothing to resume for), and when the accept backlog or
// MaxConns has no room (counted as DropRefused; the peer's resend brings
// it back later). Caller holds mu; the datagram authenticated.
func (t *Transport) revive(k addrKey, d dormant) *Conn {
	if t.rx.flags&(ePacketNum|ePackets) == 0 {
		return nil
	}
	if len(t.byAddr) >= t.s.maxConns || len(t.acceptq) == cap(t.acceptq) {
		t.stats.drop(DropRefused)
		return nil
	}
	t.forgetDormant(k)
	c := t.newConn(d.addr, k, false)
	c.state, c.remote, c.gen, c.keyID = d.state, d.remote, d.gen, d.keyID
	t.established(c, t.s.keys[d.keyID])
	c.in.prefix, c.in.high = d.inPrefix, d.inPrefix
	c.out.ackPrefix, c.out.sentEnd, c.out.next = d.outNext, d.outNext, d.outNext
	c.out.streamOff = d.streamOff
	t.byAddr[k] = c
	t.acceptq <- c
	t.stats.revived.Add(1)
	t.poke() // process, which follows, sets lastIn: the timer loop learns the idle deadline
	return c
}

// idleCheck runs in the timer loop for an accepted connection: once it
// has heard nothing for IdleAfter, it tells the reader (ErrIdle) if c
// holds nothing, and looks again IdleAfter later either way. It returns
// when to look next. Caller holds mu.
func (t *Transport) idleCheck(c *Conn, now time.Time) time.Time {
	due := c.lastIn.Add(t.s.idleAfter)
	if now.Before(due) {
		return due
	}
	if !c.idle && c.quiet() {
		c.idle = true
		select {
		case c.readable <- struct{}{}:
		default:
		}
	}
	c.lastIn = now
	return now.Add(t.s.idleAfter)
}

package udp

import "time"

// chunkMax is the largest chunk: the datagram budget minus its length word.
const chunkMax = MaxChunkSize - 4

// outMsg is one queued reliable message, shared by its chunks.
type outMsg struct {
	buf   []byte
	off   int64 // offset of buf[0] in the connection's stream of messages
	parts uint32
	refs  uint32 // chunks not yet acked
}

// outChunk is one window slot on the sending side.
type outChunk struct {
	msg      *outMsg
	from, to int32 // byte range within msg.buf
	part     uint32
	acked    bool
	need     bool // (re)send at the next flush
}

// outgoing is the sender half of a connection: a ring of window slots
// indexed by seq % window, covering [ackPrefix, next). Chunks in
// [ackPrefix, sentEnd) were sent at least once; [sentEnd, next) never.
// Messages wait in queue until the whole message fits in the window, so
// memory is bounded by the window plus the write queue limit.
type outgoing struct {
	ring      []outChunk
	ackPrefix uint32
	sentEnd   uint32
	next      uint32
	streamOff int64
	queue     []*outMsg // waiting for the window, from qHead
	qHead     int
	queued    int  // bytes in queue
	resend    bool // some chunk below sentEnd has need set
}

func (o *outgoing) slot(seq uint32) *outChunk { return &o.ring[int(seq%uint32(len(o.ring)))] }

// inWindow reports whether seq was sent and is not below the prefix.
func (o *outgoing) inWindow(seq uint32) bool { return seq-o.ackPrefix < o.sentEnd-o.ackPrefix }

// slice moves queued messages into the window while they fit whole.
func (o *outgoing) slice() {
	w := uint32(len(o.ring))
	for o.qHead < len(o.queue) {
		m := o.queue[o.qHead]
		parts := uint32((len(m.buf) + chunkMax - 1) / chunkMax)
		if parts == 0 {
			parts = 1
		}
		if o.next-o.ackPrefix+parts > w {
			return
		}
		o.queue[o.qHead] = nil
		o.qHead++
		o.queued -= len(m.buf)
		m.parts, m.refs = parts, parts
		for p := range parts {
			from := int(p) * chunkMax
			to := min(from+chunkMax, len(m.buf))
			*o.slot(o.next) = outChunk{msg: m, from: int32(from), to: int32(to), part: p, need: true}
			o.next++
		}
	}
	if o.qHead == len(o.queue) {
		o.queue, o.qHead = o.queue[:0], 0 // reuse the backing array
	}
}

// ack marks seq acked and advances the prefix, returning messages whose
// last chunk was acked to free.
func (o *outgoing) ack(seq uint32, free func(*outMsg)) {
	if !o.inWindow(seq) {
		return
	}
	s := o.slot(seq)
	if !s.acked {
		s.acked, s.need = true, false
		s.msg.refs--
		if s.msg.refs == 0 {
			free(s.msg)
		}
	}
	for o.ackPrefix != o.sentEnd && o.slot(o.ackPrefix).acked {
		*o.slot(o.ackPrefix) = outChunk{}
		o.ackPrefix++
	}
}

// ackPrefixTo acks every seq below end (exclusive), clamped to what was sent.
func (o *outgoing) ackPrefixTo(end uint32, free func(*outMsg)) {
	if end-o.ackPrefix > o.sentEnd-o.ackPrefix {
		return // ack of the future or of the distant past: ignore
	}
	for seq := o.ackPrefix; seq != end; seq++ {
		o.ack(seq, free)
	}
}

// ackRange acks [from, to] clamped to the window, bounding the loop by the
// window however large a forged range is.
func (o *outgoing) ackRange(from, to uint32, free func(*outMsg)) {
	if to < from {
		return
	}
	if from-o.ackPrefix >= o.sentEnd-o.ackPrefix {
		if !o.inWindow(to) {
			return
		}
		from = o.ackPrefix
	}
	for seq := from; ; seq++ {
		if !o.inWindow(seq) {
			return
		}
		o.ack(seq, free)
		if seq == to {
			return
		}
	}
}

// markResend flags every sent, un-acked chunk in [from, to] for resending.
func (o *outgoing) markResend(from, to uint32) {
	if to < from {
		return
	}
	if !o.inWindow(from) {
		if !o.inWindow(to) {
			return
		}
		from = o.ackPrefix
	}
	for seq := from; o.inWindow(seq); seq++ {
		if s := o.slot(seq); !s.acked {
			s.need = true
			o.resend = true
		}
		if seq == to {
			return
		}
	}
}

// pick chooses the chunks of the next datagram: consecutive seqs, each of
// a different message, at most MaxChunkSize bytes counting four per chunk.
// Resends go first. It returns the first seq and count (0: nothing).
func (o *outgoing) pick() (first, n uint32) {
	if o.resend {
		seq := o.ackPrefix
		for ; seq != o.sentEnd; seq++ {
			if s := o.slot(seq); s.need && !s.acked {
				break
			}
		}
		if seq != o.sentEnd {
			return seq, o.run(seq, o.sentEnd)
		}
		o.resend = false
	}
	o.slice()
	if o.sentEnd == o.next {
		return 0, 0
	}
	first = o.sentEnd
	n = o.run(first, o.next)
	o.sentEnd += n
	return first, n
}

// run counts the chunks from seq (below end) that go into one datagram.
func (o *outgoing) run(seq, end uint32) uint32 {
	budget, n := MaxChunkSize, uint32(0)
	var prev *outMsg
	for s := seq; s != end; s++ {
		c := o.slot(s)
		if c.acked || (n > 0 && !c.need) || c.msg == prev {
			break
		}
		size := 4 + int(c.to-c.from)
		if size > budget {
			break
		}
		budget -= size
		prev = c.msg
		c.need = false
		n++
	}
	return n
}

// resendTimer is the per-connection resend timeout state (wire.md §5.5).
type resendTimer struct {
	at      time.Time // zero: not armed
	timeout time.Duration
	seq     uint32 // sentEnd when armed
}

// acked disarms the timer once every chunk sent is acked. The prefix has
// passed what was in flight when the timer was armed, so the timeout
// shrinks as a firing without lag shrinks it. VK's timer is never
// disarmed and shrinks the timeout when it fires on an idle connection;
// without this, a timer disarmed before it fires would keep whatever a
// run of losses grew it to, and every later loss would wait that long.
func (r *resendTimer) acked() {
	r.timeout = max(r.timeout*2/3, minResend)
	r.at = time.Time{}
}

// fire adapts the timeout: slower when the prefix did not pass what was
// sent when the timer was armed, faster otherwise.
func (r *resendTimer) fire(ackPrefix uint32) {
	if ackPrefix-r.seq > 1<<31 { // ackPrefix < seq in sequence space
		r.timeout = min(r.timeout*3/2, maxResend)
	} else {
		r.timeout = max(r.timeout*2/3, minResend)
	}
	r.at = time.Time{}
}

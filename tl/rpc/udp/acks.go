package udp

import (
	"encoding/binary"
	"time"
)

// inMsg is a multi-chunk incoming message being reassembled.
type inMsg struct {
	buf       []byte
	parts     uint32
	remaining uint32
}

// incoming is the receiver half of a connection: a ring of received flags
// over [prefix, prefix+window), the messages being reassembled keyed by
// their first seq, and the timers that answer the sender.
type incoming struct {
	got      []bool
	prefix   uint32 // first seq not received
	high     uint32 // one past the highest seq received
	msgs     map[uint32]*inMsg
	buffered int // chunks held in incomplete messages

	ackAt   time.Time // ack-only datagram due (zero: none)
	rrAt    time.Time // resend request due (zero: none)
	rrDelay time.Duration

	ackSet []uint32 // scratch for buildAck
}

func newIncoming(window int) incoming {
	return incoming{got: make([]bool, window), msgs: make(map[uint32]*inMsg), rrDelay: minResendRequest, ackSet: make([]uint32, 0, maxAckSet)}
}

func (in *incoming) slot(seq uint32) *bool { return &in.got[int(seq%uint32(len(in.got)))] }

// holes reports whether something above the prefix was received.
func (in *incoming) holes() bool {
	return in.high-in.prefix > 0 && in.high-in.prefix <= uint32(len(in.got))
}

// mark records seq as received and advances the prefix. It reports false
// for a duplicate.
func (in *incoming) mark(seq uint32) bool {
	s := in.slot(seq)
	if *s {
		return false
	}
	*s = true
	if seq+1-in.prefix > in.high-in.prefix {
		in.high = seq + 1
	}
	for *in.slot(in.prefix) && in.prefix != in.high {
		*in.slot(in.prefix) = false
		in.prefix++
	}
	return true
}

// buildAck fills the ack fields of h: the prefix, the first received range
// above it, then up to 50 single seqs from later ranges (VK's BuildAck).
func (in *incoming) buildAck(h *encHeader) {
	if in.prefix > 0 {
		h.flags |= eAckPrefix
		h.ackPrefix = in.prefix - 1
	}
	if !in.holes() {
		return
	}
	seq := in.prefix + 1
	for seq != in.high && !*in.slot(seq) {
		seq++
	}
	from := seq
	for seq != in.high && *in.slot(seq) {
		seq++
	}
	h.flags |= eAckRange
	h.ackFrom, h.ackTo = from, seq-1
	in.ackSet = in.ackSet[:0]
	for ; seq != in.high && len(in.ackSet) < maxAckSet; seq++ {
		if *in.slot(seq) {
			in.ackSet = append(in.ackSet, seq)
		}
	}
	if len(in.ackSet) > 0 {
		h.flags |= eAckSet
		h.ackSet = in.ackSet
	}
}

// appendResendRequest writes netUdpPacket.resendRequest (boxed) with the
// holes below high: first [prefix, first received - 1], then the gaps
// between later ranges, at most 50.
func (in *incoming) appendResendRequest(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, tagResendRequest)
	at := len(b)
	b = binary.LittleEndian.AppendUint32(b, 0)
	n := uint32(0)
	seq := in.prefix
	for seq != in.high && n < maxAckSet {
		from := seq
		for seq != in.high && !*in.slot(seq) {
			seq++
		}
		if seq == in.high {
			break
		}
		b = binary.LittleEndian.AppendUint32(b, from)
		b = binary.LittleEndian.AppendUint32(b, seq-1)
		n++
		for seq != in.high && *in.slot(seq) {
			seq++
		}
	}
	binary.LittleEndian.PutUint32(b[at:], n)
	return b
}

// parseResendRequest calls f for each range of a resendRequest body (after
// the tag), at most 50 ranges are honoured.
func parseResendRequest(b []byte, f func(from, to uint32)) bool {
	n, b, ok := nat(b)
	if !ok || uint64(n)*8 > uint64(len(b)) {
		return false
	}
	for i := range min(n, maxAckSet) {
		f(binary.LittleEndian.Uint32(b[8*i:]), binary.LittleEndian.Uint32(b[8*i+4:]))
	}
	return true
}

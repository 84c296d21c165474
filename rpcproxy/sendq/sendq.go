package sendq

import (
	"encoding/binary"
	"errors"
	"sync"
)

// Sentinel errors of Push.
var (
	// ErrFull means the peer is not draining its queue.
	ErrFull = errors.New("sendq: queue full")
	// ErrClosed means the queue was closed.
	ErrClosed = errors.New("sendq: closed")
)

// Writer is where queued packets go: a tl/rpc/packet connection.
type Writer interface {
	WritePacket(typ uint32, head, body []byte) error
}

// frameHead is the per-packet record in the buffer: type and length.
const frameHead = 8

// Queue is one connection's outgoing queue.
type Queue struct {
	mu      sync.Mutex
	buf     []byte // frames: typ u32, n u32, n bytes
	spare   []byte
	limit   int
	closed  bool // no more pushes
	drain   bool // closed gracefully: Run writes what is queued, then returns
	kick    chan struct{}
	stopped chan struct{}
}

// New returns a queue holding at most limit bytes of packets.
func New(limit int) *Queue {
	return &Queue{limit: limit, kick: make(chan struct{}, 1), stopped: make(chan struct{})}
}

// Push queues one packet whose body is head followed by body.
func (q *Queue) Push(typ uint32, head, body []byte) error {
	n := len(head) + len(body)
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if len(q.buf) > 0 && len(q.buf)+frameHead+n > q.limit {
		q.mu.Unlock()
		return ErrFull
	}
	wake := len(q.buf) == 0
	q.buf = binary.LittleEndian.AppendUint32(q.buf, typ)
	q.buf = binary.LittleEndian.AppendUint32(q.buf, uint32(n))
	q.buf = append(q.buf, head...)
	q.buf = append(q.buf, body...)
	q.mu.Unlock()
	if wake {
		select {
		case q.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// Len returns the bytes queued and not yet taken by the writer.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.buf)
}

// Run writes queued packets to w until Close (then it returns nil at once)
// or CloseDrain (then after everything queued is written), or until w fails
// (then it closes the queue and returns the error).
func (q *Queue) Run(w Writer) error {
	defer close(q.stopped)
	for {
		q.mu.Lock()
		for len(q.buf) == 0 && !q.closed {
			q.mu.Unlock()
			<-q.kick
			q.mu.Lock()
		}
		if q.closed && (!q.drain || len(q.buf) == 0) {
			q.mu.Unlock()
			return nil
		}
		out := q.buf
		q.buf, q.spare = q.spare[:0], nil
		q.mu.Unlock()

		err := writeAll(w, out)

		q.mu.Lock()
		if cap(out) <= 4*q.limit {
			q.spare = out[:0]
		}
		if err != nil {
			q.closed = true
			q.buf = q.buf[:0]
		}
		q.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

func writeAll(w Writer, out []byte) error {
	for len(out) > 0 {
		typ := binary.LittleEndian.Uint32(out)
		n := int(binary.LittleEndian.Uint32(out[4:]))
		body := out[frameHead : frameHead+n]
		out = out[frameHead+n:]
		if err := w.WritePacket(typ, nil, body); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the queue, dropping what is queued; Run returns.
func (q *Queue) Close() { q.close(false) }

// CloseDrain stops new pushes; Run returns after writing what is queued.
func (q *Queue) CloseDrain() { q.close(true) }

func (q *Queue) close(drain bool) {
	q.mu.Lock()
	if !q.closed {
		q.closed, q.drain = true, drain
	} else if !drain {
		q.drain = false
	}
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// Stopped is closed when Run has returned.
func (q *Queue) Stopped() <-chan struct{} { return q.stopped }

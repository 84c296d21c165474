package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// conn is one established connection: its goroutine reads and dispatches
// packets; replies are written from any goroutine through pc.
type conn struct {
	srv    *Server
	pc     wire
	udp    bool // a udp.Conn: no rpcServerWantsFin
	id     uint64
	waiter *semWaiter // the reader's place in the byte semaphore queue
	// inflight counts unanswered requests, at most MaxInflightPerConn:
	// the reader adds (and waits on slotFreed when full), replies
	// subtract. An atomic, not a channel of tokens: two channel
	// operations per request cost more than the rest of the bookkeeping.
	inflight  atomic.Int64
	full      atomic.Bool   // the reader waits for a slot
	slotFreed chan struct{} // cap 1: a slot was freed while full

	closeIdle atomic.Bool // close once nothing is in flight
	closing   sync.Once
	// endMu orders a UDP connection's end, asked when nothing is in
	// flight, with a request taken meanwhile that takes it back
	// (endUDPWhenIdle, holdUDPEnd).
	endMu   sync.Mutex
	finSent bool // guarded by srv.mu
	value   any  // reader-only: the handler's per-connection state
	// batch holds back the writes this reader makes (SyncFunc replies, a
	// proxy's forwards) until it has no whole packet buffered.
	batch packet.Batch
}

func newConn(s *Server, pc wire, id uint64) *conn {
	c := &conn{
		srv:       s,
		pc:        pc,
		id:        id,
		waiter:    newSemWaiter(),
		slotFreed: make(chan struct{}, 1),
	}
	c.waiter.beforeWait = c.batch.Flush
	return c
}

// readLoop serves the connection until it fails or is closed; any return
// closes it. Bad packets are reported (and the connection closed) by the
// packet layer. first, if not nil, was read before the loop (a refused
// UDP peer admitted after all) and is handled first.
func (c *conn) readLoop(first *message) {
	defer c.pc.Close()
	defer c.batch.Flush()
	if first != nil && !c.handle(first.typ, first.body) {
		return
	}
	for {
		if !c.pc.Buffered() {
			c.batch.Flush() // the burst is over: write it before waiting
		}
		typ, body, err := c.pc.ReadPacket()
		if err != nil {
			if errors.Is(err, udp.ErrIdle) {
				if c.park() {
					return
				}
				continue
			}
			if badInput(err) {
				c.srv.stats.badInput.Add(1)
			}
			return
		}
		if !c.handle(typ, body) {
			return
		}
	}
}

// message is one message read from the wire.
type message struct {
	typ  uint32
	body []byte
}

// handle dispatches one message; it returns false when the connection
// must close.
func (c *conn) handle(typ uint32, body []byte) bool {
	switch typ {
	case rpc.TypeInvokeReq:
		return c.handleInvoke(body)
	case rpc.TypeCancelReq:
		c.handleCancel(body)
	case rpc.TypeClientWantsFin:
		// The client sends nothing more; finish what is in flight.
		c.srv.log.Debug("rpc/server: client wants fin", "conn", c.id, "remote", c.pc.RemoteAddr())
		c.finishWhenIdle()
	default:
		c.srv.stats.unknown.Add(1)
		if n, ok := c.srv.unknownLog.Allow(); ok {
			c.srv.log.Info("rpc/server: unknown message type ignored",
				"type", fmt.Sprintf("%#08x", typ), "len", len(body), "conn", c.id, "remote", c.pc.RemoteAddr(),
				"ignored_since_last_log", n)
		}
	}
	return true
}

// park ends an idle UDP connection that has no request in flight: the
// transport keeps a dormant record and hands the peer's next message to
// ServeUDP as a new connection (udp.Conn.Park). Replies are written
// before their request leaves inflight, so none can follow it.
func (c *conn) park() bool {
	w, ok := c.pc.(udpWire)
	return ok && c.inflight.Load() == 0 && w.Park()
}

// handleInvoke reserves the request's share of memory (blocking, which
// stops this connection's reads: TCP back-pressure), parses the envelope
// and calls the handler. It returns false when the connection must close.
func (c *conn) handleInvoke(body []byte) bool {
	s := c.srv
	if !c.takeSlot() {
		return false
	}
	if c.udp && c.closeIdle.Load() {
		c.holdUDPEnd()
	}
	w := min(int64(len(body))+requestOverhead, s.lim.MaxRequestBytes())
	if !s.lim.sem.acquire(w, c.waiter, c.pc.Done()) {
		c.freeSlot()
		return false
	}
	r := s.getRequest()
	r.conn, r.weight, r.raw = c, w, body
	r.refs.Store(2) // the reader (below) and the reply
	s.stats.requests.Add(1)
	s.stats.active.Add(1)

	if err := rpc.ParseInvokeReq(body, &r.InvokeReq); err != nil {
		s.stats.malformed.Add(1)
		if len(body) < 8 {
			s.stats.badInput.Add(1)
			s.log.Warn("rpc/server: closing connection: request without query id",
				"reason", err.Error(), "len", len(body), "conn", c.id, "remote", c.pc.RemoteAddr())
			c.release(r)
			r.refs.Store(1)
			r.unref()
			return false
		}
		qid := int64(binary.LittleEndian.Uint64(body))
		if n, ok := s.malformedLog.Allow(); ok {
			s.log.Info("rpc/server: malformed request envelope answered with an error",
				"reason", err.Error(), "query_id", qid, "conn", c.id, "remote", c.pc.RemoteAddr(),
				"malformed_since_last_log", n)
		}
		r.InvokeReq = rpc.InvokeReq{QueryID: qid}
		r.ReplyErr(err)
		r.unref()
		return true
	}
	if c.udp && c.oversized(r) {
		r.unref()
		return true
	}
	// One clock read per reader burst (packet.Batch.Now): requests read
	// together share their arrival time.
	if ms, ok := r.Extra.Timeout(); ok {
		r.deadline = c.batch.Now(s.cfg.Now).Add(time.Duration(ms) * time.Millisecond)
	} else if s.cfg.DefaultTimeout > 0 {
		r.deadline = c.batch.Now(s.cfg.Now).Add(s.cfg.DefaultTimeout)
	}
	if !s.builtin(r) {
		s.call(r)
	}
	r.flags.Or(flagServed)
	r.unref()
	return true
}

// oversized answers r with an error when its body is over the packet cap.
// A TCP connection that sends such a packet is closed by the packet layer
// before it is read; a UDP message is already whole, so only the request
// is refused and the connection goes on.
func (c *conn) oversized(r *Request) bool {
	s := c.srv
	n := s.lim.maxBody(s.cfg.Packet)
	if n <= 0 || len(r.raw) <= n {
		return false
	}
	s.stats.oversized.Add(1)
	if m, ok := s.oversizedLog.Allow(); ok {
		s.log.Info("rpc/server: UDP request over the size cap answered with an error",
			"len", len(r.raw), "max", n, "query_id", r.QueryID, "conn", c.id, "remote", c.pc.RemoteAddr(),
			"oversized_since_last_log", m)
	}
	r.ReplyErr(&rpc.Error{Code: rpc.CodeQueryIncorrect,
		Description: fmt.Sprintf("rpc/server: request of %d bytes is over this server's cap of %d bytes per request", len(r.raw), n)})
	return true
}

// handleCancel passes rpcCancelReq on to a Canceler handler, which finds
// the query among its own calls in flight: the server keeps no table of
// them. Cancels of queries the handler does not know are ignored, as VK
// does.
func (c *conn) handleCancel(body []byte) {
	qid, err := rpc.ParseCancelReq(body)
	if err != nil {
		c.srv.log.Info("rpc/server: malformed cancel ignored", "reason", err.Error(), "conn", c.id)
		return
	}
	if c.srv.canceler != nil && c.srv.canceler.CancelRPC(c.value, qid) {
		c.srv.stats.cancels.Add(1)
	}
}

// errorSlack is how far over WriteBufferLimit TryReplyErr may still queue
// short error answers, so a client that reads slowly learns in order which
// answers were dropped, with memory still bounded.
const errorSlack = 256 << 10

// writeResult frames the answer: header into the Request's scratch, result
// passed through, both copied by WritePacket into the connection's pending
// buffer, so nothing here allocates.
// writeMode is how writeResult may wait for the client.
type writeMode struct {
	try   bool          // never wait: report false when the connection is full
	batch *packet.Batch // hold the write back in this batch (see packet.Batch)
}

// writeResult frames and writes the reply. With m.try it never waits: it
// returns false, writing nothing, when the connection's pending writes are
// at the limit.
func (c *conn) writeResult(r *Request, extra *rpc.ResultExtra, result []byte, isErr bool, code int32, text string, m writeMode) bool {
	s := c.srv
	var head []byte
	if isErr {
		head = rpc.AppendResultHeader(r.head[:0], r.QueryID, extra, r.Extra.Flags, false)
		head = rpc.AppendErrorBody(head, r.QueryID, code, text)
		result = nil
	} else {
		head = rpc.AppendResultHeader(r.head[:0], r.QueryID, extra, r.Extra.Flags, r.TL2)
	}
	n := len(head) + len(result)
	switch {
	case n > s.cfg.maxResponse:
		s.stats.tooLarge.Add(1)
		s.log.Warn("rpc/server: response too large", "query_id", r.QueryID, "len", n, "max", s.cfg.maxResponse, "conn", c.id)
		head = rpc.AppendResultHeader(r.head[:0], r.QueryID, extra, r.Extra.Flags, false)
		head = rpc.AppendErrorBody(head, r.QueryID, rpc.CodeResultTooLarge, "rpc/server: response too large")
		result = nil
	case n%4 != 0 && c.pc.ProtocolVersion() == 0:
		s.log.Warn("rpc/server: response length not a multiple of 4 in protocol version 0",
			"query_id", r.QueryID, "len", n, "conn", c.id)
		head = rpc.AppendResultHeader(r.head[:0], r.QueryID, extra, r.Extra.Flags, false)
		head = rpc.AppendErrorBody(head, r.QueryID, rpc.CodeUnknown, "rpc/server: response length not a multiple of 4")
		result = nil
	}
	r.head = head
	over := 0
	if isErr && m.try {
		over = errorSlack
	}
	ok, err := c.pc.TryWritePacketIn(m.batch, over, rpc.TypeReqResult, head, result)
	if !ok {
		if m.try {
			return false
		}
		// Full: this reply will wait for the client. Whatever the
		// batches hold must not wait with it (other connections' writes
		// may be held there), so write them first.
		if m.batch != nil {
			m.batch.Flush()
		}
		c.batch.Flush()
		err = c.pc.WritePacket(rpc.TypeReqResult, head, result)
	}
	if err != nil && !errors.Is(err, packet.ErrClosed) {
		s.log.Debug("rpc/server: reply not written", "reason", err.Error(), "query_id", r.QueryID, "conn", c.id)
	}
	return true
}

// takeSlot counts one more request in flight, waiting while the
// connection has MaxInflightPerConn (this stops its reads: TCP
// back-pressure). Only the reader takes slots. It returns false when the
// connection closes first.
func (c *conn) takeSlot() bool {
	if c.trySlot() {
		return true
	}
	c.batch.Flush() // the replies we wait for may be held in it
	c.srv.stats.connWaits.Add(1)
	if c.srv.onConnWait != nil {
		c.srv.onConnWait()
	}
	// full is set before each try: a reply that frees a slot after it
	// sees full and signals, so the wait below cannot miss it.
	c.full.Store(true)
	defer c.full.Store(false)
	for !c.trySlot() {
		select {
		case <-c.slotFreed:
		case <-c.pc.Done():
			return false
		}
	}
	return true
}

// trySlot counts one more request in flight if that stays within
// MaxInflightPerConn.
func (c *conn) trySlot() bool {
	if c.inflight.Add(1) <= int64(c.srv.cfg.MaxInflightPerConn) {
		return true
	}
	c.inflight.Add(-1)
	return false
}

// freeSlot ends one request in flight and wakes the reader if it waits
// for a slot.
func (c *conn) freeSlot() {
	c.inflight.Add(-1)
	if c.full.Load() {
		select {
		case c.slotFreed <- struct{}{}:
		default: // a signal is pending already
		}
	}
}

// release returns the request's memory and slot; it runs exactly once per
// request, before the Request can be recycled.
func (c *conn) release(r *Request) {
	c.srv.lim.sem.release(r.weight)
	c.srv.stats.active.Add(-1)
	c.freeSlot()
	if c.closeIdle.Load() && c.inflight.Load() == 0 {
		c.closeGraceful()
	}
}

// finishWhenIdle closes the connection once nothing is in flight: now, or
// at the last reply.
func (c *conn) finishWhenIdle() {
	c.closeIdle.Store(true)
	if c.inflight.Load() == 0 {
		c.closeGraceful()
	}
}

// closeGraceful flushes the replies written so far and closes. It runs on
// its own goroutine because the flush may wait for a slow peer, and the
// caller may be a handler's goroutine or the reader. The goroutine ends
// with the flush, at the latest when Server.Close closes pc; it is not in
// Server.wg because it may start after the reader has left it. A UDP
// connection ends once its peer has acked the replies (endUDPWhenIdle).
func (c *conn) closeGraceful() {
	if c.udp {
		c.endUDPWhenIdle()
		return
	}
	c.closing.Do(func() {
		go func() { _ = c.pc.CloseGraceful() }()
	})
}

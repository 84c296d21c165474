package upstream

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/health"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// Call is one request in flight to an engine. Exactly one of its methods is
// called, once, for every successful Send.
type Call interface {
	// Sent gives the call its engine query id (for Engine.Cancel). It is
	// called during Send, before an answer can arrive, so it is the only
	// safe place to learn the id: after Send returns the call may already
	// be finished and reused.
	Sent(qid int64)
	// Answer delivers the engine's answer on the engine's reader
	// goroutine. body (the message body, starting with the engine's query
	// id) and res (parsed from it) are valid only during the call, which
	// must not block. b is that reader's batch (see packet.Batch): writes
	// made in it (the app's answer) leave together once the reader has no
	// more answers buffered, and b.Now is the burst's clock reading.
	Answer(typ uint32, body []byte, res *rpc.ReqResult, b *packet.Batch)
	// Fail ends the call without an answer; err is an *rpc.Error.
	Fail(err error)
}

// Stats are an engine's counters since it was added to the pool.
type Stats struct {
	Requests atomic.Uint64 // sent
	Answers  atomic.Uint64 // answered (errors from the engine included)
	Errors   atomic.Uint64 // error answers from the engine
	Timeouts atomic.Uint64 // no answer before the deadline
	Failed   atomic.Uint64 // refused or failed by the proxy (down, busy, lost)
	// LatencyNs sums the answers' latencies (sent to answer read), in ns:
	// with Answers, the mean over any interval.
	LatencyNs atomic.Uint64
	ewma      atomic.Int64 // ns; see Latency
}

// Latency is the engine's recent answer latency: a moving average that
// weighs each answer 1/8 (an answer racing another link's may be left
// out: it is a gauge for people, not an account). 0 before any answer.
func (s *Stats) Latency() time.Duration { return time.Duration(s.ewma.Load()) }

// observe adds one answer's latency.
func (s *Stats) observe(d time.Duration) {
	d = max(d, 0) // two burst clock readings: the answer's burst may have started first
	s.LatencyNs.Add(uint64(d))
	if old := s.ewma.Load(); old != 0 {
		d = time.Duration(old) + (d-time.Duration(old))/8
	}
	s.ewma.Store(max(int64(d), 1))
}

// Engine is one engine address: its connection, its pending calls and its
// health. Safe for concurrent use.
type Engine struct {
	key    string // in Pool.engines: addr, or udpKey(addr)
	udp    bool   // reached over VK's UDP transport
	addr   string
	pool   *Pool
	health *health.Tracker
	errs   engineErrors
	stats  Stats

	mu      sync.Mutex
	cur     *link // nil when not connected
	links   map[*link]struct{}
	pending pendingTable
	refs    int
	closed  bool
	dialing bool
	expired []pending // sweeper scratch, used only by the pool ticker
	// nextDue is at or before the earliest deadline pending (zero: none
	// known), so the ticker scans pending only when something may be due.
	nextDue time.Time

	// batch holds back the app answers the link readers write while they
	// have more answers buffered (see packet.Batch); Answer gets it.
	batch    packet.Batch
	ready    chan struct{}
	readyOne sync.Once
}

// link is one packet connection to the engine.
type link struct {
	e       *Engine
	pc      linkConn     // *packet.Conn or udpLink
	w       packetWriter // pc, or a sink in benchmarks
	closing atomic.Bool  // closeIfIdle started a graceful close
}

// packetWriter is the non-blocking half of *packet.Conn that Send needs.
type packetWriter interface {
	TryWritePacket(typ uint32, head, body []byte) (ok bool, err error)
	TryWritePacketIn(b *packet.Batch, over int, typ uint32, head, body []byte) (ok bool, err error)
}

var _ packetWriter = (*packet.Conn)(nil)

// UDP reports whether the engine is reached over VK's UDP transport.
func (e *Engine) UDP() bool { return e.udp }

// Addr returns the engine's address.
func (e *Engine) Addr() string { return e.addr }

// Health returns the engine's health tracker.
func (e *Engine) Health() *health.Tracker { return e.health }

// Stats returns the engine's counters.
func (e *Engine) Stats() *Stats { return &e.stats }

// Ready is closed once the first connection attempt has ended.
func (e *Engine) Ready() <-chan struct{} { return e.ready }

// Connected reports whether the engine has a live connection.
func (e *Engine) Connected() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cur != nil
}

// Pending returns the calls awaiting an answer.
func (e *Engine) Pending() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pending.len()
}

// DownError is the error for requests refused because the engine is down.
func (e *Engine) DownError() error { return e.errs.down }

// Lost reports whether err, from Send or Call.Fail, is the loss of the
// connection the request was written to: the engine may or may not have
// run it. Any other error from Send means the request was not sent.
func (e *Engine) Lost(err error) bool { return err == e.errs.lost }

// BusyError is the error for requests refused by the in-flight cap.
func (e *Engine) BusyError() error { return e.errs.busy }

// Batcher is implemented by calls whose Send runs on a reader goroutine
// working through a burst (a proxy's app reader during ServeRPC): the
// request is held back in that batch until the reader has no whole packet
// buffered, so the burst reaches the engine with one syscall. nil means
// write now.
type Batcher interface {
	Batch() *packet.Batch
}

// Send forwards one request: hdr is the envelope (its first 8 bytes are
// overwritten with the engine query id), body the function call. It returns
// nil or an *rpc.Error; the query id goes to call.Sent. It never blocks:
// without a connection, or with the connection's pending writes at
// QueueLimit (the engine is not reading), it fails at once. The packet is
// written after the lock is released (inline when the connection is idle,
// else coalesced by its flusher), so senders to one engine never wait for
// each other's syscalls.
//
// Once Send returns nil, call belongs to the engine: its Answer or Fail
// may already have run on another goroutine (a UDP datagram, or an inline
// write, leaves inside Send), so the caller must not touch call, nor
// anything call may have released, afterwards.
func (e *Engine) Send(call Call, hdr, body []byte, start, deadline time.Time) error {
	var b *packet.Batch
	if bc, ok := call.(Batcher); ok {
		b = bc.Batch() // before the call is registered: it may finish at once
	}
	e.mu.Lock()
	l := e.cur
	if l == nil {
		err := e.errs.notConnected
		if e.closed {
			err = e.errs.closed
		}
		e.mu.Unlock()
		e.stats.Failed.Add(1)
		return err
	}
	// Registered before the write: the answer may come back at once.
	qid := e.pending.add(pending{call: call, link: l, start: start, deadline: deadline})
	call.Sent(qid)
	if !deadline.IsZero() && (e.nextDue.IsZero() || deadline.Before(e.nextDue)) {
		e.nextDue = deadline
	}
	e.mu.Unlock()
	binary.LittleEndian.PutUint64(hdr, uint64(qid))
	ok, err := l.w.TryWritePacketIn(b, 0, rpc.TypeInvokeReq, hdr, body)
	if ok && err == nil {
		e.stats.Requests.Add(1)
		return nil
	}
	e.mu.Lock()
	_, mine := e.pending.take(qid)
	e.mu.Unlock()
	if !mine {
		// The connection failed meanwhile and its reader (or the sweeper)
		// took the call: it gets Fail from them, so the Send stands.
		return nil
	}
	e.stats.Failed.Add(1)
	if !ok {
		return e.errs.backlog
	}
	return e.errs.lost // the connection is failing; its reader will report it
}

// Cancel removes the call with query id qid, if it is still pending, and
// passes rpcCancelReq to the engine. It reports whether the call was
// removed; if so, neither Answer nor Fail will be called for it.
func (e *Engine) Cancel(qid int64) bool {
	e.mu.Lock()
	p, ok := e.pending.take(qid)
	e.mu.Unlock()
	if ok {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(qid))
		_, _ = p.link.w.TryWritePacket(rpc.TypeCancelReq, b[:], nil)
	}
	return ok
}

// connect dials a new connection unless one is being dialled or the engine
// is closed, and makes it current.
func (e *Engine) connect(ctx context.Context) error {
	e.mu.Lock()
	if e.closed || e.dialing {
		e.mu.Unlock()
		return errDialing
	}
	e.dialing = true
	e.mu.Unlock()
	l, err := e.dial(ctx)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dialing = false
	if err != nil {
		return err
	}
	if e.closed {
		l.pc.Close()
		return errDialing
	}
	e.cur = l
	e.links[l] = struct{}{}
	e.pool.wg.Add(1)
	go l.read()
	return nil
}

func (e *Engine) dial(ctx context.Context) (*link, error) {
	o := &e.pool.opts
	ctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	if e.udp {
		return e.dialUDP(ctx)
	}
	nc, err := o.Dial(ctx, "tcp", e.addr)
	if err != nil {
		return nil, &EngineError{Addr: e.addr, Op: "dial", Err: err}
	}
	pc, err := packet.ClientHandshake(nc, o.Packet)
	if err != nil {
		return nil, &EngineError{Addr: e.addr, Op: "handshake", Err: err}
	}
	return &link{e: e, pc: pc, w: pc}, nil
}

// read delivers answers until the connection fails.
func (l *link) read() {
	defer l.e.pool.wg.Done()
	e := l.e
	var res rpc.ReqResult
	defer e.batch.Flush()
	for {
		if !l.pc.Buffered() {
			e.batch.Flush() // no more answers buffered: write the burst
		}
		typ, body, err := l.pc.ReadPacket()
		if err != nil {
			e.linkDown(l, &EngineError{Addr: e.addr, Op: "read", Err: err})
			return
		}
		switch typ {
		case rpc.TypeReqResult, rpc.TypeReqResultError:
			e.deliver(typ, body, &res)
		case rpc.TypeServerWantsFin:
			e.serverWantsFin(l)
		}
	}
}

func (e *Engine) deliver(typ uint32, body []byte, res *rpc.ReqResult) {
	if len(body) < 8 {
		return
	}
	qid := int64(binary.LittleEndian.Uint64(body))
	e.mu.Lock()
	p, ok := e.pending.take(qid)
	stale := ok && e.cur != p.link
	e.mu.Unlock()
	if !ok {
		return // answered after its deadline or a cancel
	}
	if stale {
		defer e.closeIfIdle(p.link)
	}
	now := e.batch.Now(e.pool.opts.Now) // one clock read per answer burst
	if err := rpc.ParseResult(typ, body, res); err != nil {
		e.stats.Failed.Add(1)
		p.call.Fail(e.errs.invalid)
		return
	}
	e.stats.Answers.Add(1)
	latency := now.Sub(p.start)
	e.stats.observe(latency)
	var c health.Change
	if res.IsError() {
		e.stats.Errors.Add(1)
	}
	if res.IsError() && res.ErrorCode == rpc.CodeQueryTimeout {
		e.stats.Timeouts.Add(1)
		c = e.health.TimedOut(now)
	} else {
		c = e.health.Answered(now, latency)
	}
	p.call.Answer(typ, body, res, &e.batch)
	e.pool.report(e, c, nil)
}

// serverWantsFin moves new requests to a fresh connection; the old one
// keeps delivering its pending answers and is closed when they are done.
func (e *Engine) serverWantsFin(l *link) {
	e.mu.Lock()
	if e.cur == l {
		e.cur = nil
	}
	e.mu.Unlock()
	e.pool.goConnect(e)
	e.closeIfIdle(l)
}

// closeIfIdle closes a link that is no longer current once nothing is
// pending on it.
func (e *Engine) closeIfIdle(l *link) {
	e.mu.Lock()
	if e.cur == l {
		e.mu.Unlock()
		return
	}
	for _, p := range e.pending.all() {
		if p.link == l {
			e.mu.Unlock()
			return
		}
	}
	e.mu.Unlock()
	if l.closing.Swap(true) {
		return
	}
	// Flush what was written (a cancel, say) and close; the flush may wait
	// for the engine, so not on the caller's goroutine. Closing ends the
	// link's reader, which forgets the link.
	e.pool.wg.Add(1)
	go func() {
		defer e.pool.wg.Done()
		_ = l.pc.CloseGraceful()
	}()
}

// linkDown fails every call sent on l and, if l was the engine's current
// connection, reports a connect error.
func (e *Engine) linkDown(l *link, cause error) {
	e.mu.Lock()
	wasCur := e.cur == l
	if wasCur {
		e.cur = nil
	}
	delete(e.links, l)
	var failed []Call
	for qid, p := range e.pending.all() {
		if p.link == l {
			failed = append(failed, p.call)
			e.pending.take(qid)
		}
	}
	closed := e.closed
	e.mu.Unlock()
	l.pc.Close()
	err := e.errs.lost
	if closed {
		err = e.errs.closed
	}
	for _, c := range failed {
		e.stats.Failed.Add(1)
		c.Fail(err)
	}
	if wasCur && !closed {
		e.pool.report(e, e.health.ConnectFailed(e.pool.now()), cause)
	}
}

// sweep fails the calls whose deadline passed before now. It scans the
// pending calls only when the earliest deadline may have passed, and learns
// the next earliest while scanning: with answers much faster than
// timeouts, that is one scan per timeout, not one per tick.
func (e *Engine) sweep(now time.Time) {
	e.mu.Lock()
	if e.nextDue.IsZero() || !now.After(e.nextDue) {
		e.mu.Unlock()
		return
	}
	exp := e.expired[:0]
	var next time.Time
	for qid, p := range e.pending.all() {
		switch {
		case p.deadline.IsZero():
		case now.After(p.deadline):
			exp = append(exp, *p)
			e.pending.take(qid)
		case next.IsZero() || p.deadline.Before(next):
			next = p.deadline
		}
	}
	e.nextDue = next
	e.mu.Unlock()
	for i := range exp {
		e.stats.Timeouts.Add(1)
		c := e.health.TimedOut(now)
		exp[i].call.Fail(e.errs.timeout)
		e.pool.report(e, c, nil)
		exp[i] = pending{}
	}
	e.expired = exp[:0]
}

// close shuts the engine: its connections close and pending calls fail.
func (e *Engine) close() {
	e.mu.Lock()
	e.closed = true
	e.cur = nil
	links := make([]*link, 0, len(e.links))
	for l := range e.links {
		links = append(links, l)
	}
	e.mu.Unlock()
	for _, l := range links {
		l.pc.Close() // the reader fails the pending calls
	}
	e.readyOne.Do(func() { close(e.ready) })
}

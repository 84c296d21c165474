package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// Handler serves requests. ServeRPC is called on the connection's reader
// goroutine, so it must not block: a handler that answers later keeps the
// Request (calling Retain first if it needs Body after returning) and
// replies from another goroutine. Every request gets exactly one reply
// (Reply, ReplyWithExtra, ReplyError or ReplyErr), even one whose
// no_result flag is set: that reply writes nothing but releases the
// request's memory, its connection slot and the Request itself.
type Handler interface {
	ServeRPC(r *Request)
}

// Canceler is implemented by handlers that want rpcCancelReq. CancelRPC is
// called on the connection's reader goroutine with what the handler keeps
// with that connection (Request.SetConnValue; nil if nothing) and the
// query id the client cancelled, whatever its state: the server keeps no
// table of the queries in flight, which would cost every request a map
// insert and delete under a lock, while a handler that supports cancels
// tracks its calls anyway. It reports whether the query was still in
// flight (counted as a cancel in the stats); the request still needs its
// one reply.
type Canceler interface {
	CancelRPC(connValue any, queryID int64) bool
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(r *Request)

// ServeRPC calls f(r).
func (f HandlerFunc) ServeRPC(r *Request) { f(r) }

// SyncFunc is the handler of simple engines: it answers at once by
// appending the boxed result to dst (a buffer reused with the Request) or
// returning an error, which rpc.ErrorOf maps to the TL error sent.
type SyncFunc func(r *Request, dst []byte) ([]byte, error)

// ServeRPC calls f and replies with its result or error.
func (f SyncFunc) ServeRPC(r *Request) {
	out, err := f(r, r.out[:0])
	if err != nil {
		e := rpc.ErrorOf(err)
		r.replyOnReader(nil, true, e.Code, e.Description)
		return
	}
	r.replyOnReader(out, false, 0, "")
	// The reader still holds the Request, so keeping the grown buffer is safe.
	r.out = out[:0]
}

var (
	_ Handler = HandlerFunc(nil)
	_ Handler = SyncFunc(nil)
)

type serverState int

const (
	stateRunning serverState = iota
	stateShutdown
	stateClosed
)

// Server is a TL RPC server over packet connections (TCP, Serve) and UDP
// transports (ServeUDP).
type Server struct {
	cfg      settings
	log      *slog.Logger
	start    time.Time
	handler  Handler
	canceler Canceler
	pool     sync.Pool
	stats    counters
	// One log line a second for each kind of refusal (packet.LogLimit).
	rejectLog    packet.LogLimit
	unknownLog   packet.LogLimit
	malformedLog packet.LogLimit
	oversizedLog packet.LogLimit

	onConnWait func()        // test hook: a reader waits for a slot; nil in production
	onConnDone func()        // test hook: a connection goroutine ends; nil in production
	refuseWait time.Duration // how long a refused UDP peer is answered at most: the const refuseWait, but in tests
	settleWait time.Duration // how long an ending UDP connection waits for acks: the const udpSettleWait, but in tests

	lim      *Limits // connections and bytes, maybe shared with other servers
	nextID   atomic.Uint64
	stopping atomic.Bool // Shutdown or Close began: engine.pid answers GRACEFUL_SHUTDOWN

	mu         sync.Mutex
	state      serverState
	listeners  map[net.Listener]struct{}
	transports map[*udp.Transport]struct{}
	handshakes map[net.Conn]struct{}
	conns      map[*conn]struct{}
	wg         sync.WaitGroup // connection goroutines; Add under mu while running
	stopped    chan struct{}  // closed when Shutdown or Close begins
	refusing   int            // UDP peers being refused (refuseUDP); under mu
}

// New validates cfg and returns a server; call Serve to start it.
func New(cfg Config) (*Server, error) {
	start := time.Now()
	if cfg.Now != nil {
		start = cfg.Now()
	}
	st, err := cfg.settings(start)
	if err != nil {
		return nil, err
	}
	s := &Server{
		lim:        st.lim,
		cfg:        st,
		log:        st.Logger,
		start:      start,
		handler:    st.Handler,
		listeners:  make(map[net.Listener]struct{}),
		transports: make(map[*udp.Transport]struct{}),
		handshakes: make(map[net.Conn]struct{}),
		conns:      make(map[*conn]struct{}),
		stopped:    make(chan struct{}),
	}
	s.canceler, _ = st.Handler.(Canceler)
	s.rejectLog.Now, s.unknownLog.Now, s.malformedLog.Now, s.oversizedLog.Now = st.Now, st.Now, st.Now, st.Now
	s.pool.New = func() any { return new(Request) }
	s.refuseWait = refuseWait
	s.settleWait = udpSettleWait
	return s, nil
}

// admit counts a new connection (TCP or UDP) against MaxConns. Beyond it
// the caller closes the connection at once, so the client fails fast
// instead of waiting; the refusal is logged at most once a second.
func (s *Server) admit(remote net.Addr) bool {
	s.stats.connsTotal.Add(1)
	if s.takeConnSlot() {
		return true
	}
	s.stats.connsRejected.Add(1)
	if n, ok := s.rejectLog.Allow(); ok {
		s.log.Warn("rpc/server: MaxConns reached, connection closed",
			"remote", remote, "max_conns", s.lim.MaxConns(), "rejected_since_last_log", n)
	}
	return false
}

// takeConnSlot counts one more connection if that stays within MaxConns.
func (s *Server) takeConnSlot() bool {
	if s.lim.conns.Add(1) <= s.lim.maxConns.Load() {
		return true
	}
	s.lim.conns.Add(-1)
	return false
}

// Serve accepts connections on ln until Shutdown or Close, which close ln,
// and then returns ErrServerClosed. Other accept errors are retried with a
// growing pause (the usual cause is running out of file descriptors); an
// error of a listener closed by someone else is returned.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.state != stateRunning {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var pause time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.stopped:
				return ErrServerClosed
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("rpc/server: accept: %w", err)
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			s.log.Warn("rpc/server: accept failed, retrying", "reason", err.Error(), "pause", pause)
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-s.stopped:
				t.Stop()
				return ErrServerClosed
			}
			continue
		}
		pause = 0
		if !s.admit(nc.RemoteAddr()) {
			_ = nc.Close()
			continue
		}
		s.mu.Lock()
		if s.state != stateRunning {
			s.mu.Unlock()
			s.lim.conns.Add(-1)
			_ = nc.Close()
			return ErrServerClosed
		}
		s.handshakes[nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(nc)
	}
}

// serveConn runs one connection: handshake, then the reader loop.
func (s *Server) serveConn(nc net.Conn) {
	defer s.wg.Done()
	defer s.lim.conns.Add(-1)
	if s.onConnDone != nil {
		defer s.onConnDone()
	}
	pc, err := packet.ServerHandshake(nc, s.lim.packetConfig(s.cfg.Packet))
	s.mu.Lock()
	delete(s.handshakes, nc)
	s.mu.Unlock()
	if err != nil {
		// The packet layer has closed nc and logged why, except for text
		// (its config was validated by New).
		var text *packet.TextProtocolError
		switch {
		case errors.As(err, &text):
			s.answerText(nc, text.Head)
			_ = nc.Close()
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, packet.ErrTimeout):
			// The client left (a health check, a port scan) or stalled.
		default:
			s.stats.badInput.Add(1)
		}
		return
	}
	c := newConn(s, pc, s.nextID.Add(1))
	s.mu.Lock()
	switch s.state {
	case stateClosed:
		s.mu.Unlock()
		_ = pc.Close()
		return
	case stateShutdown:
		// Handshaken during Shutdown: it gets its fin like the others.
		c.finSent = true
	}
	fin := c.finSent
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if fin {
		_ = pc.WritePacket(rpc.TypeServerWantsFin, nil, nil)
	}
	s.stats.connsActive.Add(1)
	c.readLoop(nil)
	s.stats.connsActive.Add(-1)
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops accepting (closing the listeners), sends
// rpcServerWantsFin once on every connection (connections still in their
// handshake get it when it completes), and waits for the clients to
// finish: a VK client closes an idle connection at once, and otherwise
// sends rpcClientWantsFin, after which the server closes the connection
// at its last reply. Requests keep being served meanwhile, so a request
// the client sent before it saw the fin is still answered. Shutdown
// returns nil when every connection is closed, or, if ctx ends first (a
// client that ignores the fin), hard-closes the rest as Close does and
// returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopLocked(stateShutdown)
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		if !c.finSent {
			c.finSent = true
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		if c.udp {
			// No fin over UDP (wire.md §4.7): close at the last reply.
			c.finishWhenIdle()
			continue
		}
		// WritePacket may wait for a slow peer's window: outside the lock.
		_ = c.pc.WritePacket(rpc.TypeServerWantsFin, nil, nil)
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.closeTransports()
		return nil
	case <-ctx.Done():
		_ = s.Close()
		<-done
		return fmt.Errorf("rpc/server: shutdown: %w", ctx.Err())
	}
}

// Close closes the listeners and every connection at once, and waits for
// their goroutines. Replies to requests still held by handlers are then
// dropped (the reply methods stay safe to call). Always returns nil.
func (s *Server) Close() error {
	s.mu.Lock()
	s.stopLocked(stateClosed)
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.pc.Close()
	}
	s.closeTransports()
	s.wg.Wait()
	return nil
}

// stopLocked moves the state forward and closes what accepts connections.
func (s *Server) stopLocked(to serverState) {
	if s.state == stateRunning {
		close(s.stopped)
		s.stopping.Store(true)
	}
	if to > s.state {
		s.state = to
	}
	for ln := range s.listeners {
		_ = ln.Close()
	}
	if to == stateClosed {
		// Shutdown lets handshakes finish: they then get a fin.
		for nc := range s.handshakes {
			_ = nc.Close()
		}
	}
}

// call runs the handler; a panic is logged and answered with
// rpc.CodeInternal (if the handler had not answered), and the server
// keeps serving.
func (s *Server) call(r *Request) {
	defer func() {
		if p := recover(); p != nil {
			s.stats.panics.Add(1)
			s.log.Error("rpc/server: handler panic", "panic", fmt.Sprint(p), "query_id", r.QueryID,
				"conn", r.conn.id, "stack", string(debug.Stack()))
			if r.flags.Load()&flagReplied == 0 {
				r.ReplyError(rpc.CodeInternal, "rpc/server: handler panic")
			}
		}
	}()
	s.handler.ServeRPC(r)
}

func (s *Server) getRequest() *Request { return s.pool.Get().(*Request) }

func (s *Server) putRequest(r *Request) {
	r.reset()
	s.pool.Put(r)
}

// counters are the server's stats, read by engine.stat.
type counters struct {
	connsTotal    atomic.Int64
	connsActive   atomic.Int64
	connsRejected atomic.Int64
	requests      atomic.Int64
	active        atomic.Int64
	malformed     atomic.Int64
	oversized     atomic.Int64
	cancels       atomic.Int64
	tooLarge      atomic.Int64
	panics        atomic.Int64
	connWaits     atomic.Int64
	unknown       atomic.Int64
	badInput      atomic.Int64
}

// Counters is a snapshot of a Server's counters (Counters); the same
// values answer engine.stat.
type Counters struct {
	ConnsTotal    int64 // connections accepted (TCP) or UDP peers admitted
	ConnsActive   int64 // connections serving requests now
	ConnsRejected int64 // closed at once: over MaxConns
	// BadInput counts connections closed because the client sent bytes
	// that are not TL RPC: a failed handshake (not text, a close or a
	// timeout), a framing, sequence or CRC error, a request without a
	// query id.
	BadInput    int64
	Requests    int64 // requests read
	Active      int64 // requests not answered yet
	Malformed   int64 // requests whose envelope did not parse
	Oversized   int64 // UDP requests over the packet cap, answered with an error
	Cancels     int64 // rpcCancelReq for a pending request
	TooLarge    int64 // answers replaced by RESULT_TOO_LARGE
	Panics      int64 // handler panics recovered
	ConnWaits   int64 // reader waits at MaxInflightPerConn
	UnknownMsgs int64 // messages of unknown types, ignored
}

// Counters returns the server's counters now.
func (s *Server) Counters() Counters {
	st := &s.stats
	return Counters{
		ConnsTotal: st.connsTotal.Load(), ConnsActive: st.connsActive.Load(), ConnsRejected: st.connsRejected.Load(),
		BadInput: st.badInput.Load(), Requests: st.requests.Load(), Active: st.active.Load(),
		Malformed: st.malformed.Load(), Oversized: st.oversized.Load(), Cancels: st.cancels.Load(), TooLarge: st.tooLarge.Load(),
		Panics: st.panics.Load(), ConnWaits: st.connWaits.Load(), UnknownMsgs: st.unknown.Load(),
	}
}

// badInput reports whether err, which ended a connection, is the client's
// bad bytes rather than a close, a timeout or our own shutdown.
func badInput(err error) bool {
	for _, class := range []error{packet.ErrBadLength, packet.ErrBadSeq, packet.ErrBadCRC, packet.ErrBadPadding,
		packet.ErrExcessivePadding, packet.ErrBadType, packet.ErrPingPong} {
		if errors.Is(err, class) {
			return true
		}
	}
	return false
}

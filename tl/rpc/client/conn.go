package client

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// wire is what the client needs of a connection: a TCP *packet.Conn or a
// *udp.Conn. Both carry (type, body) messages, give ReadPacket's body to
// one reader until its next call, copy what WritePacket is given, and
// report why they ended through Err.
type wire interface {
	ReadPacket() (typ uint32, body []byte, err error)
	WritePacket(typ uint32, head, body []byte) error
	Close() error
	Done() <-chan struct{}
	Err() error
}

var (
	_ wire = (*packet.Conn)(nil)
	_ wire = (*udp.Conn)(nil)
)

// conn is one established connection of a slot with its reader goroutine.
type conn struct {
	s        *slot
	pc       wire
	udp      bool // UDP: no handshake, rpcServerWantsFin ignored (wire.md §4.7)
	cancelOK bool // the peer advertised rpcCancelReq support (always on UDP)
	born     time.Time
	local    net.Addr // for the "connected" log line
	version  uint32
	crypto   bool

	// Guarded by s.mu.
	inflight int
	draining bool // rpcServerWantsFin received: no new calls, close when idle

	lossMu sync.Mutex
	loss   error // set before waking the dial loop when the current conn broke

	// Reader goroutine only.
	res     Response
	victims []*call
}

func newConn(s *slot, pc *packet.Conn) *conn {
	return &conn{s: s, pc: pc, cancelOK: pc.PeerFlags()&packet.FlagCancelReq != 0, born: time.Now(),
		local: pc.LocalAddr(), version: pc.ProtocolVersion(), crypto: pc.Encrypted()}
}

// newUDPConn wraps a UDP connection. UDP has no handshake flags to say
// whether the peer knows rpcCancelReq, so it is always sent, as tag and
// query id (wire.md §5.6; VK's server parses it, unknown ids are ignored),
// not tag-less as VK's UDP client does.
func newUDPConn(s *slot, uc *udp.Conn) *conn {
	return &conn{s: s, pc: uc, udp: true, cancelOK: true, born: time.Now(),
		local: uc.LocalAddr(), version: uc.ProtocolVersion(), crypto: true}
}

func (cn *conn) lossErr() error {
	cn.lossMu.Lock()
	defer cn.lossMu.Unlock()
	return cn.loss
}

// closeIfDrained closes a draining connection whose last call completed.
// nil-safe so that callers can pass detachLocked's result unchecked. It
// closes at once rather than flushing first: nothing left to write
// matters (a cancel, the fin), and the caller may be the reader, which
// must not wait on a peer that is itself waiting for us to read.
func (cn *conn) closeIfDrained() {
	if cn != nil {
		_ = cn.pc.Close()
	}
}

// read is the reader goroutine: it pairs answers with pending calls and
// delivers them, handles rpcServerWantsFin, and on any read error fails
// every call in flight on this connection with one error.
func (cn *conn) read() {
	defer cn.s.cl.wg.Done()
	for {
		typ, body, err := cn.pc.ReadPacket()
		if err != nil {
			cn.lost(err)
			return
		}
		switch typ {
		case rpc.TypeReqResult, rpc.TypeReqResultError:
			cn.answer(typ, body)
		case rpc.TypeServerWantsFin:
			if !cn.udp { // UDP peers never send it; one that does is ignored (wire.md §5.6)
				cn.serverWantsFin()
			}
		default:
			// VK's client ignores unknown types too: newer servers may
			// send messages we do not know.
			cn.s.cl.opts.Logger.Debug("rpc/client: ignoring message", "addr", cn.s.cl.addr, "type", fmt.Sprintf("%#08x", typ))
		}
	}
}

func (cn *conn) answer(typ uint32, body []byte) {
	s := cn.s
	r := &cn.res
	perr := r.load(typ, body)
	qid := r.Result.QueryID
	s.mu.Lock()
	c := s.tab.get(qid)
	if c == nil || c.cn != cn {
		// Unknown ids are ignored (wire.md §4.7): the call timed out or
		// was canceled, or the peer is confused.
		s.mu.Unlock()
		return
	}
	s.tab.remove(qid, c)
	c.disarm()
	retire := s.detachLocked(c)
	s.mu.Unlock()
	retire.closeIfDrained()

	// The answer can only follow the request's bytes onto the wire, so
	// its sender is at most finishing WritePacket's return: wait for it,
	// because resp aliases our read buffer and cannot be handed over.
	for c.state.Load()&stSending != 0 {
		runtime.Gosched()
	}
	st := &s.cl.stats
	switch {
	case perr != nil:
		c.err = fmt.Errorf("rpc/client: answer from %s: %w", s.cl.addr, perr)
		st.failed.Add(1)
		c.state.Store(stDone)
		c.deliver(nil)
		return
	case r.Result.IsError():
		c.err = r.Result.Err()
		st.errors.Add(1)
	default:
		c.err = nil
		if err := r.Result.CheckTL2(c.tl2); err != nil {
			c.err = fmt.Errorf("rpc/client: answer from %s: %w", s.cl.addr, err)
		}
	}
	st.answered.Add(1)
	if c.h == nil && c.dst != nil {
		c.dst.copyFrom(r)
	}
	c.state.Store(stDone)
	c.deliver(r)
}

// serverWantsFin: stop sending new calls here (the dial loop opens a fresh
// connection), tell the server with rpcClientWantsFin if calls are still
// in flight and close once they are done, else close now.
func (cn *conn) serverWantsFin() {
	s := cn.s
	s.mu.Lock()
	wasCurrent := s.retireLocked(cn)
	cn.draining = true
	n := cn.inflight
	s.mu.Unlock()
	s.cl.opts.Logger.Info("rpc/client: server wants fin", "addr", s.cl.addr, "in_flight", n)
	if wasCurrent {
		s.wakeLoop()
	}
	if n > 0 {
		_ = cn.pc.WritePacket(rpc.TypeClientWantsFin, nil, nil)
		return
	}
	cn.closeIfDrained()
}

// lost fails every call in flight on cn with one error naming the address
// (ErrClosed when the Client is closing) and wakes the dial loop if cn was
// current.
func (cn *conn) lost(cause error) {
	s := cn.s
	s.mu.Lock()
	wasCurrent := s.retireLocked(cn)
	s.dropLocked(cn)
	closing := s.closed
	cn.victims = s.failLocked(cn.victims[:0], func(c *call) bool { return c.cn == cn })
	cn.inflight = 0
	s.mu.Unlock()
	_ = cn.pc.Close()

	var err error = &ConnError{Addr: s.cl.addr, Err: ErrConnLost, Cause: cause}
	switch {
	case closing:
		err = ErrClosed
	case !wasCurrent && len(cn.victims) == 0 && (errors.Is(cause, packet.ErrClosed) || errors.Is(cause, udp.ErrClosed)):
		// A drained connection we closed ourselves: nothing was lost.
	default:
		s.cl.opts.Logger.Warn("rpc/client: connection lost", "addr", s.cl.addr,
			"in_flight", len(cn.victims), "err", cause)
	}
	for _, c := range cn.victims {
		s.cl.stats.failed.Add(1)
		c.finish(err)
	}
	clear(cn.victims)
	if wasCurrent {
		cn.lossMu.Lock()
		cn.loss = err
		cn.lossMu.Unlock()
		s.wakeLoop()
	}
}

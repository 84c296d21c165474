package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// wire is what a connection's reader and replies need from the transport:
// a TCP packet.Conn as it is, a udp.Conn through udpWire.
type wire interface {
	ReadPacket() (typ uint32, body []byte, err error)
	WritePacket(typ uint32, head, body []byte) error
	TryWritePacketIn(b *packet.Batch, over int, typ uint32, head, body []byte) (ok bool, err error)
	Buffered() bool
	Close() error
	CloseGraceful() error
	Done() <-chan struct{}
	RemoteAddr() net.Addr
	LocalAddr() net.Addr
	PeerPID() packet.PID
	LocalPID() packet.PID
	ProtocolVersion() uint32
	Encrypted() bool
}

var (
	_ wire = (*packet.Conn)(nil)
	_ wire = udpWire{}
)

// udpWire adapts a udp.Conn, which already has TryWritePacketIn: an
// answer written in a batch (the proxy's engine reader answering a burst)
// waits for the batch's Flush, so the answers of a burst to one app share
// datagrams. TryWritePacketIn reports the connection full, without
// waiting, while its queue holds a window of unacknowledged bytes (about 1
// MB), as a TCP connection does at its write buffer limit.
type udpWire struct {
	*udp.Conn
	t *udp.Transport
}

// CloseGraceful asks the transport to close once the peer has acked every
// answer written and the reader has seen every request received
// (udp.Conn.CloseGraceful); it does not wait. conn.endUDPWhenIdle calls it
// while nothing is in flight, and bounds the wait for the peer's acks.
func (w udpWire) CloseGraceful() error {
	w.Conn.CloseGraceful()
	return nil
}

// udpSettleWait is how long a graceful close waits for a peer's acks: a
// live VK peer acks within its 30 ms ack delay, and a resend or two fit.
const udpSettleWait = 250 * time.Millisecond

// endUDPWhenIdle ends a UDP connection that is to close once idle
// (Shutdown; UDP has no fin): with nothing in flight it asks the transport
// to end it once every answer is acked and the reader is back for the next
// request, and a request the reader takes meanwhile takes that back
// (holdUDPEnd) until its answer is written, when this runs again. Ending
// on the acks alone would drop the answer an asynchronous handler (the
// proxy) writes after its reader went back to the transport. The peer's
// acks are waited for s.settleWait at most, counted afresh while a request
// is in flight: closing at once could lose the last answers, and a peer
// that is gone never acks them.
func (c *conn) endUDPWhenIdle() {
	c.endMu.Lock()
	if c.inflight.Load() == 0 {
		_ = c.pc.CloseGraceful()
	}
	c.endMu.Unlock()
	c.closing.Do(func() { go c.closeUDPWithin(c.srv.settleWait) })
}

// holdUDPEnd takes back a pending end (endUDPWhenIdle) for a request the
// reader has just taken: the transport ends a connection only once its
// reader is back in ReadPacket, so it cannot have ended on acks since.
func (c *conn) holdUDPEnd() {
	c.endMu.Lock()
	defer c.endMu.Unlock()
	c.pc.(udpWire).CancelGraceful()
}

// closeUDPWithin closes c when its graceful end has not come within d
// with nothing in flight. It is not in Server.wg, as closeGraceful's
// goroutine is not; it ends with c.
func (c *conn) closeUDPWithin(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-c.pc.Done():
			return
		case <-t.C:
			if c.inflight.Load() == 0 {
				_ = c.pc.Close()
				return
			}
			t.Reset(d)
		}
	}
}

// Encrypted is true: UDP is always encrypted (wire.md §5.1).
func (w udpWire) Encrypted() bool { return true }

func (w udpWire) LocalPID() packet.PID { return w.t.LocalPID() }

// ServeUDP serves every connection t accepts like a TCP connection, except
// that the server never sends rpcServerWantsFin over UDP (wire.md §4.7):
// Shutdown closes each UDP connection once its requests are answered and
// the answers acked (conn.endUDPWhenIdle; the acks are waited for
// udpSettleWait at most). t
// belongs to the server from now on: Shutdown (after the last connection
// ends) and Close close it, and ServeUDP then returns ErrServerClosed.
// MaxConns counts UDP peers too.
func (s *Server) ServeUDP(t *udp.Transport) error {
	s.mu.Lock()
	if s.state != stateRunning {
		s.mu.Unlock()
		_ = t.Close()
		return ErrServerClosed
	}
	s.transports[t] = struct{}{}
	s.mu.Unlock()
	for {
		uc, err := t.Accept()
		if err != nil {
			select {
			case <-s.stopped:
				return ErrServerClosed
			default:
			}
			s.mu.Lock()
			delete(s.transports, t)
			s.mu.Unlock()
			return fmt.Errorf("rpc/server: udp accept: %w", err)
		}
		if !s.admit(uc.RemoteAddr()) {
			s.refuseUDP(uc, t)
			continue
		}
		// Not running: Close, or Shutdown's end, closes t and ends Accept.
		if c := s.addUDPConn(uc, t, true); c != nil {
			go s.serveUDPConn(c, nil)
		}
	}
}

// addUDPConn registers an admitted peer's connection (its slot taken),
// and adds it to wg when addWG (a refusal being handed over counts in wg
// already). It returns nil, having closed uc and given the slot back, when
// the server is no longer running.
func (s *Server) addUDPConn(uc *udp.Conn, t *udp.Transport, addWG bool) *conn {
	c := newConn(s, udpWire{Conn: uc, t: t}, s.nextID.Add(1))
	c.udp = true
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateRunning {
		s.lim.conns.Add(-1)
		_ = uc.Close()
		return nil
	}
	s.conns[c] = struct{}{}
	if addWG {
		s.wg.Add(1)
	}
	return c
}

// UDP peers refused over MaxConns: at most maxRefusing are answered at
// once (beyond, a refused peer is dropped unanswered), each for at most
// refuseWait (its requests to arrive whole, its acks of the answers).
const (
	maxRefusing = 64
	refuseWait  = time.Second
)

// refuseUDP answers the requests of a peer refused over MaxConns with
// TOO_MANY_REQUESTS, then parks its connection once the peer has acked
// them (udp.Conn.ParkGraceful). A refused TCP client sees its connection
// closed at once; a UDP peer has no such signal, and would wait for its
// timeout. Parked, the peer's next call comes back through Accept and is
// admitted or refused afresh, with nothing for its client to notice. A
// slot that frees meanwhile admits it at its next request, which is then
// served like any other. Shutdown waits for a refusal in progress
// (refuseWait at most).
func (s *Server) refuseUDP(uc *udp.Conn, t *udp.Transport) {
	s.mu.Lock()
	if s.state != stateRunning || s.refusing >= maxRefusing {
		s.mu.Unlock()
		_ = uc.Close()
		return
	}
	s.refusing++
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		if c, first := s.refuse(uc, t); c != nil {
			s.serveUDPConn(c, first) // its wg.Done ends the refusal's count
			return
		}
		s.wg.Done()
	}()
}

// refuse answers uc's requests until uc ends (nil), or until a request
// finds a free slot: it then returns uc's connection, registered, and
// that request, for serveUDPConn.
func (s *Server) refuse(uc *udp.Conn, t *udp.Transport) (*conn, *message) {
	defer func() {
		s.mu.Lock()
		s.refusing--
		s.mu.Unlock()
	}()
	stop := time.AfterFunc(s.refuseWait, func() { _ = uc.Close() })
	defer stop.Stop()
	text := fmt.Sprintf("rpc/server: connection refused: the server's cap of %d connections is reached; retry later", s.lim.MaxConns())
	// Every request read is answered, until the park (at once if nothing
	// has arrived unread) or refuseWait. The park waits for this reader
	// to come back to ReadPacket, so the request it holds can still be
	// answered, or served.
	uc.ParkGraceful()
	for {
		typ, body, err := uc.ReadPacket()
		switch {
		case errors.Is(err, udp.ErrIdle):
		case err != nil:
			return nil, nil // uc has ended
		case typ != rpc.TypeInvokeReq || len(body) < 8:
			// Nothing to answer.
		case s.takeConnSlot():
			// Room now: keep uc, unless refuseWait has closed it or the
			// peer reset it.
			if !stop.Stop() || !uc.CancelGraceful() {
				s.lim.conns.Add(-1)
				_ = uc.Close()
				return nil, nil
			}
			c := s.addUDPConn(uc, t, false)
			if c != nil {
				s.log.Debug("rpc/server: refused UDP peer admitted: a connection slot freed", "conn", c.id, "remote", uc.RemoteAddr())
			}
			return c, &message{typ, body}
		default:
			qid := int64(binary.LittleEndian.Uint64(body))
			head := rpc.AppendResultHeader(nil, qid, nil, 0, false)
			_ = uc.WritePacket(rpc.TypeReqResult, head, rpc.AppendErrorBody(nil, qid, rpc.CodeTooManyRequests, text))
		}
	}
}

// serveUDPConn runs one admitted peer's connection, from first if not
// nil, until it ends or parks; it ends one count of wg.
func (s *Server) serveUDPConn(c *conn, first *message) {
	defer s.wg.Done()
	defer s.lim.conns.Add(-1)
	if s.onConnDone != nil {
		defer s.onConnDone()
	}
	s.stats.connsActive.Add(1)
	c.readLoop(first)
	s.stats.connsActive.Add(-1)
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// closeTransports closes the UDP transports, ending ServeUDP.
func (s *Server) closeTransports() {
	s.mu.Lock()
	ts := make([]*udp.Transport, 0, len(s.transports))
	for t := range s.transports {
		ts = append(ts, t)
	}
	clear(s.transports)
	s.mu.Unlock()
	for _, t := range ts {
		_ = t.Close()
	}
}

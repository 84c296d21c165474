package upstream

import (
	"context"
	"errors"
	"net/netip"

	"github.com/rpcproxy/rpcproxy/rpcproxy/health"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// linkConn is what a link needs from its connection: a TCP packet.Conn as
// it is, a udp.Conn through udpLink.
type linkConn interface {
	packetWriter
	ReadPacket() (typ uint32, body []byte, err error)
	Buffered() bool
	Close() error
	CloseGraceful() error
}

var (
	_ linkConn = (*packet.Conn)(nil)
	_ linkConn = udpLink{}
)

// udpLink adapts a udp.Conn. A request written in a batch (an app
// reader's burst) waits for the batch's Flush, so the requests of a burst
// to one engine share datagrams (udp.Conn.TryWritePacketIn); a write is
// refused without waiting while the connection's queue holds a whole
// window (about 1 MB) of unacknowledged requests: the engine is not
// keeping up, and the request fails fast as on a full TCP connection.
type udpLink struct{ *udp.Conn }

// CloseGraceful closes at once: there is nothing of ours to flush.
func (u udpLink) CloseGraceful() error { return u.Close() }

// udpKey is the pool key of a UDP engine: the same address over TCP is
// another engine.
func udpKey(addr string) string { return "udp://" + addr }

// AcquireUDP is Acquire for an engine reached over VK's UDP transport
// (Options.UDPKey is required). All UDP engines share one Transport: one
// local socket, one udp.Conn per engine. There is no connect step, so a
// dead engine is not seen at dial time: its calls time out, the health
// tracker marks it down after ConsecutiveTimeouts, and probes (engine.pid)
// bring it back.
func (p *Pool) AcquireUDP(addr string, s health.Settings, g *health.Group) *Engine {
	return p.acquire(udpKey(addr), addr, true, s, g)
}

// dialUDP opens the engine's udp.Conn on the pool's Transport.
func (e *Engine) dialUDP(ctx context.Context) (*link, error) {
	ap, err := udp.ResolveAddr(ctx, e.addr)
	if err != nil {
		return nil, &EngineError{Addr: e.addr, Op: "dial", Err: err}
	}
	tr, err := e.pool.udpTransport(ap)
	if err != nil {
		return nil, &EngineError{Addr: e.addr, Op: "dial", Err: err}
	}
	uc, err := tr.Dial(ap)
	if err != nil {
		return nil, &EngineError{Addr: e.addr, Op: "dial", Err: err}
	}
	u := udpLink{uc}
	return &link{e: e, pc: u, w: u}, nil
}

// udpTransport returns Options.UDP, or the pool's own Transport, made on
// first use and bound to the local address that routes to ap (VK peers
// check that a datagram's source is the address in our PID, so the
// wildcard address will not do; every UDP engine must be reachable from
// that one address).
func (p *Pool) udpTransport(ap netip.AddrPort) (*udp.Transport, error) {
	if p.opts.UDP != nil {
		return p.opts.UDP, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ownUDP != nil {
		return p.ownUDP, nil
	}
	if p.ctx.Err() != nil {
		return nil, errors.New("pool closed")
	}
	if len(p.opts.UDPKey) == 0 {
		return nil, errors.New("no crypto key for UDP (Options.UDPKey)")
	}
	sock, err := udp.ListenFor(ap)
	if err != nil {
		return nil, err
	}
	tr, err := udp.New(sock, udp.Config{Keys: [][]byte{p.opts.UDPKey}, Logger: p.opts.Logger, AcceptBacklog: -1})
	if err != nil {
		_ = sock.Close()
		return nil, err
	}
	p.ownUDP = tr
	return tr, nil
}

// UDPStats returns the counters of the UDP transport that UDP engines
// share, and false when there is none (no engine has used UDP yet).
func (p *Pool) UDPStats() (udp.Stats, bool) {
	tr := p.opts.UDP
	if tr == nil {
		p.mu.Lock()
		tr = p.ownUDP
		p.mu.Unlock()
	}
	if tr == nil {
		return udp.Stats{}, false
	}
	return tr.Stats(), true
}

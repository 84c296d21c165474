package client

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// connectUDP resolves the address and dials it on the shared or the
// Client's own Transport. There is no handshake: the first request
// carries the connection (wire.md §5.4), so a dead peer shows as calls
// timing out, not as a failed dial.
func (s *slot) connectUDP(ctx context.Context) (*conn, error) {
	cl := s.cl
	ap, err := udp.ResolveAddr(ctx, cl.addr)
	if err != nil {
		return nil, fmt.Errorf("rpc/client: dial: %w", err)
	}
	tr, err := cl.udpTransport(ap)
	if err != nil {
		return nil, fmt.Errorf("rpc/client: dial: %w", err)
	}
	uc, err := tr.Dial(ap)
	if err != nil {
		return nil, fmt.Errorf("rpc/client: dial: %w", err)
	}
	return newUDPConn(s, uc), nil
}

// udpTransport returns Options.UDP, or the Client's own Transport, made on
// first use. Its socket is bound to the local address that routes to ap:
// VK peers check that a datagram's source matches the address in our
// PID, so the wildcard address will not do.
func (cl *Client) udpTransport(ap netip.AddrPort) (*udp.Transport, error) {
	if cl.opts.UDP != nil {
		return cl.opts.UDP, nil
	}
	cl.udpMu.Lock()
	defer cl.udpMu.Unlock()
	if cl.ownUDP != nil {
		return cl.ownUDP, nil
	}
	if cl.ctx.Err() != nil {
		return nil, ErrClosed
	}
	sock, err := udp.ListenFor(ap)
	if err != nil {
		return nil, err
	}
	tr, err := udp.New(sock, udp.Config{Keys: cl.opts.udpKeys(), Logger: cl.opts.Logger, AcceptBacklog: -1})
	if err != nil {
		_ = sock.Close()
		return nil, err
	}
	cl.ownUDP = tr
	return tr, nil
}

// closeUDP closes the Client's own Transport, once every goroutine using
// it has exited.
func (cl *Client) closeUDP() {
	cl.udpMu.Lock()
	tr := cl.ownUDP
	cl.ownUDP = nil
	cl.udpMu.Unlock()
	if tr != nil {
		_ = tr.Close()
	}
}

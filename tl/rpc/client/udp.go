package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// connectUDP resolves the address and dials it on the shared or the
// Client's own Transport. There is no handshake: the first request
// carries the connection (wire.md §5.4), so a dead peer shows as calls
// timing out, not as a failed dial.
func (s *slot) connectUDP(ctx context.Context) (*conn, error) {
	cl := s.cl
	ap, err := resolveUDP(ctx, cl.addr)
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

// resolveUDP turns host:port into an IPv4 address, looking the host up
// only when it is not a literal.
func resolveUDP(ctx context.Context, addr string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		if !ap.Addr().Unmap().Is4() {
			return ap, fmt.Errorf("%s: the UDP transport is IPv4 only", addr)
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		p, lerr := net.DefaultResolver.LookupPort(ctx, "udp", ps)
		if lerr != nil {
			return netip.AddrPort{}, lerr
		}
		port = uint64(p)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("%s has no IPv4 address", host)
	}
	return netip.AddrPortFrom(ips[0].Unmap(), uint16(port)), nil
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
	local, err := localIPFor(ap)
	if err != nil {
		return nil, err
	}
	sock, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0)))
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

// localIPFor is the source address the kernel picks for ap, found by
// connecting a UDP socket (which sends nothing).
func localIPFor(ap netip.AddrPort) (netip.Addr, error) {
	if ap.Addr().IsLoopback() {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	}
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	la, ok := c.LocalAddr().(*net.UDPAddr)
	if !ok {
		return netip.Addr{}, errors.New("no local address")
	}
	return la.AddrPort().Addr().Unmap(), nil
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

package udp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// ResolveAddr turns host:port into the IPv4 address a Transport dials: the
// transport is IPv4 only (VK's pids carry an IPv4 address). A literal is
// used as is; a name is looked up, and so is a named port.
func ResolveAddr(ctx context.Context, addr string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		if !ap.Addr().Unmap().Is4() {
			return ap, fmt.Errorf("%w: %s: the UDP transport is IPv4 only", ErrAddress, addr)
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
		return netip.AddrPort{}, fmt.Errorf("%w: %s has no IPv4 address", ErrAddress, host)
	}
	return netip.AddrPortFrom(ips[0].Unmap(), uint16(port)), nil
}

// ListenFor opens a socket, on an ephemeral port, for a Transport that
// dials peers like target: it is bound to the local address the kernel
// routes target from, because VK peers check that a datagram's source
// matches the address inside its sender pid, which a socket bound to
// 0.0.0.0 cannot promise.
func ListenFor(target netip.AddrPort) (*net.UDPConn, error) {
	local, err := localIPFor(target)
	if err != nil {
		return nil, err
	}
	return net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0)))
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
		return netip.Addr{}, errors.New("udp: no local address")
	}
	return la.AddrPort().Addr().Unmap(), nil
}

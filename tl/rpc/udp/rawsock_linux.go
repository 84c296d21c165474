//go:build linux

package udp

import (
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"
)

// rawSocket is an IPv4 *net.UDPConn whose datagrams are read and written
// with raw recvfrom(2) and sendto(2) calls, for the reason
// tl/rpc/packet gives for its sockets: the socket is non-blocking, so the
// runtime's syscall bookkeeping (entersyscall/exitsyscall, which may wake
// the sysmon thread after every idle spell) buys nothing and costs a
// context switch per datagram on a quiet core. RawConn still parks the
// goroutine in the poller until the socket is ready, and Close still
// unblocks it.
//
// A Transport reads from one goroutine (its reader) and writes under its
// mutex, so the read and the write state below each have one user at a
// time; the functions passed to RawConn are bound once, so nothing
// allocates.
type rawSocket struct {
	*net.UDPConn
	rc syscall.RawConn

	rbuf   []byte
	rsa    syscall.RawSockaddrInet4
	rsaLen uint32
	rn     int
	rerr   syscall.Errno
	rfrom  netip.AddrPort
	readF  func(fd uintptr) bool

	wbuf   []byte
	wsa    syscall.RawSockaddrInet4
	werr   syscall.Errno
	writeF func(fd uintptr) bool
}

// readBuffer reports the receive buffer (SO_RCVBUF) of sock, if it is a
// socket: the size it was given, which Linux stores doubled (for its
// bookkeeping) and caps at net.core.rmem_max.
func readBuffer(sock Socket) (int, bool) {
	sc, ok := sock.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var n int
	var serr error
	if err := rc.Control(func(fd uintptr) { n, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF) }); err != nil || serr != nil {
		return 0, false
	}
	return n / 2, true
}

// rawUDP returns sock with raw datagram calls when it is a *net.UDPConn
// bound to an IPv4 address (VK's transport is IPv4: the address is part
// of the PID), else sock itself.
func rawUDP(sock Socket) Socket {
	uc, ok := sock.(*net.UDPConn)
	if !ok {
		return sock
	}
	rc, err := uc.SyscallConn()
	if err != nil || !isV4Socket(rc) {
		return sock
	}
	s := &rawSocket{UDPConn: uc, rc: rc}
	s.readF, s.writeF = s.recvfrom, s.sendto
	return s
}

// isV4Socket reports whether the socket is AF_INET (a dual-stack AF_INET6
// socket takes IPv6 socket addresses, and keeps the ordinary calls).
func isV4Socket(rc syscall.RawConn) bool {
	v4 := false
	err := rc.Control(func(fd uintptr) {
		sa, err := syscall.Getsockname(int(fd))
		_, v4 = sa.(*syscall.SockaddrInet4)
		v4 = v4 && err == nil
	})
	return v4 && err == nil
}

func (s *rawSocket) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	if len(b) == 0 {
		return s.UDPConn.ReadFromUDPAddrPort(b)
	}
	s.rbuf, s.rn, s.rerr = b, 0, 0
	err := s.rc.Read(s.readF)
	s.rbuf = nil
	switch {
	case err != nil:
		return 0, netip.AddrPort{}, s.opError("read", err, nil)
	case s.rerr != 0:
		return 0, netip.AddrPort{}, s.opError("read", os.NewSyscallError("recvfrom", s.rerr), nil)
	}
	return s.rn, s.rfrom, nil
}

// recvfrom is one recvfrom(2) into rbuf; false: nothing to read yet.
func (s *rawSocket) recvfrom(fd uintptr) bool {
	n, e, ready := s.call(fd, syscall.SYS_RECVFROM)
	if ready && e == 0 {
		s.rn = int(n)
		p := (*[2]byte)(unsafe.Pointer(&s.rsa.Port))
		s.rfrom = netip.AddrPortFrom(netip.AddrFrom4(s.rsa.Addr), uint16(p[0])<<8|uint16(p[1]))
	}
	s.rerr = e
	return ready
}

func (s *rawSocket) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if !addr.Addr().Unmap().Is4() {
		return s.UDPConn.WriteToUDPAddrPort(b, addr) // it says why it cannot
	}
	s.wsa.Family = syscall.AF_INET
	p := (*[2]byte)(unsafe.Pointer(&s.wsa.Port))
	p[0], p[1] = byte(addr.Port()>>8), byte(addr.Port())
	s.wsa.Addr = addr.Addr().Unmap().As4()
	s.wbuf, s.werr = b, 0
	err := s.rc.Write(s.writeF)
	s.wbuf = nil
	switch {
	case err != nil:
		return 0, s.opError("write", err, net.UDPAddrFromAddrPort(addr))
	case s.werr != 0:
		return 0, s.opError("write", os.NewSyscallError("sendto", s.werr), net.UDPAddrFromAddrPort(addr))
	}
	return len(b), nil
}

// sendto is one sendto(2) of wbuf; false: the socket buffer is full.
func (s *rawSocket) sendto(fd uintptr) bool {
	_, e, ready := s.call(fd, syscall.SYS_SENDTO)
	s.werr = e
	return ready
}

// call is one raw recvfrom(2) into rbuf or sendto(2) of wbuf (trap), made
// again when a signal interrupted it; ready is false when the socket
// would block.
func (s *rawSocket) call(fd, trap uintptr) (n uintptr, e syscall.Errno, ready bool) {
	for {
		if trap == syscall.SYS_SENDTO {
			n, _, e = syscall.RawSyscall6(trap, fd, uintptr(unsafe.Pointer(unsafe.SliceData(s.wbuf))), uintptr(len(s.wbuf)),
				0, uintptr(unsafe.Pointer(&s.wsa)), syscall.SizeofSockaddrInet4)
		} else {
			s.rsaLen = syscall.SizeofSockaddrInet4
			n, _, e = syscall.RawSyscall6(trap, fd, uintptr(unsafe.Pointer(unsafe.SliceData(s.rbuf))), uintptr(len(s.rbuf)),
				0, uintptr(unsafe.Pointer(&s.rsa)), uintptr(unsafe.Pointer(&s.rsaLen)))
		}
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, 0, false
		}
		return n, e, true
	}
}

// opError words err as *net.UDPConn does ("read udp 127.0.0.1:5000: ..."),
// keeping RawConn's own errors (net.ErrClosed, deadlines) inside.
func (s *rawSocket) opError(op string, err error, addr net.Addr) error {
	if oe, ok := err.(*net.OpError); ok {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "udp", Source: s.LocalAddr(), Addr: addr, Err: err}
}

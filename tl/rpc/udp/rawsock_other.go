//go:build !linux

package udp

// rawUDP returns sock: raw datagram calls are Linux-only.
func rawUDP(sock Socket) Socket { return sock }

// readBuffer reports the socket's receive buffer size where it can be
// read; here it cannot.
func readBuffer(Socket) (int, bool) { return 0, false }

//go:build !linux

package udp

// rawUDP returns sock: raw datagram calls are Linux-only.
func rawUDP(sock Socket) Socket { return sock }

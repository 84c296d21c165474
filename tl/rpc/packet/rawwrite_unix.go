//go:build unix

package packet

import "syscall"

// rawWriteFD is one write(2) on a socket the runtime keeps non-blocking.
func rawWriteFD(fd uintptr, b []byte) (int, error) { return syscall.Write(int(fd), b) }

//go:build unix

package packet

import (
	"syscall"
	"unsafe"
)

// rawIO: reads and writes on a started connection's socket are raw system
// calls (see rawReadFD).
const rawIO = true

// rawIOMax bounds one raw read or write: a raw system call keeps its P
// (the runtime cannot hand it to another thread), so it must be short.
// Copying 64 KiB takes a few microseconds; a longer write or read is
// simply partial, and the callers loop.
const rawIOMax = 64 << 10

// rawWriteFD is one write(2) on a socket the runtime keeps non-blocking.
//
// It is syscall.RawSyscall, not syscall.Write: a non-blocking socket call
// never sleeps, so the runtime's syscall bookkeeping (entersyscall and
// exitsyscall, which release the P and may wake the sysmon thread) buys
// nothing here and costs a context switch whenever sysmon was asleep,
// which it is after every idle spell. On a core shared by the proxy and
// its engines that was one to two switches per request.
func rawWriteFD(fd uintptr, b []byte) (int, error) { return rawCall(syscall.SYS_WRITE, fd, b) }

// rawReadFD is one read(2) on a non-blocking socket, a raw system call for
// the reasons rawWriteFD gives. (0, nil) is end of stream.
func rawReadFD(fd uintptr, b []byte) (int, error) { return rawCall(syscall.SYS_READ, fd, b) }

// rawCall is read(2) or write(2) (trap) of at most rawIOMax bytes of b.
func rawCall(trap, fd uintptr, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	b = b[:min(len(b), rawIOMax)]
	n, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

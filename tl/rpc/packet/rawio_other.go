//go:build !unix

package packet

import "syscall"

// rawIO: off unix, reads go through net.Conn and writes to the flusher.
const rawIO = false

// rawWriteFD writes nothing off unix: every packet goes to the flusher.
func rawWriteFD(uintptr, []byte) (int, error) { return 0, syscall.EAGAIN }

// rawReadFD is never called off unix (rawIO is false).
func rawReadFD(uintptr, []byte) (int, error) { return 0, syscall.EAGAIN }

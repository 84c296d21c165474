package udp

import (
	"encoding/binary"
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// TL tags of the transport (wire.md §5).
const (
	tagUnencHeader        = 0x00a8e945
	tagResendRequest      = 0x643736d9
	tagObsoletePid        = 0x6f4ac134
	tagObsoleteHash       = 0x1adb0f4e
	tagObsoleteGeneration = 0xb340010b
	tagWait               = 0x6e321c96
)

// Unencrypted header flag bits.
const (
	uPid       = 1 << 0 // local_pid, remote_pid, generation
	uHash      = 1 << 2 // pid_hash
	uCrypto    = 1 << 3 // crypto_flags
	uSHA       = 1 << 4 // crypto_sha (True)
	uRandom    = 1 << 5 // crypto_random
	uEncrypted = 1 << 7 // encrypted_data (True)
	uOffsets   = 1 << 8 // support_msg_offsets (True)

	// mirrorMask are the unenc bits the encrypted header repeats, "from
	// C++ code"; VK's receiver refuses a mismatch.
	mirrorMask = 1<<7 - 1
)

// Encrypted header flag bits.
const (
	eTime          = 1 << 9
	eVersion       = 1 << 10
	eAckPrefix     = 1 << 13
	eAckRange      = 1 << 14
	eAckSet        = 1 << 15
	ePad1          = 1 << 18
	ePad2          = 1 << 19
	ePacketNum     = 1 << 20
	ePackets       = 1 << 21
	ePrevParts     = 1 << 22
	eNextParts     = 1 << 23
	ePrevLength    = 1 << 24
	eNextLength    = 1 << 25
	eSingle        = 1 << 26
	eMultiple      = 1 << 27
	ePad4          = 1 << 28
	ePad8          = 1 << 29
	ePacketOffset  = 1 << 30
	eWindowControl = 1 << 31
)

const (
	// transportVersion is what VK's Go code sends: version 2, minimum 2.
	transportVersion = 2 | 2<<16
	// unreliableNum is packet_num of a message that is never acked.
	unreliableNum = 0xFFFFFFFF
	// maxAckSet bounds packet_ack_set and resend ranges (VK's MaxAckSet).
	maxAckSet = 50
)

// unencHeader is netUdpPacket.unencHeader (boxed, plaintext).
type unencHeader struct {
	flags       uint32
	local       packet.PID
	remote      packet.PID
	gen         uint32
	hash        uint64
	cryptoFlags uint32
	random      [32]byte
}

// appendUnenc writes the boxed plaintext header.
func appendUnenc(b []byte, h *unencHeader) []byte {
	b = binary.LittleEndian.AppendUint32(b, tagUnencHeader)
	b = binary.LittleEndian.AppendUint32(b, h.flags)
	if h.flags&uPid != 0 {
		b = appendPID(b, h.local)
		b = appendPID(b, h.remote)
		b = binary.LittleEndian.AppendUint32(b, h.gen)
	}
	if h.flags&uHash != 0 {
		b = binary.LittleEndian.AppendUint64(b, h.hash)
	}
	if h.flags&uCrypto != 0 {
		b = binary.LittleEndian.AppendUint32(b, h.cryptoFlags)
	}
	if h.flags&uRandom != 0 {
		b = append(b, h.random[:]...)
	}
	return b
}

// parseUnenc reads the boxed plaintext header and returns the rest.
func parseUnenc(b []byte, h *unencHeader) ([]byte, error) {
	var ok bool
	var tag uint32
	if tag, b, ok = nat(b); !ok || tag != tagUnencHeader {
		return nil, fmt.Errorf("%w: unencHeader tag", ErrBadHeader)
	}
	if h.flags, b, ok = nat(b); !ok {
		return nil, fmt.Errorf("%w: unencHeader flags", ErrBadHeader)
	}
	if h.flags&uPid != 0 {
		if len(b) < 28 {
			return nil, fmt.Errorf("%w: unencHeader pids", ErrBadHeader)
		}
		h.local, h.remote, h.gen = readPID(b), readPID(b[12:]), binary.LittleEndian.Uint32(b[24:])
		b = b[28:]
	}
	if h.flags&uHash != 0 {
		if len(b) < 8 {
			return nil, fmt.Errorf("%w: unencHeader hash", ErrBadHeader)
		}
		h.hash, b = binary.LittleEndian.Uint64(b), b[8:]
	}
	if h.flags&uCrypto != 0 {
		if h.cryptoFlags, b, ok = nat(b); !ok {
			return nil, fmt.Errorf("%w: unencHeader crypto_flags", ErrBadHeader)
		}
	}
	if h.flags&uRandom != 0 {
		if len(b) < 32 {
			return nil, fmt.Errorf("%w: unencHeader crypto_random", ErrBadHeader)
		}
		copy(h.random[:], b)
		b = b[32:]
	}
	return b, nil
}

// repeatedLen is the size of the unenc fields repeated inside the
// ciphertext (after the padding), which bind the plaintext to the key.
func repeatedLen(flags uint32) int {
	n := 0
	if flags&uHash != 0 {
		n += 8
	}
	if flags&uPid != 0 {
		n += 28
	}
	if flags&uCrypto != 0 {
		n += 4
	}
	return n
}

// appendRepeated writes the repeated unenc fields in VK's order: hash,
// pids and generation, crypto_flags.
func appendRepeated(b []byte, h *unencHeader) []byte {
	if h.flags&uHash != 0 {
		b = binary.LittleEndian.AppendUint64(b, h.hash)
	}
	if h.flags&uPid != 0 {
		b = appendPID(b, h.local)
		b = appendPID(b, h.remote)
		b = binary.LittleEndian.AppendUint32(b, h.gen)
	}
	if h.flags&uCrypto != 0 {
		b = binary.LittleEndian.AppendUint32(b, h.cryptoFlags)
	}
	return b
}

// checkRepeated compares the repeated fields r (exactly repeatedLen long)
// with the plaintext header.
func checkRepeated(r []byte, h *unencHeader) bool {
	if h.flags&uHash != 0 {
		if binary.LittleEndian.Uint64(r) != h.hash {
			return false
		}
		r = r[8:]
	}
	if h.flags&uPid != 0 {
		if readPID(r) != h.local || readPID(r[12:]) != h.remote || binary.LittleEndian.Uint32(r[24:]) != h.gen {
			return false
		}
		r = r[28:]
	}
	if h.flags&uCrypto != 0 && binary.LittleEndian.Uint32(r) != h.cryptoFlags {
		return false
	}
	return true
}

// encHeader is netUdpPacket.encHeader (bare, inside the ciphertext).
// ackSet aliases storage owned by the parser's caller, so parsing does not
// allocate.
type encHeader struct {
	flags         uint32
	time          uint32
	version       uint32
	ackPrefix     uint32
	ackFrom       uint32
	ackTo         uint32
	ackSet        []uint32
	packetNum     uint32
	packetsFrom   uint32
	packetsCount  uint32
	prevParts     uint32
	nextParts     uint32
	prevLength    uint32
	nextLength    uint32
	packetOffset  int64
	windowControl uint32
}

// appendEnc writes the bare encrypted header in TL declaration order.
func appendEnc(b []byte, h *encHeader) []byte {
	f := h.flags
	b = binary.LittleEndian.AppendUint32(b, f)
	put := func(bit, v uint32) {
		if f&bit != 0 {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
	}
	put(eTime, h.time)
	put(eVersion, h.version)
	put(eAckPrefix, h.ackPrefix)
	put(eAckRange, h.ackFrom)
	put(eAckRange, h.ackTo)
	if f&eAckSet != 0 {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(h.ackSet)))
		for _, s := range h.ackSet {
			b = binary.LittleEndian.AppendUint32(b, s)
		}
	}
	put(ePacketNum, h.packetNum)
	put(ePackets, h.packetsFrom)
	put(ePackets, h.packetsCount)
	put(ePrevParts, h.prevParts)
	put(eNextParts, h.nextParts)
	put(ePrevLength, h.prevLength)
	put(eNextLength, h.nextLength)
	if f&ePacketOffset != 0 {
		b = binary.LittleEndian.AppendUint64(b, uint64(h.packetOffset))
	}
	put(eWindowControl, h.windowControl)
	return b
}

// parseEnc reads the bare encrypted header and returns the rest. ackSet is
// appended to h.ackSet[:0]; its length is bounded by the input.
func parseEnc(b []byte, h *encHeader) ([]byte, error) {
	var ok bool
	if h.flags, b, ok = nat(b); !ok {
		return nil, fmt.Errorf("%w: encHeader flags", ErrBadHeader)
	}
	f := h.flags
	get := func(bit uint32, v *uint32) {
		if !ok || f&bit == 0 {
			return
		}
		*v, b, ok = nat(b)
	}
	get(eTime, &h.time)
	get(eVersion, &h.version)
	get(eAckPrefix, &h.ackPrefix)
	get(eAckRange, &h.ackFrom)
	get(eAckRange, &h.ackTo)
	h.ackSet = h.ackSet[:0]
	if ok && f&eAckSet != 0 {
		var n uint32
		if n, b, ok = nat(b); ok {
			if uint64(n)*4 > uint64(len(b)) {
				ok = false
			} else {
				for range n {
					h.ackSet = append(h.ackSet, binary.LittleEndian.Uint32(b))
					b = b[4:]
				}
			}
		}
	}
	get(ePacketNum, &h.packetNum)
	get(ePackets, &h.packetsFrom)
	get(ePackets, &h.packetsCount)
	get(ePrevParts, &h.prevParts)
	get(eNextParts, &h.nextParts)
	get(ePrevLength, &h.prevLength)
	get(eNextLength, &h.nextLength)
	if ok && f&ePacketOffset != 0 {
		if len(b) < 8 {
			ok = false
		} else {
			h.packetOffset, b = int64(binary.LittleEndian.Uint64(b)), b[8:]
		}
	}
	get(eWindowControl, &h.windowControl)
	if !ok {
		return nil, fmt.Errorf("%w: encHeader truncated", ErrBadHeader)
	}
	return b, nil
}

// padLen is the number of zero bytes after the payload, from the flags.
func padLen(flags uint32) int {
	n := 0
	if flags&ePad1 != 0 {
		n++
	}
	if flags&ePad2 != 0 {
		n += 2
	}
	if flags&ePad4 != 0 {
		n += 4
	}
	if flags&ePad8 != 0 {
		n += 8
	}
	return n
}

// padFlags returns the padding bits and byte count that bring n to a
// multiple of 16 the way VK's serializeDatagram does: 1, 2, 4, 8 in turn.
func padFlags(n int) (flags uint32, pad int) {
	if n%2 != 0 {
		flags |= ePad1
		pad++
		n++
	}
	if n%4 != 0 {
		flags |= ePad2
		pad += 2
		n += 2
	}
	if n%8 != 0 {
		flags |= ePad4
		pad += 4
		n += 4
	}
	if n%16 != 0 {
		flags |= ePad8
		pad += 8
	}
	return flags, pad
}

func nat(b []byte) (uint32, []byte, bool) {
	if len(b) < 4 {
		return 0, b, false
	}
	return binary.LittleEndian.Uint32(b), b[4:], true
}

package packet

import (
	"encoding/binary"
	"fmt"
)

// Encryption schemas in the nonce.
const (
	schemaNone      = 0
	schemaAES       = 1
	schemaNoneOrAES = 2
)

const (
	nonceLen   = 28 // versions 0 and 1
	nonceLenV2 = 60 // plus the X25519 point
	hsLen      = 28
)

// nonceMsg is the body of the first packet in each direction.
type nonceMsg struct {
	KeyID   [4]byte
	Schema  uint8
	Version uint8
	Flags   uint16 // must be 0, ignored
	Time    uint32
	Nonce   [16]byte
	DHPoint [32]byte // only on the wire when Version >= 2
}

func (m *nonceMsg) appendTo(b []byte) []byte {
	b = append(b, m.KeyID[:]...)
	b = append(b, m.Schema, m.Version)
	b = binary.LittleEndian.AppendUint16(b, m.Flags)
	b = binary.LittleEndian.AppendUint32(b, m.Time)
	b = append(b, m.Nonce[:]...)
	if m.Version >= 2 {
		b = append(b, m.DHPoint[:]...)
	}
	return b
}

// parseNonce reads a nonce body. Trailing bytes are ignored: VK reserves
// them for future extensions, and both VK implementations skip them.
func parseNonce(b []byte) (m nonceMsg, err error) {
	if len(b) < nonceLen {
		return m, fmt.Errorf("%w: nonce body %d bytes, want %d", ErrHandshake, len(b), nonceLen)
	}
	copy(m.KeyID[:], b)
	m.Schema, m.Version = b[4], b[5]
	m.Flags = binary.LittleEndian.Uint16(b[6:])
	m.Time = binary.LittleEndian.Uint32(b[8:])
	copy(m.Nonce[:], b[12:28])
	if m.Version >= 2 {
		if len(b) < nonceLenV2 {
			return m, fmt.Errorf("%w: v%d nonce body %d bytes, want %d", ErrHandshake, m.Version, len(b), nonceLenV2)
		}
		copy(m.DHPoint[:], b[28:60])
	}
	return m, nil
}

// handshakeMsg is the body of the second packet in each direction.
type handshakeMsg struct {
	Flags  uint32
	Sender PID
	Peer   PID
}

func appendPID(b []byte, p PID) []byte {
	b = binary.LittleEndian.AppendUint32(b, p.IP)
	b = binary.LittleEndian.AppendUint32(b, p.PortPID)
	return binary.LittleEndian.AppendUint32(b, p.UTime)
}

func readPID(b []byte) PID {
	return PID{IP: binary.LittleEndian.Uint32(b), PortPID: binary.LittleEndian.Uint32(b[4:]), UTime: binary.LittleEndian.Uint32(b[8:])}
}

func (m *handshakeMsg) appendTo(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, m.Flags)
	b = appendPID(b, m.Sender)
	return appendPID(b, m.Peer)
}

// parseHandshake reads a handshake body; trailing bytes are ignored as
// VK's Go code does (C requires the exact size; we are the lenient side).
func parseHandshake(b []byte) (m handshakeMsg, err error) {
	if len(b) < hsLen {
		return m, fmt.Errorf("%w: handshake body %d bytes, want %d", ErrHandshake, len(b), hsLen)
	}
	m.Flags = binary.LittleEndian.Uint32(b)
	m.Sender = readPID(b[4:])
	m.Peer = readPID(b[16:])
	return m, nil
}

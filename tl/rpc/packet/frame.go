package packet

import (
	"encoding/binary"
	"hash/crc32"
)

// Packet types handled by this layer (wire.md §3, §4.1).
const (
	TypeNonce          uint32 = 0x7acb87aa
	TypeHandshake      uint32 = 0x7682eef5
	TypeHandshakeError uint32 = 0x6a27beda // sent by C peers on handshake failure; we only recognise it
	TypePing           uint32 = 0x5730a2df
	TypePong           uint32 = 0x8430eaa7
)

// Handshake flags (wire.md §3.4).
const (
	FlagCRC32C    uint32 = 0x00000800 // use CRC32C after the handshake
	FlagCancelReq uint32 = 0x00001000 // peer understands rpcCancelReq
	FlagP2PHijack uint32 = 0x40000000
)

const (
	// MaxPacketLen is the protocol's largest length field: the high byte
	// was once used for flags, so lengths stay below 16 MiB.
	MaxPacketLen = 16<<20 - 1
	// MaxBodyLen is the largest body WritePacket accepts.
	MaxBodyLen = MaxPacketLen - packetOverhead

	headerLen       = 12 // length, seq, type
	packetOverhead  = 16 // header + CRC
	pingLen         = packetOverhead + 8
	maxHandshakeLen = 1023 // nonce and handshake packets: bounds memory before the peer is authenticated
	padWord         = 4    // a length word of 4 is alignment padding
	maxPadWords     = 3    // 3 words align any 4-aligned stream to 16; a 4th is garbage
	aesBlock        = 16

	seqNonce     = ^uint32(1) // -2
	seqHandshake = ^uint32(0) // -1
)

// ieee and castagnoli return the stdlib's shared tables (MakeTable caches
// them), so no package state is needed.
func ieee() *crc32.Table       { return crc32.IEEETable }
func castagnoli() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

// appendFrame appends one packet: header, head, body, CRC over all of them
// and, if align4, the zero bytes that align it to 4 (encrypted streams).
// The CRC is computed over the copied bytes in one pass while they are hot.
func appendFrame(buf []byte, tab *crc32.Table, seq, typ uint32, head, body []byte, align4 bool) []byte {
	n := len(head) + len(body)
	length := uint32(n + packetOverhead)
	start := len(buf)
	buf = binary.LittleEndian.AppendUint32(buf, length)
	buf = binary.LittleEndian.AppendUint32(buf, seq)
	buf = binary.LittleEndian.AppendUint32(buf, typ)
	buf = append(buf, head...)
	buf = append(buf, body...)
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Update(0, tab, buf[start:]))
	if align4 {
		switch length & 3 {
		case 1:
			buf = append(buf, 0, 0, 0)
		case 2:
			buf = append(buf, 0, 0)
		case 3:
			buf = append(buf, 0)
		}
	}
	return buf
}

// padTo16 appends padding words so that len(buf) is a multiple of the AES
// block; buf must already be 4-aligned (encrypted frames are).
func padTo16(buf []byte) []byte {
	for len(buf)%aesBlock != 0 {
		buf = append(buf, padWord, 0, 0, 0)
	}
	return buf
}

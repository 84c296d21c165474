package udp

import (
	"crypto/cipher"
	"encoding/binary"
	"hash/crc32"
)

// minDatagram is the plaintext header with the fewest fields (hash mode),
// one AES block and the CRC.
const minDatagram = 8 + 8 + 4 + 32 + 16 + 4

// seal builds a datagram into dst[:0]: the plaintext header u, then the
// ciphertext of e || payload || padding || repeated u fields, then CRC32C.
// plain is scratch for the plaintext. It sets the mirror, version and
// padding bits of e. The returned slices reuse dst and plain.
func seal(dst, plain []byte, tab *crc32.Table, b cipher.Block, u *unencHeader, e *encHeader, payload func([]byte) []byte) (datagram, plainOut []byte) {
	e.flags |= u.flags & mirrorMask
	e.flags |= eVersion
	e.version = transportVersion
	plain = appendEnc(plain[:0], e)
	plain = payload(plain)
	padBits, pad := padFlags(len(plain) + repeatedLen(u.flags))
	e.flags |= padBits
	binary.LittleEndian.PutUint32(plain, e.flags)
	for range pad {
		plain = append(plain, 0)
	}
	plain = appendRepeated(plain, u)
	dst = appendUnenc(dst[:0], u)
	at := len(dst)
	dst = grow(dst, len(plain))
	igeEncrypt(b, &u.random, dst[at:], plain)
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst, tab))
	return dst, plain
}

// open decrypts the ciphertext ct into plain (scratch) with b, parses the
// encrypted header into e and checks the mirror bits, version, padding and
// repeated fields against u. It returns the payload (aliasing plain).
func open(plain []byte, b cipher.Block, u *unencHeader, e *encHeader, ct []byte) (payload, plainOut []byte, r DropReason, ok bool) {
	plain = grow(plain[:0], len(ct))
	igeDecrypt(b, &u.random, plain, ct)
	rest, err := parseEnc(plain, e)
	if err != nil {
		return nil, plain, DropEncHeader, false
	}
	if e.flags&mirrorMask != u.flags&mirrorMask {
		return nil, plain, DropMirror, false
	}
	hasData := e.flags&(ePacketNum|ePackets) != 0 && !(e.flags&ePacketNum != 0 && e.packetNum == unreliableNum)
	if e.flags&eVersion != 0 && hasData && e.version>>16 < 2 {
		return nil, plain, DropVersion, false
	}
	rl, pl := repeatedLen(u.flags), padLen(e.flags)
	if len(rest) < rl+pl {
		return nil, plain, DropPadding, false
	}
	if !checkRepeated(rest[len(rest)-rl:], u) {
		return nil, plain, DropRepeated, false
	}
	payload = rest[:len(rest)-rl-pl]
	for _, z := range rest[len(payload) : len(rest)-rl] {
		if z != 0 {
			return nil, plain, DropPadding, false
		}
	}
	return payload, plain, 0, true
}

// grow extends b by n bytes, reusing capacity.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, 2*(len(b)+n))
	copy(nb, b)
	return nb
}

package udp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/sha1"
	"encoding/binary"
	"hash/crc32"
	"hash/crc64"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// Crypto flag bits of the plaintext header (wire.md §5.2).
const (
	cryptoAES       = 1 << 0
	cryptoHandshake = 1 << 7
	keyIDShift      = 8
	keyIDMask       = 0xfff
)

// KeyID is the 12-bit UDP key id of key: its first four bytes read as a
// little-endian uint32, masked. Keys shorter than 4 bytes have id 0.
func KeyID(key []byte) uint32 {
	var b [4]byte
	copy(b[:], key)
	return binary.LittleEndian.Uint32(b[:]) & keyIDMask
}

// cryptoFlags is the crypto_flags value for a key id.
func cryptoFlags(keyID uint32) uint32 {
	return cryptoAES | cryptoHandshake | (keyID&keyIDMask)<<keyIDShift
}

// keyIDOf extracts the key id from crypto_flags.
func keyIDOf(flags uint32) uint32 { return flags >> keyIDShift & keyIDMask }

// appendPID writes the 12-byte TL serialisation of a PID.
func appendPID(b []byte, p packet.PID) []byte {
	b = binary.LittleEndian.AppendUint32(b, p.IP)
	b = binary.LittleEndian.AppendUint32(b, p.PortPID)
	return binary.LittleEndian.AppendUint32(b, p.UTime)
}

func readPID(b []byte) packet.PID {
	return packet.PID{
		IP:      binary.LittleEndian.Uint32(b),
		PortPID: binary.LittleEndian.Uint32(b[4:]),
		UTime:   binary.LittleEndian.Uint32(b[8:]),
	}
}

// deriveKey returns the 32-byte AES key a sender with pid local uses
// towards remote: md5(w[1:])[:12] || sha1(w) with w = local key remote gen.
// The receiver's read key is the same call with the pids swapped, which is
// why one function serves both directions.
func deriveKey(secret []byte, local, remote packet.PID, gen uint32) [32]byte {
	var buf [128]byte
	w := appendPID(buf[:0], local)
	w = append(w, secret...)
	w = appendPID(w, remote)
	w = binary.LittleEndian.AppendUint32(w, gen)
	var k [32]byte
	m := md5.Sum(w[1:])
	copy(k[:12], m[:12])
	s := sha1.Sum(w)
	copy(k[12:], s[:])
	return k
}

// DeriveKeys returns the read and write keys of VK's DeriveCryptoKeysUdp
// for the given pids and generation; exported for golden tests and tools.
func DeriveKeys(secret []byte, local, remote packet.PID, gen uint32) (read, write [32]byte) {
	return deriveKey(secret, remote, local, gen), deriveKey(secret, local, remote, gen)
}

// newBlock builds the AES-256 cipher for a derived key. aes.NewCipher only
// fails on a bad key length, which a [32]byte rules out.
func newBlock(k [32]byte) cipher.Block {
	b, err := aes.NewCipher(k[:])
	if err != nil {
		panic("udp: aes-256 with a 32-byte key: " + err.Error())
	}
	return b
}

// pidHash is VK's CalcHash: crc64/ECMA over the smaller 12-byte pid, the
// larger one, and the generation. It names a connection in hash mode, so
// both ends must compute the same value whatever their roles.
func pidHash(tab *crc64.Table, a, b packet.PID, gen uint32) uint64 {
	var buf [28]byte
	x := appendPID(buf[:0], a)
	y := appendPID(buf[12:12], b)
	if string(x) > string(y) {
		var t [12]byte
		copy(t[:], x)
		copy(buf[:12], y)
		copy(buf[12:24], t[:])
	}
	binary.LittleEndian.PutUint32(buf[24:], gen)
	return crc64.Checksum(buf[:], tab)
}

// igeEncrypt encrypts src (a multiple of 16 bytes) into dst in AES-IGE mode
// with iv = c0 (16 bytes) || p0 (16 bytes): c[i] = E(p[i]^c[i-1]) ^ p[i-1].
// dst and src must not overlap. Each block is worked on in place in dst,
// so nothing handed to the cipher interface lives on this stack (it would
// escape to the heap on every call).
func igeEncrypt(b cipher.Block, iv *[32]byte, dst, src []byte) {
	var cPrev, pPrev [16]byte
	copy(cPrev[:], iv[:16])
	copy(pPrev[:], iv[16:])
	for i := 0; i+16 <= len(src); i += 16 {
		p, d := src[i:i+16], dst[i:i+16]
		for j := range 16 {
			d[j] = p[j] ^ cPrev[j]
		}
		b.Encrypt(d, d)
		for j := range 16 {
			d[j] ^= pPrev[j]
		}
		copy(pPrev[:], p)
		copy(cPrev[:], d)
	}
}

// igeDecrypt inverts igeEncrypt: p[i] = D(c[i]^p[i-1]) ^ c[i-1].
func igeDecrypt(b cipher.Block, iv *[32]byte, dst, src []byte) {
	var cPrev, pPrev [16]byte
	copy(cPrev[:], iv[:16])
	copy(pPrev[:], iv[16:])
	for i := 0; i+16 <= len(src); i += 16 {
		c, d := src[i:i+16], dst[i:i+16]
		for j := range 16 {
			d[j] = c[j] ^ pPrev[j]
		}
		b.Decrypt(d, d)
		for j := range 16 {
			d[j] ^= cPrev[j]
		}
		copy(cPrev[:], c)
		copy(pPrev[:], d)
	}
}

// tables are the checksum tables, built once per Transport (no package state).
type tables struct {
	crc32c *crc32.Table
	crc64  *crc64.Table
}

func newTables() tables {
	return tables{crc32c: crc32.MakeTable(crc32.Castagnoli), crc64: crc64.MakeTable(crc64.ECMA)}
}

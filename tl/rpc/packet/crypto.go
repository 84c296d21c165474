package packet

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/sha1"
	"encoding/binary"
	"net"
)

// sessionKey is one direction's AES-256-CBC key and IV.
type sessionKey struct {
	Key [32]byte
	IV  [16]byte
}

// keyInput holds everything both directions' keys are derived from.
// For protocol version >= 1 the IPs and ports are zero and ServerIP carries
// the server's nonce time instead (wire.md §3.4).
type keyInput struct {
	Secret      []byte
	ClientNonce [16]byte
	ServerNonce [16]byte
	ClientTime  uint32
	ServerIP    uint32 // v0: server IPv4; v>=1: server time
	ClientIP    uint32
	ClientPort  uint16
	ServerPort  uint16
	DHSecret    []byte // v2 only
}

// appendKeyMessage builds M for one direction:
//
//	serverNonce(16) clientNonce(16) clientTime(4) serverIP(4) clientPort(2)
//	"CLIENT"|"SERVER" clientIP(4) serverPort(2) key(n) serverNonce(16)
//	clientNonce(16) [dhSecret(32)]
func (in *keyInput) appendKeyMessage(m []byte, clientToServer bool) []byte {
	m = append(m, in.ServerNonce[:]...)
	m = append(m, in.ClientNonce[:]...)
	m = binary.LittleEndian.AppendUint32(m, in.ClientTime)
	m = binary.LittleEndian.AppendUint32(m, in.ServerIP)
	m = binary.LittleEndian.AppendUint16(m, in.ClientPort)
	if clientToServer {
		m = append(m, "CLIENT"...)
	} else {
		m = append(m, "SERVER"...)
	}
	m = binary.LittleEndian.AppendUint32(m, in.ClientIP)
	m = binary.LittleEndian.AppendUint16(m, in.ServerPort)
	m = append(m, in.Secret...)
	m = append(m, in.ServerNonce[:]...)
	m = append(m, in.ClientNonce[:]...)
	m = append(m, in.DHSecret...)
	return m
}

// derive returns the key for one direction: key = md5(M[1:])[:12] ||
// sha1(M)[:20], IV = md5(M[2:]).
func (in *keyInput) derive(clientToServer bool) (k sessionKey) {
	m := in.appendKeyMessage(make([]byte, 0, 160+len(in.Secret)), clientToServer)
	h1 := md5.Sum(m[1:])
	h2 := sha1.Sum(m)
	copy(k.Key[:12], h1[:12])
	copy(k.Key[12:], h2[:])
	k.IV = md5.Sum(m[2:])
	return k
}

func (k *sessionKey) encrypter() (cipher.BlockMode, error) {
	b, err := aes.NewCipher(k.Key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewCBCEncrypter(b, k.IV[:]), nil
}

func (k *sessionKey) decrypter() (cipher.BlockMode, error) {
	b, err := aes.NewCipher(k.Key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewCBCDecrypter(b, k.IV[:]), nil
}

// ipPort extracts an IPv4 address (as a number) and a port; other address
// kinds give zeros, as in VK's code, which only matters for version 0.
func ipPort(a net.Addr) (uint32, uint16) {
	switch a := a.(type) {
	case *net.TCPAddr:
		if ip4 := a.IP.To4(); ip4 != nil {
			return binary.BigEndian.Uint32(ip4), uint16(a.Port)
		}
		return 0, uint16(a.Port)
	case *net.UDPAddr:
		if ip4 := a.IP.To4(); ip4 != nil {
			return binary.BigEndian.Uint32(ip4), uint16(a.Port)
		}
		return 0, uint16(a.Port)
	}
	return 0, 0
}

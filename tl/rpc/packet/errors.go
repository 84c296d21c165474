package packet

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps exactly one of
// the classes below (sometimes two, e.g. ErrHandshake and ErrBadCRC), so
// callers branch with errors.Is and log the full message for the detail.
var (
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("rpc/packet: connection closed")
	// ErrBadConfig reports an invalid Config; the message names the field.
	ErrBadConfig = errors.New("rpc/packet: bad config")
	// ErrTooLarge is returned by WritePacket for a body over the protocol
	// limit; the connection stays usable.
	ErrTooLarge = errors.New("rpc/packet: packet too large")

	// ErrTimeout means the peer sent nothing for two packet timeouts in a
	// row (the ping sent after the first one was not answered), or a
	// handshake step did not complete in time.
	ErrTimeout = errors.New("rpc/packet: timeout")
	// ErrStalled means a partial packet made no progress for a packet timeout.
	ErrStalled = errors.New("rpc/packet: partial packet stalled")

	// ErrBadLength: length outside [16, max], not a multiple of 4 in
	// protocol version 0, or a nonce/handshake over 1023 bytes.
	ErrBadLength = errors.New("rpc/packet: bad packet length")
	// ErrBadSeq: sequence number differs from the expected one.
	ErrBadSeq = errors.New("rpc/packet: bad sequence number")
	// ErrBadCRC: checksum mismatch (or a wrong key: the decrypted garbage
	// rarely has a valid CRC).
	ErrBadCRC = errors.New("rpc/packet: bad CRC")
	// ErrBadPadding: non-zero bytes in the 4-byte alignment after the CRC.
	ErrBadPadding = errors.New("rpc/packet: non-zero alignment padding")
	// ErrExcessivePadding: a 4th consecutive padding word (length == 4).
	ErrExcessivePadding = errors.New("rpc/packet: excessive padding")
	// ErrBadType: the nonce or handshake packet has another type.
	ErrBadType = errors.New("rpc/packet: unexpected packet type")
	// ErrPingPong: ping/pong with a length other than 24, a pong without a
	// ping in flight, or a pong for another id.
	ErrPingPong = errors.New("rpc/packet: ping/pong violation")

	// ErrHandshake wraps every failure of the nonce/handshake exchange.
	ErrHandshake = errors.New("rpc/packet: handshake failed")
	// ErrEncryptionRequired: one side requires AES, the other cannot do it.
	ErrEncryptionRequired = errors.New("rpc/packet: encryption required")
	// ErrUnknownKey: the client's KeyID matches no server key.
	ErrUnknownKey = errors.New("rpc/packet: unknown key id")
	// ErrTimeSkew: client and server clocks differ by more than 30 s.
	ErrTimeSkew = errors.New("rpc/packet: time skew too large")

	// ErrTextProtocol: a server socket received a memcached-style text
	// command or another printable line instead of a nonce. The concrete
	// error is a *TextProtocolError carrying the bytes seen.
	ErrTextProtocol = errors.New("rpc/packet: text protocol on an RPC socket")
)

// TextProtocolError is returned by ServerHandshake when the first bytes on
// the socket are text (memcached "stats\r\n", "version\r\n", an HTTP request
// line...). Head holds the bytes read so far, so a server can answer the
// command; the net.Conn is left open for that.
type TextProtocolError struct {
	Head []byte
}

func (e *TextProtocolError) Error() string {
	return fmt.Sprintf("rpc/packet: text protocol on an RPC socket: %q", e.Head)
}

// Is makes errors.Is(err, ErrTextProtocol) true.
func (e *TextProtocolError) Is(target error) bool { return target == ErrTextProtocol }

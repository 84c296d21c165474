package udp

import "errors"

// Sentinel errors. Errors returned by this package wrap one of them.
var (
	// ErrClosed: the Conn or Transport was closed locally.
	ErrClosed = errors.New("udp: closed")
	// ErrReset: the peer restarted (new pid), moved to a new generation,
	// reported our hash obsolete, or the connection regenerated after
	// silence. Messages in flight are lost; dial again.
	ErrReset = errors.New("udp: connection reset by peer state change")
	// ErrConfig: the Config is unusable (no keys, short key, duplicate key id).
	ErrConfig = errors.New("udp: bad config")
	// ErrAddress: an address that cannot be used (not IPv4, wildcard
	// local address for the active side, zero port).
	ErrAddress = errors.New("udp: bad address")
	// ErrTooMany: Dial would exceed Config.MaxConns.
	ErrTooMany = errors.New("udp: too many connections")
	// ErrTooLarge: a message larger than the window can carry.
	ErrTooLarge = errors.New("udp: message too large")
	// ErrIdle is not final: ReadPacket on an accepted connection returns
	// it once the connection has been quiet for Config.IdleAfter, so that
	// the reader may Park it. Reading on is fine.
	ErrIdle = errors.New("udp: connection idle")
	// ErrParked: the connection was parked; the peer's next datagram
	// brings it back as a new Conn from Accept.
	ErrParked = errors.New("udp: connection parked")

	// ErrBadHeader and the errors below classify dropped datagrams; they
	// are never returned to callers, only counted in Stats.
	ErrBadHeader = errors.New("udp: bad header")
)

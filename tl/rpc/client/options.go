package client

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// Defaults (wire.md §4.7, VK's Go client).
const (
	DefaultMinReconnectDelay = 200 * time.Millisecond
	DefaultMaxReconnectDelay = 60 * time.Second
	DefaultDialTimeout       = 10 * time.Second
	maxConns                 = 64
)

// Options configure a Client. The zero value is valid: one lazily dialed
// plain TCP connection, no default timeout, calls wait for a connection.
type Options struct {
	// Network for Dial; "" means "tcp". "udp" or "udp4" selects VK's UDP
	// transport (tl/rpc/udp, IPv4 only): always encrypted, so it needs
	// UDP or a key in Packet.Key (>= 32 bytes; Packet.Keys are accepted
	// too), and Conns must be 1 (UDP has one connection per address).
	Network string
	// Packet configures the transport (keys, encryption, protocol
	// version, packet timeout, logger of the packet layer). Over UDP only
	// Key and Keys are used.
	Packet packet.Config
	// UDP, if set with a UDP Network, is the Transport to dial on, so that
	// many Clients share one socket (the proxy: one for all engines); its
	// keys apply and the caller closes it after the Clients. At most one
	// Client per address may use a Transport, because the Transport keeps
	// one connection per address and a connection has one reader; a
	// Transport used only for Clients should refuse peers
	// (udp.Config.AcceptBacklog < 0), or Accept them elsewhere. nil
	// means the Client makes its own on first use, bound to port 0 of the
	// local address that routes to the target (127.0.0.1 for loopback),
	// and closes it in Close.
	UDP *udp.Transport
	// Dial opens the socket; nil means a net.Dialer. Tests and the proxy
	// inject their own (to redirect, count or fail dials). TCP only.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// DialTimeout bounds dial plus handshake; zero means 10 s.
	DialTimeout time.Duration
	// Conns is the number of connections to the address; calls are spread
	// round-robin over those that are up. Zero means 1; at most 64.
	Conns int
	// FailFast makes calls fail at once with ErrNoConnection while the
	// address is known to be down (its last dial failed) instead of
	// waiting for a connection within their deadline. The proxy sets it.
	FailFast bool
	// DefaultTimeout is the request timeout when neither the request's
	// custom_timeout_ms nor the deadline sets one; zero means none.
	DefaultTimeout time.Duration
	// TimeoutGrace is how much longer than a timeout it sends (an explicit
	// custom_timeout_ms, or DefaultTimeout) the Client waits before
	// failing the call with ErrTimeout, so that the peer's own timeout
	// answer, which arrives at the sent timeout and names what was slow
	// (a proxy's QUERY_TIMEOUT for an engine), reaches the caller first. A
	// silent peer still fails the call at the timeout plus the grace. The
	// caller's deadline (Do's context, Go's deadline) stays a hard bound:
	// it caps the grace, and a timeout it sets itself gets none, so Do
	// callers give the context the timeout plus the grace. Zero means
	// none: the local timer fires with the sent timeout, as in VK's client.
	TimeoutGrace time.Duration
	// MinReconnectDelay and MaxReconnectDelay bound the reconnect backoff:
	// 0 after a connection that was up, else Min doubling to Max, with
	// full jitter. Zero means 200 ms and 60 s.
	MinReconnectDelay time.Duration
	MaxReconnectDelay time.Duration
	// OnState, if set, is called on the connection's own goroutine when a
	// connection comes up (up=true, err=nil), is lost or fails to dial
	// (up=false, err a *ConnError). It must not block or call the Client.
	// nil means no reports.
	OnState func(addr string, up bool, err error)
	// Logger receives connection events, and the packet layer's too unless
	// Packet.Logger is set; nil discards them.
	Logger *slog.Logger
	// Now is the clock for turning deadlines into custom_timeout_ms; nil
	// means time.Now. Local timers always run on the real clock.
	Now func() time.Time
	// Jitter returns a uniform random duration in [0, d]; nil means
	// math/rand/v2. Tests make backoff deterministic with it.
	Jitter func(d time.Duration) time.Duration
}

func (o *Options) withDefaults() (Options, error) {
	s := *o
	if s.Network == "" {
		s.Network = "tcp"
	}
	if err := s.checkUDP(); err != nil {
		return s, err
	}
	if s.Dial == nil {
		var d net.Dialer
		s.Dial = d.DialContext
	}
	if s.DialTimeout <= 0 {
		s.DialTimeout = DefaultDialTimeout
	}
	switch {
	case s.Conns < 0 || s.Conns > maxConns:
		return s, fmt.Errorf("%w: Conns %d outside [0, %d]", ErrBadOptions, s.Conns, maxConns)
	case s.Conns == 0:
		s.Conns = 1
	}
	if s.DefaultTimeout < 0 {
		return s, fmt.Errorf("%w: DefaultTimeout %v is negative", ErrBadOptions, s.DefaultTimeout)
	}
	if s.TimeoutGrace < 0 {
		return s, fmt.Errorf("%w: TimeoutGrace %v is negative", ErrBadOptions, s.TimeoutGrace)
	}
	if s.MinReconnectDelay <= 0 {
		s.MinReconnectDelay = DefaultMinReconnectDelay
	}
	if s.MaxReconnectDelay <= 0 {
		s.MaxReconnectDelay = DefaultMaxReconnectDelay
	}
	if s.MaxReconnectDelay < s.MinReconnectDelay {
		return s, fmt.Errorf("%w: MaxReconnectDelay %v below MinReconnectDelay %v", ErrBadOptions, s.MaxReconnectDelay, s.MinReconnectDelay)
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Packet.Logger == nil {
		s.Packet.Logger = s.Logger // one logger for the client and its connections
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Jitter == nil {
		s.Jitter = func(d time.Duration) time.Duration {
			if d <= 0 {
				return 0
			}
			return time.Duration(rand.Int64N(int64(d) + 1))
		}
	}
	return s, nil
}

// backoff is the reconnect delay after fails consecutive failures
// (fails >= 1): full jitter over min(Max, Min * 2^(fails-1)).
func (o *Options) backoff(fails int) time.Duration {
	d := o.MinReconnectDelay
	for i := 1; i < fails && d < o.MaxReconnectDelay; i++ {
		d *= 2
	}
	d = min(d, o.MaxReconnectDelay)
	return o.Jitter(d)
}

// isUDP reports whether the Network selects the UDP transport.
func (o *Options) isUDP() bool { return o.Network == "udp" || o.Network == "udp4" }

// udpKeys are the keys of the Client's own UDP Transport, Packet.Key first
// (the one Dial uses).
func (o *Options) udpKeys() [][]byte {
	var keys [][]byte
	if o.Packet.Key != nil {
		keys = append(keys, o.Packet.Key)
	}
	return append(keys, o.Packet.Keys...)
}

// checkUDP validates the UDP-related fields.
func (o *Options) checkUDP() error {
	switch {
	case o.Network == "udp6":
		return fmt.Errorf("%w: Network %q: the UDP transport is IPv4 only (use udp or udp4)", ErrBadOptions, o.Network)
	case !o.isUDP():
		if o.UDP != nil {
			return fmt.Errorf("%w: UDP Transport given with Network %q (want udp or udp4)", ErrBadOptions, o.Network)
		}
		return nil
	case o.Conns > 1:
		return fmt.Errorf("%w: Conns %d over UDP: a Transport keeps one connection per address, want 0 or 1", ErrBadOptions, o.Conns)
	case o.UDP != nil:
		return nil
	}
	keys := o.udpKeys()
	if len(keys) == 0 {
		return fmt.Errorf("%w: Network %q needs Packet.Key (>= %d bytes) or a UDP Transport: UDP is always encrypted",
			ErrBadOptions, o.Network, packet.MinCryptoKeyLen)
	}
	for _, k := range keys {
		if len(k) < packet.MinCryptoKeyLen {
			return fmt.Errorf("%w: UDP key of %d bytes, need >= %d", ErrBadOptions, len(k), packet.MinCryptoKeyLen)
		}
	}
	return nil
}

package client

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
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
	// Network for Dial; "" means "tcp".
	Network string
	// Packet configures the transport (keys, encryption, protocol
	// version, packet timeout, logger of the packet layer).
	Packet packet.Config
	// Dial opens the socket; nil means a net.Dialer. Tests and the proxy
	// inject their own (to redirect, count or fail dials).
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

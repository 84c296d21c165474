package server

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// Defaults for the zero fields of Config.
const (
	DefaultMaxConns           = 65536
	DefaultMaxRequestBytes    = 256 << 20 // like VK's DefaultRequestMemoryLimit
	DefaultMaxInflightPerConn = 4096
	// requestOverhead is charged per request on top of its size, so that a
	// flood of tiny requests is bounded too (a Request, its pending-map
	// entry and the header scratch are a few hundred bytes).
	requestOverhead = 256
)

// Config configures a Server. Handler is required; every other zero field
// means its default.
type Config struct {
	// Packet configures the transport of every accepted connection: keys,
	// ForceEncryption, timeouts, MaxPacketLen, buffer sizes. Its Logger
	// and Now default to the fields below; LocalPID.UTime defaults to the
	// server start time, which engine.pid answers too.
	Packet packet.Config
	// Handler serves every request that is not a built-in one.
	Handler Handler
	// Logger receives connection-level events (rejected connections,
	// malformed envelopes, ignored messages); nil discards them.
	Logger *slog.Logger
	// Now is the clock for deadlines and engine.stat; nil means time.Now.
	Now func() time.Time

	// MaxConns caps connections, handshaking ones included. A connection
	// accepted beyond it is closed at once (and logged), so clients fail
	// fast and retry instead of hanging in the accept backlog.
	MaxConns int
	// MaxRequestBytes caps the bytes of requests in flight (read but not
	// yet answered) over the whole server, each charged its packet body
	// plus a small overhead. When exhausted, readers stop reading (TCP
	// back-pressure) until replies release bytes. A request larger than
	// the cap is charged the whole cap, so it waits for the server to
	// drain instead of being refused.
	MaxRequestBytes int64
	// Limits, when set, replaces MaxConns and MaxRequestBytes (which must
	// then be zero) with caps shared with other servers and changeable
	// while they run; its Budget is the Packet.Budget too. nil: the
	// server has its own, from MaxConns and MaxRequestBytes, and no
	// budget of held answer bytes.
	Limits *Limits
	// MaxResponseBytes caps one response body (header included); a larger
	// reply is answered with RESULT_TOO_LARGE (-3011) instead. Zero and
	// values above the protocol limit mean the protocol limit (16 MiB - 17).
	MaxResponseBytes int
	// MaxInflightPerConn caps unanswered requests per connection; at the
	// cap that connection's reader stops reading until a reply.
	MaxInflightPerConn int
	// DefaultTimeout is the deadline of requests without custom_timeout_ms;
	// zero means none. The server only reports deadlines (Request.Deadline);
	// handlers enforce them.
	DefaultTimeout time.Duration

	// Engine enables the built-in engine.* answers and the memcached-text
	// "stats"/"version" answers.
	Engine EngineConfig
}

// EngineConfig configures the built-in answers (wire.md §3.6, §4.8).
type EngineConfig struct {
	// Enabled makes the server answer engine.pid, engine.version and
	// engine.stat itself, before the Handler sees them, and answer the
	// memcached text commands "stats" and "version" on the RPC port.
	// Disabled, those functions reach the Handler and text first bytes
	// just close the connection.
	Enabled bool
	// Version is the engine.version and "version" answer.
	Version string
	// Stats adds engine-specific stats to engine.stat and "stats"; it may
	// overwrite server counters. nil adds nothing. Called on a reader
	// goroutine: keep it quick.
	Stats func(add func(key, value string))
}

// settings is a validated Config with defaults applied.
type settings struct {
	Config
	maxResponse int
	lim         *Limits
}

func (cfg *Config) settings(start time.Time) (settings, error) {
	s := settings{Config: *cfg}
	if s.Handler == nil {
		return s, fmt.Errorf("%w: Handler is nil", ErrBadConfig)
	}
	if err := s.Packet.Validate(true); err != nil {
		return s, fmt.Errorf("%w: Packet: %w", ErrBadConfig, err)
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Limits != nil {
		if s.MaxConns != 0 || s.MaxRequestBytes != 0 {
			return s, fmt.Errorf("%w: MaxConns and MaxRequestBytes must be zero when Limits is set", ErrBadConfig)
		}
		s.lim = s.Limits
	} else {
		lim, err := NewLimits(LimitValues{MaxConns: s.MaxConns, MaxRequestBytes: s.MaxRequestBytes})
		if err != nil {
			return s, err
		}
		s.lim = lim
	}
	if s.Packet.Budget == nil {
		s.Packet.Budget = s.lim.Budget()
	}
	switch {
	case s.MaxResponseBytes < 0:
		return s, fmt.Errorf("%w: MaxResponseBytes %d is negative", ErrBadConfig, s.MaxResponseBytes)
	case s.MaxResponseBytes == 0 || s.MaxResponseBytes > packet.MaxBodyLen:
		s.maxResponse = packet.MaxBodyLen
	case s.MaxResponseBytes < minResponse:
		return s, fmt.Errorf("%w: MaxResponseBytes %d below %d (a RESULT_TOO_LARGE error must fit)", ErrBadConfig, s.MaxResponseBytes, minResponse)
	default:
		s.maxResponse = s.MaxResponseBytes
	}
	switch {
	case s.MaxInflightPerConn < 0:
		return s, fmt.Errorf("%w: MaxInflightPerConn %d is negative", ErrBadConfig, s.MaxInflightPerConn)
	case s.MaxInflightPerConn == 0:
		s.MaxInflightPerConn = DefaultMaxInflightPerConn
	}
	if s.DefaultTimeout < 0 {
		return s, fmt.Errorf("%w: DefaultTimeout %v is negative", ErrBadConfig, s.DefaultTimeout)
	}
	if s.Packet.Logger == nil {
		s.Packet.Logger = s.Logger
	}
	if s.Packet.Now == nil {
		s.Packet.Now = s.Now
	}
	if s.Packet.WarnLimit == nil {
		// One line a second for failed app connections and handshakes.
		s.Packet.WarnLimit = &packet.LogLimit{Now: s.Now}
	}
	if s.Packet.LocalPID.UTime == 0 {
		s.Packet.LocalPID.UTime = uint32(start.Unix())
	}
	if s.Packet.PacketTimeout == 0 {
		s.Packet.PacketTimeout = packet.DefaultServerPacketTimeout
	}
	return s, nil
}

// minResponse fits a RESULT_TOO_LARGE answer: query_id, error tag, query_id,
// code and a short text.
const minResponse = 128

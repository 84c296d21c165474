package udp

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// Protocol constants (VK's Go transport; wire.md §5.5).
const (
	// MaxChunkSize is the payload budget of one datagram, counting four
	// bytes per chunk, so a lone chunk carries at most 996 bytes.
	MaxChunkSize = 1000
	// DefaultMaxWindow is the window in chunks, each direction.
	DefaultMaxWindow = 1000

	ackDelay = 30 * time.Millisecond
	// minResend is the least resend timeout: 45 ms, where VK's is 30 ms,
	// the same as its ack delay. A peer acks 30 ms after it receives
	// unless it sends first, so with a 30 ms timeout every message not
	// followed by one from the peer within 30 ms (an app's last answer
	// before a pause) was sent twice.
	minResend        = ackDelay * 3 / 2
	maxResend        = 60 * time.Second
	minResendRequest = 10 * time.Millisecond
	regenerateAfter  = 5 * time.Minute
	// minSilent is the least silence, with data unacked, after which an
	// accepted peer is taken for gone (Config.IdleAfter): a live peer
	// that is merely slow (VK's client acks 30ms after an answer) must
	// not be.
	minSilent      = 5 * time.Second
	minKeyLen      = 32
	recvBufferSize = 2048
)

// Timer is the part of *time.Timer the timer loop uses, so tests can drive
// time by hand.
type Timer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

// Config configures a Transport. Zero values get the defaults noted.
type Config struct {
	// Keys are the shared secrets (each >= 32 bytes, distinct 12-bit
	// KeyIDs). Required: UDP is always encrypted. Dial uses Keys[0].
	Keys [][]byte
	// ProcessID is the pid half of our PID (default 0).
	ProcessID uint16
	// UTime is the start time in our PID (default: Now().Unix()). A new
	// value tells peers we restarted.
	UTime uint32
	// Logger receives rare events (resets, refused peers). Default: discard.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NewTimer makes the single timer of the timer loop (default: a
	// *time.Timer).
	NewTimer func(d time.Duration) Timer
	// MaxWindow is the window in chunks, each direction (default 1000).
	MaxWindow int
	// MaxMessage bounds one message in bytes (default: what MaxWindow
	// chunks carry). Larger incoming messages are refused, larger
	// outgoing ones fail with ErrTooLarge.
	MaxMessage int
	// MaxConns bounds the connections a Transport keeps; new peers beyond
	// it are dropped (default 65536).
	MaxConns int
	// AcceptBacklog is the number of accepted Conns waiting for Accept;
	// further new peers are dropped until Accept catches up (default 128).
	// Negative: refuse incoming peers entirely (a pure client).
	AcceptBacklog int
	// IdleAfter is how long an accepted connection may hold nothing and
	// hear nothing before ReadPacket reports ErrIdle, offering it to be
	// parked (Conn.Park); and how long (at least 5s) one may go
	// unanswered while we resend to it before it resets, instead of VK's
	// five minutes. Zero: neither.
	IdleAfter time.Duration
	// MaxDormant bounds the records parked connections leave (about 100
	// bytes each; default 65536). Beyond it the record parked longest ago
	// is forgotten, and that peer's next datagram gets obsoleteHash.
	// Negative: Park always refuses.
	MaxDormant int
	// ReadBuffer is the receive buffer (SO_RCVBUF) New asks for the
	// socket, when it has SetReadBuffer (a *net.UDPConn). One Transport
	// is one socket for every peer, so the answers of many engines to a
	// burst arrive together; a full buffer drops datagrams, each then
	// waiting for a resend (45 ms at least). The kernel caps the size at
	// net.core.rmem_max, silently: New then logs a warning with the size
	// the socket got. Default 4 MiB; negative: the socket is left as it
	// is.
	ReadBuffer int
}

// defaultReadBuffer is Config.ReadBuffer's default.
const defaultReadBuffer = 4 << 20

type settings struct {
	keys       map[uint32][]byte
	dialKey    uint32
	utime      uint32
	processID  uint16
	log        *slog.Logger
	now        func() time.Time
	newTimer   func(time.Duration) Timer
	window     int
	maxMessage int
	maxConns   int
	backlog    int
	idleAfter  time.Duration
	maxDormant int
}

func (cfg *Config) settings() (*settings, error) {
	s := &settings{
		keys:       make(map[uint32][]byte, len(cfg.Keys)),
		processID:  cfg.ProcessID,
		log:        cfg.Logger,
		now:        cfg.Now,
		newTimer:   cfg.NewTimer,
		window:     cfg.MaxWindow,
		maxMessage: cfg.MaxMessage,
		maxConns:   cfg.MaxConns,
		backlog:    cfg.AcceptBacklog,
		idleAfter:  cfg.IdleAfter,
		maxDormant: cfg.MaxDormant,
	}
	if len(cfg.Keys) == 0 {
		return nil, fmt.Errorf("%w: no keys (UDP encryption is mandatory)", ErrConfig)
	}
	for i, k := range cfg.Keys {
		if len(k) < minKeyLen {
			return nil, fmt.Errorf("%w: Keys[%d] is %d bytes, need >= %d", ErrConfig, i, len(k), minKeyLen)
		}
		id := KeyID(k)
		if old, ok := s.keys[id]; ok && string(old) != string(k) {
			return nil, fmt.Errorf("%w: Keys[%d] has the key id %#x of another key", ErrConfig, i, id)
		}
		s.keys[id] = append([]byte(nil), k...)
		if i == 0 {
			s.dialKey = id
		}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newTimer == nil {
		s.newTimer = func(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }
	}
	if s.window <= 0 {
		s.window = DefaultMaxWindow
	}
	if s.window > 1<<20 {
		return nil, fmt.Errorf("%w: MaxWindow %d > %d", ErrConfig, s.window, 1<<20)
	}
	if s.maxMessage <= 0 {
		s.maxMessage = s.window * (MaxChunkSize - 4)
	}
	if s.maxMessage > s.window*(MaxChunkSize-4) {
		return nil, fmt.Errorf("%w: MaxMessage %d does not fit in %d chunks", ErrConfig, s.maxMessage, s.window)
	}
	if s.maxConns <= 0 {
		s.maxConns = 65536
	}
	if s.backlog == 0 {
		s.backlog = 128
	}
	if s.idleAfter < 0 {
		return nil, fmt.Errorf("%w: IdleAfter %v is negative", ErrConfig, s.idleAfter)
	}
	if s.maxDormant == 0 {
		s.maxDormant = 65536
	}
	s.utime = cfg.UTime
	if s.utime == 0 {
		s.utime = uint32(s.now().Unix())
	}
	return s, nil
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time   { return r.t.C }
func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }
func (r realTimer) Stop()                 { r.t.Stop() }

// localPID is our PID on a socket bound to ip:port.
func (s *settings) localPID(ip uint32, port uint16) packet.PID {
	return packet.NewPID(ip, port, s.processID, s.utime)
}

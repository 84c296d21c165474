package packet

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"
)

// Version is a transport protocol version as asked for in Config. The zero
// value asks for DefaultVersion, so that a zero Config behaves like VK's Go
// client; Version0, Version1 and Version2 ask for wire versions 0, 1 and 2.
type Version uint8

const (
	VersionDefault Version = iota // wire version 1, like VK's Go client
	Version0                      // lengths % 4 == 0; IPs and ports in the key derivation
	Version1                      // any length; server time in the key derivation
	Version2                      // as 1, plus an X25519 exchange
)

// Wire returns the version number sent in the nonce.
func (v Version) Wire() uint32 {
	if v == VersionDefault {
		return 1
	}
	return uint32(v) - 1
}

// Defaults (wire.md §3.5, VK's Go implementation).
const (
	DefaultClientPacketTimeout = 10 * time.Second
	DefaultServerPacketTimeout = 11 * time.Second // 10% over the client's, so a server never times out an idle-pinging client first
	DefaultWriteBufferLimit    = 1 << 20
	DefaultReadBufferSize      = 64 << 10
	MinCryptoKeyLen            = 32
	latestWireVersion          = 2
)

// Config configures one side of a connection. The zero value is a valid
// client or server config with no key (plain connections only).
type Config struct {
	// Key is the client's crypto key (>= 32 bytes, first 4 bytes, the
	// KeyID, not all zero). nil means no key. A server also accepts it.
	Key []byte
	// Keys are additional server keys, looked up by the KeyID the client
	// sends. Two different keys with the same KeyID are a config error.
	Keys [][]byte
	// ForceEncryption requires AES even between loopback peers.
	ForceEncryption bool
	// TrustedSubnets: groups of prefixes; peers whose addresses are both in
	// one group need no encryption (like loopback peers).
	TrustedSubnets [][]netip.Prefix
	// ProtocolVersion is what a client asks for. A server answers
	// min(client's, 2) and ignores this field.
	ProtocolVersion Version

	// PacketTimeout bounds each handshake step, the idle time before a
	// ping, and a partial packet's time without progress. Zero means 10 s
	// for clients and 11 s for servers.
	PacketTimeout time.Duration
	// MaxPacketLen caps the length of received packets (header and CRC
	// included). Zero means, and values above are clamped to, 16 MiB - 1.
	MaxPacketLen int
	// WriteBufferLimit: WritePacket blocks while this many bytes are
	// pending. Zero means 1 MiB.
	WriteBufferLimit int
	// Budget, shared by the connections of one server (or several),
	// counts the bytes they hold for peers that are not reading, and caps
	// them (see Budget); nil counts nothing.
	Budget *Budget
	// ReadBufferSize is the initial read buffer. Zero means 64 KiB.
	ReadBufferSize int

	// DisableCRC32C stops a client from asking for CRC32C (VK's Go client
	// always asks). HandshakeFlags are OR-ed into the client's flags.
	DisableCRC32C  bool
	HandshakeFlags uint32
	// LocalPID is sent as our SenderPID. Zero fields are filled in: IP from
	// the local address, port (servers only) from the local address,
	// process id from os.Getpid, UTime from UTime or Now.
	LocalPID PID
	// UTime, if set, supplies LocalPID.UTime per connection; C engines
	// want it unique per client connection (see UTimeSource).
	UTime func() uint32

	// Logger receives one record per failed handshake or closed
	// connection; nil discards them. Clean closes are debug records,
	// failures warnings.
	Logger *slog.Logger
	// WarnLimit, shared by the connections of one server or pool, caps
	// their warnings at one a second (see LogLimit); nil logs every one.
	WarnLimit *LogLimit
	// Now is the clock for wire timestamps (nonce time, skew check). nil
	// means time.Now. Deadlines use the real clock: net.Conn needs it.
	Now func() time.Time
	// Rand supplies nonces and X25519 scalars; nil means crypto/rand.
	Rand io.Reader
}

// settings is a validated Config with defaults applied.
type settings struct {
	Config
	keys    [][]byte // all server keys, Key included, validated
	timeout time.Duration
	maxLen  int
}

// Validate reports the first problem ClientHandshake (server false) or
// ServerHandshake (server true) would find in cfg, so a bad key or limit is
// refused once at startup rather than on every connection.
func (cfg *Config) Validate(server bool) error {
	_, err := cfg.settings(server)
	return err
}

func (cfg *Config) settings(server bool) (settings, error) {
	s := settings{Config: *cfg}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Rand == nil {
		s.Rand = rand.Reader
	}
	s.timeout = s.PacketTimeout
	switch {
	case s.timeout < 0:
		return s, fmt.Errorf("%w: PacketTimeout %v is negative", ErrBadConfig, s.timeout)
	case s.timeout == 0 && server:
		s.timeout = DefaultServerPacketTimeout
	case s.timeout == 0:
		s.timeout = DefaultClientPacketTimeout
	}
	s.maxLen = s.MaxPacketLen
	switch {
	case s.maxLen == 0 || s.maxLen > MaxPacketLen:
		s.maxLen = MaxPacketLen
	case s.maxLen < maxHandshakeLen:
		return s, fmt.Errorf("%w: MaxPacketLen %d below %d", ErrBadConfig, s.maxLen, maxHandshakeLen)
	}
	if s.WriteBufferLimit <= 0 {
		s.WriteBufferLimit = DefaultWriteBufferLimit
	}
	if s.ReadBufferSize <= 0 {
		s.ReadBufferSize = DefaultReadBufferSize
	}
	if s.ProtocolVersion > Version2 {
		return s, fmt.Errorf("%w: ProtocolVersion %d unknown", ErrBadConfig, s.ProtocolVersion)
	}
	all := s.Keys
	if s.Key != nil {
		all = append([][]byte{s.Key}, s.Keys...)
	}
	for i, k := range all {
		if err := checkKey(k); err != nil {
			return s, err
		}
		for _, prev := range s.keys {
			if keyID(prev) == keyID(k) && !bytes.Equal(prev, k) {
				return s, fmt.Errorf("%w: keys %d has the same KeyID %x as another key", ErrBadConfig, i, keyID(k))
			}
		}
		s.keys = append(s.keys, k)
	}
	return s, nil
}

func checkKey(k []byte) error {
	if len(k) < MinCryptoKeyLen {
		return fmt.Errorf("%w: crypto key is %d bytes, want at least %d", ErrBadConfig, len(k), MinCryptoKeyLen)
	}
	if keyID(k) == [4]byte{} {
		return fmt.Errorf("%w: crypto key starts with 4 zero bytes (its KeyID)", ErrBadConfig)
	}
	return nil
}

// keyID is the first 4 bytes of a key, zero-padded.
func keyID(k []byte) (id [4]byte) {
	copy(id[:], k)
	return id
}

// PID is VK's net.Pid: the identity of a process endpoint, sent in the
// handshake. PortPID holds the port in the low 16 bits and the process id in
// the high 16 bits.
type PID struct {
	IP      uint32 // IPv4 as a number: 127.0.0.1 is 0x7f000001
	PortPID uint32
	UTime   uint32 // process (or, for Go clients, connection) start time
}

// NewPID packs the port and process id halves.
func NewPID(ip uint32, port, pid uint16, utime uint32) PID {
	return PID{IP: ip, PortPID: uint32(pid)<<16 | uint32(port), UTime: utime}
}

// Port is the low half of PortPID.
func (p PID) Port() uint16 { return uint16(p.PortPID) }

// ProcessID is the high half of PortPID (truncated to 16 bits on the wire).
func (p PID) ProcessID() uint16 { return uint16(p.PortPID >> 16) }

func (p PID) String() string {
	return fmt.Sprintf("[%d.%d.%d.%d:%d:%d:%d]", byte(p.IP>>24), byte(p.IP>>16), byte(p.IP>>8), byte(p.IP),
		p.Port(), p.ProcessID(), p.UTime)
}

// UTimeSource hands out unique, realistic-looking start times, one per
// client connection: C engines identify clients by PID, so two connections
// from one process must differ. Use it as Config.UTime = src.Next.
type UTimeSource struct {
	next atomic.Uint32
}

// NewUTimeSource starts the sequence at start (normally the process start).
func NewUTimeSource(start time.Time) *UTimeSource {
	s := &UTimeSource{}
	s.next.Store(uint32(start.Unix()))
	return s
}

// Next returns a start time never returned before by this source.
func (s *UTimeSource) Next() uint32 { return s.next.Add(1) }

package configs

import (
	"log/slog"
	"math"
	"net/netip"
	"path/filepath"
	"strings"
	"time"
)

// Defaults and limits of the [proxy] table.
const (
	DefaultListen       = "127.0.0.1:9300"
	DefaultAdmin        = "127.0.0.1:9301"
	DefaultTimeout      = time.Second
	DefaultDrainTimeout = 10 * time.Second
	DefaultSlowRequest  = 100 * time.Millisecond
	// DefaultTimeoutMargin and MaxTimeoutMargin bound timeout_margin.
	DefaultTimeoutMargin = 10 * time.Millisecond
	MaxTimeoutMargin     = time.Second
	// DefaultUDPIdleAfter, MinUDPIdleAfter and MaxUDPIdleAfter bound
	// udp_idle_after.
	DefaultUDPIdleAfter = time.Minute
	MinUDPIdleAfter     = time.Second
	MaxUDPIdleAfter     = 24 * time.Hour

	DefaultMaxConnections = 10_000
	MaxMaxConnections     = 1_000_000

	DefaultMaxBytesInFlight = 256 << 20
	MinBytesInFlight        = 1 << 20
	MaxBytesInFlight        = 64 << 30

	// MaxPacketBody is the largest TL RPC packet body on TCP (a 16 MiB - 1
	// packet less its 16 bytes of header and CRC), so no request can exceed it.
	MaxPacketBody  = 16<<20 - 17
	MinRequestSize = 1 << 10
)

// parseProxy reads, defaults and validates the [proxy] table.
func parseProxy(t *table, baseDir string) Proxy {
	p := Proxy{
		Listen:           netip.MustParseAddrPort(DefaultListen),
		Admin:            netip.MustParseAddrPort(DefaultAdmin),
		Timeout:          DefaultTimeout,
		MaxConnections:   DefaultMaxConnections,
		MaxRequestBytes:  DefaultMaxBytesInFlight,
		MaxResponseBytes: DefaultMaxBytesInFlight,
		MaxRequestSize:   MaxPacketBody,
		LogLevel:         slog.LevelInfo,
		DrainTimeout:     DefaultDrainTimeout,
		SlowRequest:      DefaultSlowRequest,
		TimeoutMargin:    DefaultTimeoutMargin,
		UDPIdleAfter:     DefaultUDPIdleAfter,
	}
	listenOK, adminOK := true, true
	if s, ok := t.string("listen"); ok {
		p.Listen, listenOK = listenAddr(t, "listen", s)
	}
	if s, ok := t.string("admin"); ok {
		p.Admin, adminOK = listenAddr(t, "admin", s)
	}
	if listenOK && adminOK && listenOverlap(p.Listen, p.Admin) {
		t.ps.add(t.at("admin"), "%s: overlaps listen %s; the admin port must differ", p.Admin, p.Listen)
	}
	if d, ok := t.duration("timeout"); ok {
		p.Timeout = d
	}
	if n, ok := t.int("max_connections"); ok {
		if n < 1 || n > MaxMaxConnections {
			t.ps.add(t.at("max_connections"), "%d: want 1..%d", n, MaxMaxConnections)
		} else {
			p.MaxConnections = int(n)
		}
	}
	for _, f := range []struct {
		key string
		dst *int64
	}{{"max_request_bytes_in_flight", &p.MaxRequestBytes}, {"max_response_bytes_in_flight", &p.MaxResponseBytes}} {
		if n, ok := t.size(f.key); ok {
			if n < MinBytesInFlight || n > MaxBytesInFlight {
				t.ps.add(t.at(f.key), "%d: want %d..%d bytes (1MiB..64GiB)", n, MinBytesInFlight, int64(MaxBytesInFlight))
			} else {
				*f.dst = n
			}
		}
	}
	if n, ok := t.size("max_request_size"); ok {
		if n < MinRequestSize || n > MaxPacketBody {
			t.ps.add(t.at("max_request_size"), "%d: want %d..%d bytes (1KiB up to the TL packet limit)", n, MinRequestSize, MaxPacketBody)
		} else {
			p.MaxRequestSize = int(n)
		}
	}
	if int64(p.MaxRequestSize) > p.MaxRequestBytes {
		t.ps.add(t.at("max_request_size"), "%d: larger than max_request_bytes_in_flight %d, so a request of that size could never be read", p.MaxRequestSize, p.MaxRequestBytes)
	}
	if s, ok := t.string("log_level"); ok {
		var lvl slog.Level
		switch strings.ToLower(s) {
		case "debug":
			lvl = slog.LevelDebug
		case "info":
			lvl = slog.LevelInfo
		case "warn":
			lvl = slog.LevelWarn
		case "error":
			lvl = slog.LevelError
		default:
			t.ps.add(t.at("log_level"), "%q: want debug, info, warn or error", s)
		}
		p.LogLevel = lvl
	}
	if list, ok := t.strings("schemas"); ok {
		seen := map[string]int{}
		for i, s := range list {
			at := indexPath(t.at("schemas"), i)
			if strings.TrimSpace(s) == "" {
				t.ps.add(at, "empty path: want a TL schema file")
				continue
			}
			if !filepath.IsAbs(s) {
				s = filepath.Join(baseDir, s)
			}
			s = filepath.Clean(s)
			if j, dup := seen[s]; dup {
				t.ps.add(at, "%q: already listed as schemas[%d]", list[i], j)
				continue
			}
			seen[s] = i
			p.Schemas = append(p.Schemas, s)
		}
	}
	if s, ok := t.string("key_file"); ok {
		if strings.TrimSpace(s) == "" {
			t.ps.add(t.at("key_file"), "empty path: want the file holding the crypto key")
		} else {
			if !filepath.IsAbs(s) {
				s = filepath.Join(baseDir, s)
			}
			p.KeyFile = filepath.Clean(s)
		}
	}
	p.UDP = p.KeyFile != ""
	if b, ok := t.bool("udp"); ok {
		if b && p.KeyFile == "" {
			t.ps.add(t.at("udp"), "true: UDP is always encrypted; set key_file")
		}
		p.UDP = b && p.KeyFile != ""
	}
	if d, ok := offOrDuration(t, "udp_idle_after", MinUDPIdleAfter, MaxUDPIdleAfter, `a duration from "1s" to "24h" such as "1m", or "off"`); ok {
		p.UDPIdleAfter = d
	}
	if d, ok := offOrDuration(t, "slow_request", 1, math.MaxInt64, `a duration > 0 such as "100ms", or "off"`); ok {
		p.SlowRequest = d
	}
	if d, ok := offOrDuration(t, "timeout_margin", 0, MaxTimeoutMargin, `a duration from "0s" to "1s" such as "10ms", or "off"`); ok {
		p.TimeoutMargin = d
	}
	if b, ok := t.bool("pprof"); ok {
		p.Pprof = b
	}
	if st, ok := t.table("shutdown"); ok {
		if d, ok := st.duration("drain_timeout"); ok {
			p.DrainTimeout = d
		}
		st.unknownKeys()
	}
	t.unknownKeys()
	return p
}

// offOrDuration reads key of t when present: "off" is 0, otherwise a
// duration in lo..hi; anything else is reported with want.
func offOrDuration(t *table, key string, lo, hi time.Duration, want string) (time.Duration, bool) {
	v, ok := t.get(key)
	if !ok {
		return 0, false
	}
	s, _ := v.(string)
	if s == "off" {
		return 0, true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < lo || d > hi {
		t.ps.add(t.at(key), "%s: want %s", describe(v), want)
		return 0, false
	}
	return d, true
}

// listenAddr parses a listen address, reporting a bad one at t's key.
func listenAddr(t *table, key, s string) (netip.AddrPort, bool) {
	ap, err := parseListen(s)
	if err != nil {
		t.ps.add(t.at(key), "%q: %v", s, err)
		return netip.AddrPort{}, false
	}
	return ap, true
}

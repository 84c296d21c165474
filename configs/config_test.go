package configs

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/sharding"
)

func TestDefaults(t *testing.T) {
	cfg, err := Parse("min.toml", []byte(minimal), "/etc/rpcproxy")
	if err != nil {
		t.Fatal(err)
	}
	wantProxy := Proxy{
		Listen:           mustAddrPort(t, "127.0.0.1:9300"),
		Admin:            mustAddrPort(t, "127.0.0.1:9301"),
		Timeout:          time.Second,
		MaxConnections:   10000,
		MaxRequestBytes:  256 << 20,
		MaxResponseBytes: 256 << 20,
		MaxRequestSize:   16<<20 - 17,
		LogLevel:         slog.LevelInfo,
		DrainTimeout:     10 * time.Second,
		SlowRequest:      100 * time.Millisecond,
		TimeoutMargin:    10 * time.Millisecond,
		UDPIdleAfter:     time.Minute,
	}
	if !reflect.DeepEqual(cfg.Proxy, wantProxy) {
		t.Errorf("proxy defaults:\n got %+v\nwant %+v", cfg.Proxy, wantProxy)
	}
	wantCluster := Cluster{
		Name:      "a",
		Functions: []string{"a.*"},
		Sharding:  sharding.ModeKetama,
		Hash:      sharding.HashMD5,
		Balance:   sharding.LeastOutstanding,
		Timeout:   time.Second,
		Transport: "tcp",
		Health: Health{
			ConsecutiveTimeouts: 3,
			MaxInflight:         1000,
			ProbeInterval:       time.Second,
			ProbeMaxInterval:    30 * time.Second,
			ProbeJitter:         0.5,
			MaxDownShare:        0.5,
			Failover:            true,
			RetryBudget:         0.1,
		},
		Shards: []Shard{{Name: "127.0.0.1:7001", Weight: 1, Replicas: []Replica{{Addr: "127.0.0.1:7001", Weight: 1}}}},
	}
	if !reflect.DeepEqual(cfg.Clusters[0], wantCluster) {
		t.Errorf("cluster defaults:\n got %+v\nwant %+v", cfg.Clusters[0], wantCluster)
	}
}

func TestDemo(t *testing.T) {
	cfg, err := Load("demo.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Proxy.Listen.String(); got != "127.0.0.1:9300" {
		t.Errorf("listen = %s, want 127.0.0.1:9300", got)
	}
	mc, _ := filepath.Abs("../engines/memcache/memcache.tl")
	ev, _ := filepath.Abs("../engines/events/events.tl")
	if !reflect.DeepEqual(cfg.Proxy.Schemas, []string{mc, ev}) {
		t.Errorf("schemas = %q, want [%q %q] (relative to the config file)", cfg.Proxy.Schemas, mc, ev)
	}
	if c, ok := cfg.ClusterForFunction("events.search"); !ok || c.Name != "events" {
		t.Errorf("ClusterForFunction(events.search) = %v, %v; want cluster events", c, ok)
	} else if r, ok := c.Rule("events.search"); !ok || r.Merge != MergeSorted || r.SortField != "ts" {
		t.Errorf("events.search rule %+v, want a sorted merge by ts", r)
	}
	c, ok := cfg.ClusterForFunction("memcache.get")
	if !ok || c.Name != "memcache" {
		t.Fatalf("ClusterForFunction(memcache.get) = %v, %v; want cluster memcache", c, ok)
	}
	if c.Sharding != sharding.ModeKetama || c.Hash != sharding.HashMD5 {
		t.Errorf("placement = %s/%s, want ketama/md5", c.Sharding, c.Hash)
	}
	var names []string
	for _, s := range c.Shards {
		names = append(names, s.Name)
	}
	want := []string{"127.0.0.1:9311", "127.0.0.1:9312", "127.0.0.1:9313", "127.0.0.1:9314"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("shard names = %q, want %q", names, want)
	}
	if _, ok := cfg.ClusterForFunction("engine.pid"); ok {
		t.Errorf("engine.pid routed to a cluster; the demo routes only memcache.*")
	}
}

func TestProduction(t *testing.T) {
	cfg, err := Load("production.toml")
	if err != nil {
		t.Fatal(err)
	}
	photo, _ := cfg.Cluster("photo")
	users, _ := cfg.Cluster("users")
	sessions, _ := cfg.Cluster("sessions")
	if photo == nil || users == nil || sessions == nil {
		t.Fatalf("clusters photo, users, sessions not all found in %d clusters", len(cfg.Clusters))
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"photo shard 0 name (port 11211 dropped)", photo.Shards[0].Name, "10.0.1.1"},
		{"photo shard 0 weights", photo.Shards[0].Weights(), []int{1, 2}},
		{"photo shard 1", photo.Shards[1].Name + "/" + photo.Shards[1].Addrs()[1], "photo-b/10.0.1.4:11211"},
		{"photo shard 1 weight", photo.Shards[1].Weight, 2},
		{"photo timeout", photo.Timeout, 250 * time.Millisecond},
		{"photo slow latency", photo.Health.SlowLatency, 150 * time.Millisecond},
		{"photo rules", photo.Rules, []FunctionRule{
			{Name: "memcache.get", Key: "key", OnError: "fail", Retry: true},
			{Name: "memcache.set", Key: "key", OnError: "fail", RateLimit: 20000, Burst: 500},
			{Name: "memcache.getMulti", Key: "keys", Align: "positional", OnError: "partial", Missing: "memcache.not_found", Retry: true, Coalesce: true},
		}},
		{"users firstint takes no hash", users.Hash, sharding.KeyHash("")},
		{"users timeout falls back to proxy", users.Timeout, 500 * time.Millisecond},
		{"users failover", users.Health.Failover, false},
		{"users health defaults kept", users.Health.ConsecutiveTimeouts, 3},
		{"sessions load", sessions.Load, 1.25},
		{"sessions route", sessions.Name, mustCluster(t, cfg, "auth.checkToken")},
		{"proxy request size", cfg.Proxy.MaxRequestSize, 8 << 20},
		{"proxy response bytes", cfg.Proxy.MaxResponseBytes, int64(1 << 30)},
		{"drain timeout", cfg.Proxy.DrainTimeout, 15 * time.Second},
		{"slow request", cfg.Proxy.SlowRequest, 50 * time.Millisecond},
		{"pprof", cfg.Proxy.Pprof, true},
		{"photo shadow", *photo.Shadow, Shadow{Cluster: "photo-next", Share: 0.05, Functions: []string{"memcache.get", "memcache.set"}}},
		{"users has no shadow", users.Shadow == nil, true},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if r, ok := sessions.Rule("session.get"); !ok || r.Key != "session_id" {
		t.Errorf(`sessions.Rule("session.get") = %+v, %v`, r, ok)
	}
}

func mustCluster(t *testing.T, cfg *Config, fn string) string {
	t.Helper()
	c, ok := cfg.ClusterForFunction(fn)
	if !ok {
		t.Fatalf("no cluster for %s", fn)
	}
	return c.Name
}

func TestParseSize(t *testing.T) {
	cases := []struct {
		in          string
		want        int64
		expectedErr string
	}{
		{"512B", 512, ""},
		{"64KiB", 64 << 10, ""},
		{"16MiB", 16 << 20, ""},
		{"2GiB", 2 << 30, ""},
		{"16MB", 0, "want a byte count"},
		{"MiB", 0, "want a byte count"},
		{"-1KiB", 0, "want a byte count"},
		{"99999999999GiB", 0, "want a byte count"},
	}
	for _, tc := range cases {
		got, err := parseSize(tc.in)
		if tc.expectedErr != "" {
			if err == nil || !contains(err.Error(), tc.expectedErr) {
				t.Errorf("parseSize(%q) error = %v, want %q", tc.in, err, tc.expectedErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if err == nil || !contains(err.Error(), "configs: ") {
		t.Fatalf("Load of a missing file = %v, want a configs: error", err)
	}
}

// TestSHA256: a config records the SHA-256 of the text it was parsed
// from (golden: the digest of minimal, computed once outside Go), so
// the proxy can say which version of the file runs; one more byte of text
// is another digest.
func TestSHA256(t *testing.T) {
	cfg, err := Parse("min.toml", []byte(minimal), "/etc/rpcproxy")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%x", cfg.SHA256); got != minimalSHA256 {
		t.Errorf("SHA256 of minimal = %s, want %s", got, minimalSHA256)
	}
	other, err := Parse("min.toml", []byte(minimal+"\n"), "/etc/rpcproxy")
	if err != nil {
		t.Fatal(err)
	}
	if other.SHA256 == cfg.SHA256 {
		t.Error("a trailing newline left the SHA-256 unchanged")
	}
}

const minimalSHA256 = "d8a10d8da7620629cb26cd0eb903a64b9b8d2e95d79c1feace24dcabe142b788"

// TestProxyDurations: slow_request, timeout_margin and udp_idle_after
// take a duration in their range or "off" (0), and have their defaults;
// other values are refused with the range.
func TestProxyDurations(t *testing.T) {
	slow := func(p Proxy) time.Duration { return p.SlowRequest }
	margin := func(p Proxy) time.Duration { return p.TimeoutMargin }
	idle := func(p Proxy) time.Duration { return p.UDPIdleAfter }
	for _, c := range []struct {
		src   string
		field func(Proxy) time.Duration
		want  time.Duration
		err   string
	}{
		{src: `slow_request = "250ms"`, field: slow, want: 250 * time.Millisecond},
		{src: `slow_request = "off"`, field: slow, want: 0},
		{src: ``, field: margin, want: DefaultTimeoutMargin},
		{src: `timeout_margin = "3ms"`, field: margin, want: 3 * time.Millisecond},
		{src: `timeout_margin = "0s"`, field: margin, want: 0},
		{src: `timeout_margin = "off"`, field: margin, want: 0},
		{src: `timeout_margin = "1s"`, field: margin, want: time.Second},
		{src: ``, field: idle, want: DefaultUDPIdleAfter},
		{src: `udp_idle_after = "30s"`, field: idle, want: 30 * time.Second},
		{src: `udp_idle_after = "off"`, field: idle, want: 0},
		{src: `udp_idle_after = "24h"`, field: idle, want: 24 * time.Hour},
		{src: `udp_idle_after = "500ms"`, err: `proxy.udp_idle_after: "500ms": want a duration from "1s" to "24h" such as "1m", or "off"`},
		{src: `udp_idle_after = "25h"`, err: `proxy.udp_idle_after: "25h": want a duration`},
		{src: `udp_idle_after = 60`, err: `proxy.udp_idle_after: integer 60: want a duration`},
	} {
		cfg, err := Parse("d.toml", []byte("[proxy]\n"+c.src+"\n"+minimal), "/etc/rpcproxy")
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.src, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		if got := c.field(cfg.Proxy); got != c.want {
			t.Errorf("%q: got %v, want %v", c.src, got, c.want)
		}
	}
}

package configs

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamples loads every example config beside the package, so a new
// example is covered as soon as it is added and none can rot.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d example configs, want at least demo.toml and production.toml", len(files))
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			cfg, err := Load(f)
			if err != nil {
				t.Fatalf("Load(%s):\n%v", f, err)
			}
			if len(cfg.Clusters) == 0 {
				t.Fatalf("Load(%s): no clusters", f)
			}
			for _, c := range cfg.Clusters {
				if len(c.Shards) == 0 || c.Timeout <= 0 || c.Sharding == "" || c.Balance == "" {
					t.Errorf("cluster %q not fully defaulted: %+v", c.Name, c)
				}
			}
		})
	}
}

func mustAddrPort(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

package configs

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// TestReadmeConfig parses every TOML block of the README, which shows a
// config to newcomers and must stay one the proxy accepts.
func TestReadmeConfig(t *testing.T) {
	text, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllSubmatch(text, -1)
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```toml block")
	}
	for i, b := range blocks {
		if _, err := Parse(fmt.Sprintf("README.md toml block %d", i+1), b[1], "."); err != nil {
			t.Errorf("%v\n%s", err, b[1])
		}
	}
}

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

// TestProductionHasEveryKey keeps production.toml the complete reference:
// every key the decoder asks for in a table must appear in some table of
// that kind (cluster[0].health and cluster[1].health are one kind).
func TestProductionHasEveryKey(t *testing.T) {
	data, err := os.ReadFile("production.toml")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		t.Fatal(err)
	}
	ps := &problems{}
	decode(newTable("", raw, ps), ".")
	if len(ps.list) > 0 {
		t.Fatalf("production.toml has problems: %+v", ps.list)
	}
	known := map[string]map[string]bool{}
	present := map[string]map[string]bool{}
	index := regexp.MustCompile(`\[\d+\]`)
	for _, tb := range ps.tables {
		kind := index.ReplaceAllString(tb.path, "[]")
		if known[kind] == nil {
			known[kind], present[kind] = map[string]bool{}, map[string]bool{}
		}
		for _, k := range tb.known {
			known[kind][k] = true
		}
		for k := range tb.m {
			present[kind][k] = true
		}
	}
	for _, kind := range []string{"", "proxy", "proxy.shutdown", "cluster[]", "cluster[].health", "cluster[].shards[]", "cluster[].shards[].replicas[]", "cluster[].function[]"} {
		if known[kind] == nil {
			t.Errorf("production.toml has no table of kind %q", kind)
		}
	}
	for kind, keys := range known {
		for k := range keys {
			if !present[kind][k] {
				t.Errorf("production.toml does not show key %q of table %q", k, kind)
			}
		}
	}
}

// FuzzParse feeds arbitrary text to Parse: it must not panic, and every
// problem must name the file and a line inside it.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("*.toml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(minimal + "\n[[cluster.function]]\nname = 'a.x'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("fuzz.toml", data, "/base")
		var cerr *Error
		if err == nil || !errors.As(err, &cerr) {
			return
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, p := range cerr.Problems {
			if p.File != "fuzz.toml" || p.Line < 0 || p.Line > lines || p.Msg == "" {
				t.Fatalf("bad problem %+v for input with %d lines", p, lines)
			}
		}
	})
}

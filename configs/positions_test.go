package configs

import (
	"testing"

	"github.com/BurntSushi/toml"
)

func TestLocate(t *testing.T) {
	src := `# [cluster] in a comment is not a header
title = """
[[cluster]]
name = "not a key"
"""
lit = '''
x = [1, 2]'''
"quoted.key" = 1
a.b.c = 2

[[cluster]]   # first
name = "a"
shards = [
  { replicas = ["h:1", # a comment with ] and }
                "h:2"] },
  {
    name = "s1", replicas = ['h:3'] },
]

[cluster.health]
failover = true

[[cluster.function]]
name = "x"

[[cluster]]
name = "b"
[[cluster.function]]
name = "y"
[[cluster.function]]
'key "q"' = "z"
nested = [[1, 2], [3,
  4]]
date = 1979-05-27 07:32:00Z
[cluster.health]
failover = false
`
	var raw map[string]any
	if _, err := toml.Decode(src, &raw); err != nil {
		t.Fatalf("test source is not valid TOML: %v", err)
	}
	lines := locate(src)
	cases := []struct {
		path string
		line int
	}{
		{"title", 2},
		{"lit", 6},
		{`"quoted.key"`, 8},
		{"a", 9},
		{"a.b.c", 9},
		{"cluster[0]", 11},
		{"cluster[0].name", 12},
		{"cluster[0].shards", 13},
		{"cluster[0].shards[0]", 14},
		{"cluster[0].shards[0].replicas[0]", 14},
		{"cluster[0].shards[0].replicas[1]", 15},
		{"cluster[0].shards[1]", 16},
		{"cluster[0].shards[1].name", 17},
		{"cluster[0].shards[1].replicas[0]", 17},
		{"cluster[0].health", 20},
		{"cluster[0].health.failover", 21},
		{"cluster[0].function[0]", 23},
		{"cluster[0].function[0].name", 24},
		{"cluster[1]", 26},
		{"cluster[1].name", 27},
		{"cluster[1].function[0].name", 29},
		{"cluster[1].function[1]", 30},
		{`cluster[1].function[1]."key \"q\""`, 31},
		{"cluster[1].function[1].nested[1][1]", 33},
		{"cluster[1].function[1].date", 34},
		{"cluster[1].health.failover", 36},
	}
	for _, tc := range cases {
		if got := lines[tc.path]; got != tc.line {
			t.Errorf("line of %s = %d, want %d", tc.path, got, tc.line)
		}
	}
	if _, ok := lines["cluster[2]"]; ok {
		t.Errorf("the [[cluster]] inside a multi-line string was counted as a table")
	}
	if _, ok := lines["x"]; ok {
		t.Errorf("the key inside a literal string was counted as a key")
	}
}

func TestLineOfFallsBackToAncestor(t *testing.T) {
	kl := keyLines{"cluster[1]": 10, "cluster[1].shards": 12}
	cases := []struct {
		path string
		want int
	}{
		{"cluster[1].shards[3].replicas", 12},
		{"cluster[1].name", 10},
		{"cluster[2].name", 0},
		{`cluster[1]."a.b[0]".c`, 10},
	}
	for _, tc := range cases {
		if got := kl.lineOf(tc.path); got != tc.want {
			t.Errorf("lineOf(%s) = %d, want %d", tc.path, got, tc.want)
		}
	}
}

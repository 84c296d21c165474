package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const corpusDir = "../../../shared/tl"

// TestTagsMatchesExpectedTSV runs "tlc tags" over the four shared files and
// compares with expected-tags.tsv minus its tg_computed column.
func TestTagsMatchesExpectedTSV(t *testing.T) {
	tsv, err := os.ReadFile(filepath.Join(corpusDir, "expected-tags.tsv"))
	if err != nil {
		t.Fatalf("shared corpus missing: %v", err)
	}
	var want strings.Builder
	lines := strings.Split(strings.TrimRight(string(tsv), "\n"), "\n")
	for _, line := range lines[1:] {
		c := strings.Split(line, "\t")
		if len(c) != 7 {
			t.Fatalf("bad TSV line %q", line)
		}
		want.WriteString(strings.Join([]string{c[0], c[1], c[2], c[3], c[4], c[6]}, "\t") + "\n")
	}
	args := []string{"tags"}
	for _, n := range []string{"common.tl", "rpc.tl", "engine.tl", "telegram_api.tl"} {
		args = append(args, filepath.Join(corpusDir, n))
	}
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
	got := strings.Split(stdout.String(), "\n")
	exp := strings.Split(want.String(), "\n")
	if len(got) != len(exp) {
		t.Errorf("%d lines, want %d", len(got), len(exp))
	}
	for i := 0; i < len(got) && i < len(exp); i++ {
		if got[i] != exp[i] {
			t.Fatalf("line %d:\n got %q\nwant %q", i+1, got[i], exp[i])
		}
	}
}

func TestRunUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tl")
	if err := os.WriteFile(bad, []byte("x a:int\n= ;"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.tl")
	if err := os.WriteFile(good, []byte("true = True;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderr   string
		noStdout bool
	}{
		{name: "no args", args: nil, code: 2, stderr: "usage: tlc <command>", noStdout: true},
		{name: "top help", args: []string{"-h"}, code: 0, stdout: "tlc tags ../shared/tl/engine.tl"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`, noStdout: true},
		{name: "tags help", args: []string{"tags", "-h"}, code: 0, stderr: "usage: tlc tags [flags] FILE...", noStdout: true},
		{name: "tags no files", args: []string{"tags"}, code: 2, stderr: "no files", noStdout: true},
		{name: "tags bad dialect", args: []string{"tags", "-dialect", "x", good}, code: 2, stderr: "unknown dialect"},
		{name: "tags missing file", args: []string{"tags", filepath.Join(dir, "none.tl")}, code: 1, stderr: "none.tl"},
		{name: "tags parse error has position", args: []string{"tags", bad}, code: 1, stderr: "bad.tl:2:3: expected type"},
		{name: "tags good", args: []string{"tags", "-header", good}, code: 0, stdout: "good.tl\tconstructor\ttrue\t-\t3fedd339\ttrue = True\n"},
		{name: "tags strict vk rejects short tag", args: []string{"tags", "-dialect", "vk", writeFile(t, dir, "short.tl", "x#1 = X;")}, code: 1, stderr: "short.tl:1:2: explicit tag #1 must have exactly 8 hex digits"},
		{name: "tags auto accepts short tag", args: []string{"tags", writeFile(t, dir, "short2.tl", "x#1 = X;")}, code: 0, stdout: "short2.tl\tconstructor\tx\t00000001\t"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tc.stdout)
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.stderr)
			}
			if tc.noStdout && stdout.Len() != 0 {
				t.Errorf("unexpected stdout %q", stdout.String())
			}
		})
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

package schema

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusDir is where the shared TL corpus lives relative to this package:
// the repository always has ../shared beside it.
const corpusDir = "../../../shared/tl"

var corpusFiles = []string{"common.tl", "rpc.tl", "engine.tl", "telegram_api.tl"}

type tagRow struct {
	file, kind, name, explicit, vk, tg, canonical string
}

func readTSV(t testing.TB) []tagRow {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, "expected-tags.tsv"))
	if err != nil {
		t.Fatalf("shared corpus missing: %v", err)
	}
	defer f.Close()
	var rows []tagRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 7 {
			t.Fatalf("bad TSV line %q", sc.Text())
		}
		rows = append(rows, tagRow{c[0], c[1], c[2], c[3], c[4], c[5], c[6]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func parseCorpus(t testing.TB, name string) *File {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(corpusDir, name))
	if err != nil {
		t.Fatalf("shared corpus missing: %v", err)
	}
	f, err := ParseAuto(name, src)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return f
}

func TestExpectedTags(t *testing.T) {
	rows := readTSV(t)
	if len(rows) != 2646 {
		t.Fatalf("TSV has %d rows, want 2646", len(rows))
	}
	byFile := map[string][]tagRow{}
	for _, r := range rows {
		byFile[r.file] = append(byFile[r.file], r)
	}
	checked := 0
	for _, name := range corpusFiles {
		t.Run(name, func(t *testing.T) {
			f := parseCorpus(t, name)
			want := byFile[name]
			if len(f.Decls) != len(want) {
				t.Fatalf("%d declarations, want %d", len(f.Decls), len(want))
			}
			for i, d := range f.Decls {
				w := want[i]
				kind := "constructor"
				if d.Function {
					kind = "function"
				}
				explicit := "-"
				if d.HasTag {
					explicit = fmt.Sprintf("%08x", d.Tag)
				}
				got := tagRow{name, kind, d.Name, explicit,
					fmt.Sprintf("%08x", d.ComputedTag(RuleVK)),
					fmt.Sprintf("%08x", d.ComputedTag(RuleTelegram)),
					d.Canonical(RuleVK)}
				if got != w {
					t.Errorf("row %d:\n got %q\nwant %q", i, got, w)
				}
				checked++
			}
		})
	}
	if checked != len(rows) {
		t.Errorf("checked %d rows, want %d", checked, len(rows))
	}
}

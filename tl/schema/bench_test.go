package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withoutTdlibPrefixes drops tdlib's local invokeWith*Prefix functions,
// which reuse the tags of the real invokeWith* wrappers.
func withoutTdlibPrefixes(f *File) *File {
	out := *f
	out.Decls = nil
	for _, d := range f.Decls {
		if !strings.HasSuffix(d.Name, "Prefix") {
			out.Decls = append(out.Decls, d)
		}
	}
	return &out
}

func TestTelegramResolvesWithoutTdlibPrefixes(t *testing.T) {
	f := withoutTdlibPrefixes(parseCorpus(t, "telegram_api.tl"))
	if len(f.Decls) != 2464 {
		t.Fatalf("%d decls after filtering, want 2464", len(f.Decls))
	}
	s, err := Resolve(f)
	if err != nil {
		t.Fatal(err)
	}
	checkSchemaInvariants(t, s)
	c := s.Function("invokeWithLayer")
	if c == nil || c.Tag != 0xda9b0d0d || c.Canonical != "invokeWithLayer X:Type layer:int query:!X = X" {
		t.Errorf("invokeWithLayer %+v", c)
	}
	if s.Type("Bytes").Prim != PrimBytes || s.Type("Int256").Prim != PrimInt256 {
		t.Errorf("telegram primitives not recognised")
	}
}

func BenchmarkParseTelegram(b *testing.B) {
	src, err := os.ReadFile(filepath.Join(corpusDir, "telegram_api.tl"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDialect("telegram_api.tl", src, Telegram); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResolveTelegram(b *testing.B) {
	src, err := os.ReadFile(filepath.Join(corpusDir, "telegram_api.tl"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := ParseDialect("telegram_api.tl", src, Telegram)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Resolve(withoutTdlibPrefixes(f)); err != nil {
			b.Fatal(err)
		}
	}
}

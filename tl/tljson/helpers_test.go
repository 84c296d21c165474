package tljson

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

const (
	corpusDir    = "../../../shared/tl"
	memcacheFile = "../../engines/memcache/memcache.tl"
)

// loadCodec loads schema files (with the prelude when prelude is set).
func loadCodec(t testing.TB, prelude bool, paths ...string) *Codec {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("schema file missing: %v", err)
		}
	}
	load := schema.Load
	if prelude {
		load = schema.LoadWithPrelude
	}
	s, err := load(paths...)
	if err != nil {
		t.Fatal(err)
	}
	return New(s)
}

func memcacheCodec(t testing.TB) *Codec {
	t.Helper()
	return loadCodec(t, true, memcacheFile)
}

// corpusCodec loads one file of the shared corpus the way it resolves.
func corpusCodec(t testing.TB, name string) *Codec {
	t.Helper()
	p := filepath.Join(corpusDir, name)
	switch name {
	case "common.tl":
		return loadCodec(t, false, p)
	case "telegram_api.tl":
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("shared corpus missing: %v", err)
		}
		f, err := schema.ParseDialect(name, src, schema.Telegram)
		if err != nil {
			t.Fatal(err)
		}
		// tdlib's local invokeWith*Prefix functions reuse the tags of
		// invokeWith*; they are not part of the API (see tl/schema tests).
		kept := f.Decls[:0]
		for _, d := range f.Decls {
			if !(strings.HasPrefix(d.Name, "invokeWith") && strings.HasSuffix(d.Name, "Prefix")) {
				kept = append(kept, d)
			}
		}
		f.Decls = kept
		s, err := schema.Resolve(f)
		if err != nil {
			t.Fatal(err)
		}
		return New(s)
	}
	return loadCodec(t, true, p)
}

// checkEncoded checks what an encode gave: with wantErr, that error with
// msg in its text; otherwise no error and the bytes of wantHex.
func checkEncoded(t *testing.T, got []byte, err, wantErr error, msg, wantHex string) {
	t.Helper()
	if wantErr != nil {
		if !errors.Is(err, wantErr) || !strings.Contains(err.Error(), msg) {
			t.Fatalf("error %v, want %v containing %q", err, wantErr, msg)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if want := tltest.Unhex(t, wantHex); !bytes.Equal(got, want) {
		t.Errorf("encode = %x, want %x", got, want)
	}
}

func mustType(t testing.TB, c *Codec, expr string) *Type {
	t.Helper()
	ty, err := c.ParseType(expr)
	if err != nil {
		t.Fatal(err)
	}
	return ty
}

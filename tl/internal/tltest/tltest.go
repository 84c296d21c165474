// Package tltest holds the helpers the tests of tl and its sub-packages
// share. It is imported by tests only, and imports no project package, so
// that the tests of package tl itself can use it.
package tltest

import (
	"encoding/hex"
	"strings"
	"testing"
)

// Unhex decodes a golden vector written as hex words separated by white
// space, as the vectors in wire.md and tl.md are.
func Unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad golden hex %q: %v", s, err)
	}
	return b
}

package tl

import (
	"encoding/hex"
	"strings"
	"testing"
)

// unhex decodes a golden vector written as hex words separated by spaces.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad golden hex %q: %v", s, err)
	}
	return b
}

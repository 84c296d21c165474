package engines_test

import (
	"strconv"
	"testing"

	"github.com/rpcproxy/rpcproxy/engines"
)

func TestStripes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n, want int
	}{
		{"zero", 0, 1},
		{"one", 1, 1},
		{"power of two", 64, 64},
		{"rounded up", 65, 128},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := engines.NewStripes(tc.n)
			if got := s.Len(); got != tc.want {
				t.Fatalf("Len %d, want %d", got, tc.want)
			}
			for i := range 1000 {
				key := []byte("k" + strconv.Itoa(i))
				if got := s.Index(key); got < 0 || got >= tc.want || got != s.Index(key) {
					t.Fatalf("Index(%s) = %d, want a stable index in [0, %d)", key, got, tc.want)
				}
			}
		})
	}
}

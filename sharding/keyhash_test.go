package sharding

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

func TestCRCTableMatchesStdlib(t *testing.T) {
	tab := newCRCTable()
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 200)
	for n := range len(buf) {
		for i := range buf[:n] {
			buf[i] = byte(r.Uint32())
		}
		if got, want := tab.checksum(buf[:n]), crc32.ChecksumIEEE(buf[:n]); got != want {
			t.Fatalf("len %d: checksum = %#x, want %#x", n, got, want)
		}
	}
}

func TestFNV1a64Twemproxy(t *testing.T) {
	tests := []struct {
		key  string
		want uint32
	}{
		{"", 0x84222325},
		{"foo", 0xfed9d577},
		{"bar", 0x1339461a},
		{"user:1000", 0xae7b4289},
		// A byte >= 0x80 is XORed sign-extended, as twemproxy's signed char is.
		{"\x80", (0x84222325 ^ 0xffffff80) * 0x1b3 & 0xffffffff},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := fnv1a64Twemproxy([]byte(tt.key)); got != tt.want {
				t.Errorf("fnv1a64Twemproxy(%q) = %#x, want %#x", tt.key, got, tt.want)
			}
		})
	}
}

package tltest

import (
	"bytes"
	"testing"
)

func TestUnhex(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []byte
	}{
		{"words", "ae133bd3 03666f6f", []byte{0xae, 0x13, 0x3b, 0xd3, 0x03, 0x66, 0x6f, 0x6f}},
		{"one run", "0102", []byte{1, 2}},
		{"lines", "01\n\t02", []byte{1, 2}},
		{"empty", "", []byte{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Unhex(t, tc.in); !bytes.Equal(got, tc.want) {
				t.Fatalf("Unhex(%q) = %x, want %x", tc.in, got, tc.want)
			}
		})
	}
}

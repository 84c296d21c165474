package tl

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
)

// TestStringGolden covers every string example of tl.md §5.2.
func TestStringGolden(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	aHex := func(n int) string { return strings.Repeat("61", n) }
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", "00000000"},
		{"a", "a", "01610000"},
		{"abc", "abc", "03616263"},
		{"abcd", "abcd", "04616263 64000000"},
		{"253 bytes", a(253), "fd" + aHex(253) + "0000"},
		{"254 bytes", a(254), "fefe0000" + aHex(254) + "0000"},
		{"255 bytes", a(255), "feff0000" + aHex(255) + "00"},
		{"256 bytes", a(256), "fe000100" + aHex(256)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tltest.Unhex(t, tt.want)
			if got := AppendString(nil, tt.in); !bytes.Equal(got, want) {
				t.Fatalf("AppendString = %x, want %x", got, want)
			}
			if got := AppendBytes(nil, []byte(tt.in)); !bytes.Equal(got, want) {
				t.Fatalf("AppendBytes = %x, want %x", got, want)
			}
			if StringSize(len(tt.in)) != len(want) {
				t.Fatalf("StringSize(%d) = %d, want %d", len(tt.in), StringSize(len(tt.in)), len(want))
			}
			// A trailing word proves the reader stops exactly after the padding.
			in := append(bytes.Clone(want), 1, 2, 3, 4)
			got, rest, err := ReadBytes(in)
			must(t, err)
			if string(got) != tt.in || !bytes.Equal(rest, []byte{1, 2, 3, 4}) {
				t.Fatalf("ReadBytes = %q rest %x", got, rest)
			}
			s, _, err := ReadString(in)
			must(t, err)
			if s != tt.in {
				t.Fatalf("ReadString = %q", s)
			}
			rest, err = SkipString(in)
			must(t, err)
			if len(rest) != 4 {
				t.Fatalf("SkipString left %d bytes", len(rest))
			}
		})
	}
}

func TestReadBytesErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty input", "", ErrTruncated},
		{"short data", "05616263", ErrTruncated},
		{"missing padding", "016100", ErrTruncated},
		{"nonzero padding 1", "01610001", ErrPadding},
		{"nonzero padding 3", "04616263 64000100", ErrPadding},
		{"medium header cut", "fe0100", ErrTruncated},
		{"medium for 0", "fe000000", ErrNonCanonical},
		{"medium for 253", "fefd0000", ErrNonCanonical},
		{"medium data cut", "fefe0000 61616161", ErrTruncated},
		{"huge header cut", "ff000000 000000", ErrTruncated},
		{"huge for 2^24-1", "ffffffff 00000000", ErrNonCanonical},
		{"huge for 1", "ff010000 00000000 61000000", ErrNonCanonical},
		{"huge 2^24 without data", "ff000000 01000000", ErrTruncated},
		{"huge max length", "ffffffff ffffffff", ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tltest.Unhex(t, tt.in)
			got, rest, err := ReadBytes(in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if got != nil || len(rest) != len(in) {
				t.Fatalf("on error got %x and %d rest bytes, want nil and the input", got, len(rest))
			}
			if _, err := SkipString(in); !errors.Is(err, tt.want) {
				t.Fatalf("SkipString err = %v", err)
			}
		})
	}
}

// TestStringRoundTrip encodes random strings of every length across the
// short/medium boundary and decodes them back.
func TestStringRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 300)
	for n := range 301 {
		for i := range buf[:n] {
			buf[i] = byte(rng.Uint32())
		}
		enc := AppendBytes(nil, buf[:n])
		if len(enc)%4 != 0 || len(enc) != StringSize(n) {
			t.Fatalf("len %d: encoded %d bytes, StringSize %d", n, len(enc), StringSize(n))
		}
		got, rest, err := ReadBytes(enc)
		if err != nil || !bytes.Equal(got, buf[:n]) || len(rest) != 0 {
			t.Fatalf("len %d: got %x rest %d err %v", n, got, len(rest), err)
		}
		if cap(got) != len(got) {
			t.Fatalf("len %d: result cap %d lets callers append into padding", n, cap(got))
		}
	}
}

// TestStringSizeLarge checks the size arithmetic at the medium/huge boundary
// without allocating 16 MiB.
func TestStringSizeLarge(t *testing.T) {
	tests := []struct{ n, want int }{
		{1<<24 - 4, 4 + 1<<24 - 4},
		{1<<24 - 1, 4 + 1<<24},
		{1 << 24, 8 + 1<<24},
		{1<<24 + 1, 8 + 1<<24 + 4},
	}
	for _, tt := range tests {
		if got := StringSize(tt.n); got != tt.want {
			t.Errorf("StringSize(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
	hdr := func(n int) []byte { return appendStringHeader(nil, n) }
	if got := hdr(1<<24 - 1); !bytes.Equal(got, []byte{0xfe, 0xff, 0xff, 0xff}) {
		t.Errorf("header(2^24-1) = %x", got)
	}
	if got := hdr(1 << 24); !bytes.Equal(got, []byte{0xff, 0, 0, 0, 1, 0, 0, 0}) {
		t.Errorf("header(2^24) = %x", got)
	}
}

// TestReadBytesHuge accepts the 0xFF form for a 2^24-byte string, as VK's Go
// reader does. One 16 MiB buffer is the only way to prove it.
func TestReadBytesHuge(t *testing.T) {
	const n = 1 << 24
	in := make([]byte, 8+n+4)
	copy(in, []byte{0xff, 0, 0, 0, 1, 0, 0, 0})
	in[8] = 'x'
	got, rest, err := ReadBytes(in)
	must(t, err)
	if len(got) != n || got[0] != 'x' || len(rest) != 4 {
		t.Fatalf("got %d bytes, rest %d", len(got), len(rest))
	}
}

package tl

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzReadBytes checks that ReadBytes never panics, consumes a whole number of
// words, and that whatever it accepts re-encodes to exactly the bytes it
// consumed (the canonical-form invariant).
func FuzzReadBytes(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		data, rest, err := ReadBytes(in)
		if err != nil {
			if len(rest) != len(in) {
				t.Fatalf("error %v consumed input", err)
			}
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrNonCanonical) && !errors.Is(err, ErrPadding) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		used := len(in) - len(rest)
		if used%4 != 0 || used != StringSize(len(data)) {
			t.Fatalf("consumed %d bytes for %d data bytes", used, len(data))
		}
		if enc := AppendBytes(nil, data); !bytes.Equal(enc, in[:used]) {
			t.Fatalf("re-encode %x != input %x", enc, in[:used])
		}
	})
}

// FuzzStringRoundTrip checks encode -> decode -> equal for arbitrary data.
func FuzzStringRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string, prefix []byte) {
		enc := AppendString(bytes.Clone(prefix), s)
		if !bytes.Equal(enc[:len(prefix)], prefix) {
			t.Fatal("writer changed dst prefix")
		}
		got, rest, err := ReadBytes(enc[len(prefix):])
		if err != nil || string(got) != s || len(rest) != 0 {
			t.Fatalf("got %q rest %d err %v", got, len(rest), err)
		}
	})
}

// FuzzReadCount checks the allocation guarantee: an accepted count of
// minSize-byte elements always fits in the remaining input.
func FuzzReadCount(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte, minSize int) {
		n, rest, err := ReadCount(in, minSize)
		if err != nil {
			if len(rest) != len(in) {
				t.Fatal("error consumed input")
			}
			return
		}
		if n < 0 {
			t.Fatalf("negative count %d", n)
		}
		if minSize > 0 && n > len(rest)/minSize {
			t.Fatalf("count %d of %d-byte elements in %d bytes", n, minSize, len(rest))
		}
		if minSize <= 0 && n > MaxZeroSizeCount {
			t.Fatalf("count %d over limit", n)
		}
	})
}

package sharding

import (
	"errors"
	"strconv"
	"testing"
)

// FuzzPick checks that every mode returns a shard in range for any key, and
// that firstint agrees with strconv on the digits it reads.
func FuzzPick(f *testing.F) {
	for _, k := range []string{"", "photo100_500", "user:1", "18446744073709551616", "\xff\x80", "-42"} {
		f.Add([]byte(k))
	}
	var pickers []*Picker
	for _, s := range allSpecs(5) {
		pickers = append(pickers, mustPicker(f, s))
	}
	f.Fuzz(func(t *testing.T, key []byte) {
		for _, p := range pickers {
			got, err := p.Pick(key)
			if err == nil && (got < 0 || got >= p.Len()) {
				t.Fatalf("%s: Pick(%q) = %d, out of range", p.Mode(), key, got)
			}
			if p.Mode() != ModeFirstInt {
				if err != nil {
					t.Fatalf("%s: Pick(%q): %v", p.Mode(), key, err)
				}
				continue
			}
			i := 0
			for i < len(key) && !isDigit(key[i]) {
				i++
			}
			j := i
			for j < len(key) && isDigit(key[j]) {
				j++
			}
			want, perr := strconv.ParseUint(string(key[i:j]), 10, 64)
			switch {
			case i == len(key):
				if !errors.Is(err, ErrNoDigits) {
					t.Fatalf("Pick(%q) error %v, want ErrNoDigits", key, err)
				}
			case perr != nil:
				if !errors.Is(err, ErrOverflow) {
					t.Fatalf("Pick(%q) error %v, want ErrOverflow", key, err)
				}
			case err != nil || got != int(want%5):
				t.Fatalf("Pick(%q) = %d, %v; want %d", key, got, err, want%5)
			}
		}
	})
}

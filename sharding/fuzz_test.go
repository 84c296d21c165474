package sharding

import (
	"bytes"
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

// FuzzHashTag: what a tag places is the whole key, or the non-empty run
// right after the key's first opening character that ends just before
// the first closing one after it; and a tagged Picker places a key where
// an untagged one places those bytes.
func FuzzHashTag(f *testing.F) {
	for _, k := range []string{"user:{42}:photos", "{}", "a{}b{c}", "}a{b}", "{{a}}", "$x$", "\xff{\x00}"} {
		f.Add([]byte(k), byte('{'), byte('}'))
	}
	f.Add([]byte("a$x$y"), byte('$'), byte('$'))
	f.Fuzz(func(t *testing.T, key []byte, open, close byte) {
		if HashTagProblem(string([]byte{open, close})) != "" {
			return
		}
		h := newHashTag(string([]byte{open, close}))
		got := h.of(key)
		if len(got) == len(key) {
			if string(got) != string(key) {
				t.Fatalf("of(%q) = %q: as long as the key but not the key", key, got)
			}
			return
		}
		i := bytes.IndexByte(key, open)
		if len(got) == 0 || i < 0 || !bytes.HasPrefix(key[i+1:], got) || len(key) <= i+1+len(got) ||
			key[i+1+len(got)] != close || bytes.IndexByte(got, close) >= 0 {
			t.Fatalf("tag %c%c: of(%q) = %q, not the first tag", open, close, key, got)
		}
		for _, s := range []Spec{{Mode: ModeKetama, Shards: names(7)}, {Mode: ModeHash, Shards: names(7)}} {
			plain := mustPicker(t, s)
			s.HashTag = string([]byte{open, close})
			tagged := mustPicker(t, s)
			a, _ := tagged.Pick(key)
			b, _ := plain.Pick(got)
			if a != b {
				t.Fatalf("%s: tagged Pick(%q) = %d, untagged Pick(%q) = %d", s.Mode, key, a, got, b)
			}
		}
	})
}

package sharding

import (
	"errors"
	"strings"
	"testing"
)

// TestHashTagSpec: a spec's tag is "" or two printable ASCII characters
// other than digits and '-'; anything else is ErrInvalidSpec saying why.
func TestHashTagSpec(t *testing.T) {
	tests := []struct {
		in, err string // err: a part of the error; "" for none
	}{
		{"", ""},
		{"{}", ""},
		{"$$", ""},
		{"<>", ""},
		{"{", "want two characters"},
		{"{}}", "want two characters"},
		{"1}", "'1' is not allowed"},
		{"{-", "'-' is not allowed"},
		{" }", "' ' is not allowed"},
		{"{\x7f", "'\\x7f' is not allowed"},
		{"é", "is not allowed"}, // two bytes, neither ASCII
	}
	for _, tc := range tests {
		_, err := NewPicker(Spec{Mode: ModeKetama, Shards: names(2), HashTag: tc.in})
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("hash tag %q: %v", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrInvalidSpec)):
			t.Errorf("hash tag %q: %v, want ErrInvalidSpec saying %q", tc.in, err, tc.err)
		}
	}
}

// TestHashTagOf: twemproxy's rule (hash_tag in nc_server.c): the first
// opening character, the first closing one after it, at least one byte
// between; otherwise the whole key.
func TestHashTagOf(t *testing.T) {
	tests := []struct{ tag, key, want string }{
		{"{}", "user:{42}:photos", "42"},
		{"{}", "{42}", "42"},
		{"{}", "plain", "plain"},
		{"{}", "", ""},
		{"{}", "a{}b{c}", "a{}b{c}"}, // the first tag is empty: whole key
		{"{}", "}a{b}", "b"},         // a closing character before the opening one is ordinary
		{"{}", "a{bc", "a{bc"},       // no end
		{"{}", "{a}{b}", "a"},
		{"{}", "{{a}}", "{a"},
		{"$$", "a$x$y", "x"},
		{"$$", "a$$y", "a$$y"},
		{"", "user:{42}", "user:{42}"},
	}
	for _, tc := range tests {
		h := newHashTag(tc.tag)
		if got := string(h.of([]byte(tc.key))); got != tc.want {
			t.Errorf("tag %q: of(%q) = %q, want %q", tc.tag, tc.key, got, tc.want)
		}
	}
}

// TestPickerHashTag: in every mode a tagged key goes where its tag alone
// goes, untagged keys and int keys go where they went without a tag, and
// firstint reads its integer from the tag.
func TestPickerHashTag(t *testing.T) {
	for _, s := range allSpecs(16) {
		t.Run(specName(s), func(t *testing.T) {
			plain := mustPicker(t, s)
			s.HashTag = "{}"
			tagged := mustPicker(t, s)
			for _, k := range []struct{ key, placed string }{
				{"user:{42}:photos", "42"},
				{"photo{100}_500", "100"},
				{"photo100_500", "photo100_500"},
				{"x{}7", "x{}7"},
			} {
				got, err1 := tagged.Pick([]byte(k.key))
				want, err2 := plain.Pick([]byte(k.placed))
				if got != want || (err1 == nil) != (err2 == nil) {
					t.Errorf("Pick(%q) = %d, %v; want Pick(%q) without a tag = %d, %v", k.key, got, err1, k.placed, want, err2)
				}
			}
			if tagged.PickInt(-77) != plain.PickInt(-77) {
				t.Error("PickInt moved with a hash tag")
			}
			if a := testing.AllocsPerRun(100, func() {
				var buf [16]byte
				copy(buf[:], "user:{42}:x")
				_, _ = tagged.Pick(buf[:11])
			}); a != 0 {
				t.Errorf("tagged Pick of a stack key: %v allocs/op, want 0", a)
			}
		})
	}
	p := mustPicker(t, Spec{Mode: ModeFirstInt, Shards: names(4), HashTag: "{}"})
	if _, err := p.Pick([]byte("photo5_{x}")); !errors.Is(err, ErrNoDigits) || !strings.Contains(err.Error(), `hash tag of "photo5_{x}"`) {
		t.Errorf("firstint Pick of a tag without digits: %v, want ErrNoDigits naming the key's hash tag", err)
	}
	if _, err := NewPicker(Spec{Mode: ModeKetama, Shards: names(4), HashTag: "{"}); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("NewPicker with a one-character tag: %v, want ErrInvalidSpec", err)
	}
}

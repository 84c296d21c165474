package sharding

import (
	"bytes"
	"fmt"
)

// A hash tag makes keys share a shard on purpose: when a key holds the
// tag's opening character and, after it, its closing one, with at least
// one byte between them, only those bytes are placed; otherwise the whole
// key is. With the tag "{}", "user:{42}:photos" and "user:{42}:friends"
// are both placed as "42", so one multi-key request for both goes to one
// shard. The first opening character counts, and the first closing one
// after it; the two may be the same character ("$$"). This is twemproxy's
// hash_tag, so pools moved from it keep their placement.

// hashTag is a parsed Spec.HashTag; the zero value places whole keys.
type hashTag struct {
	open, close byte
	set         bool
}

// HashTagProblem says what is wrong with a Spec.HashTag, or "" when it is
// "" (no tag) or two printable ASCII characters that are not digits or
// '-' (PickInt places an int key as its decimal text, which a tag must
// leave whole).
func HashTagProblem(tag string) string {
	if tag == "" {
		return ""
	}
	if len(tag) != 2 {
		return `want two characters, the tag's start and end, like "{}"`
	}
	for i := range 2 {
		if c := tag[i]; c <= ' ' || c > '~' || c >= '0' && c <= '9' || c == '-' {
			return fmt.Sprintf("%q is not allowed (printable ASCII other than digits and '-')", rune(c))
		}
	}
	return ""
}

// newHashTag parses a Spec.HashTag that HashTagProblem accepted.
func newHashTag(tag string) hashTag {
	if tag == "" {
		return hashTag{}
	}
	return hashTag{open: tag[0], close: tag[1], set: true}
}

// of returns the bytes of key that are placed: its tag, or key itself.
func (t hashTag) of(key []byte) []byte {
	if !t.set {
		return key
	}
	i := bytes.IndexByte(key, t.open)
	if i < 0 {
		return key
	}
	j := bytes.IndexByte(key[i+1:], t.close)
	if j <= 0 { // no end, or an empty tag
		return key
	}
	return key[i+1 : i+1+j]
}

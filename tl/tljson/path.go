package tljson

import (
	"strconv"
	"strings"
)

// seg is one step of a JSON path: an object member or an array index.
type seg struct {
	name  string
	index int // used when name is empty
	key   bool
}

// path is the stack of steps from the root to the value being converted.
// It is formatted only when an error is reported, so walking costs one
// append per level.
type path []seg

func (p path) field(name string) path { return append(p, seg{name: name, key: true}) }
func (p path) elem(i int) path        { return append(p, seg{index: i}) }

func (p path) String() string {
	var b strings.Builder
	b.WriteByte('$')
	for _, s := range p {
		switch {
		case !s.key:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case isIdent(s.name):
			b.WriteByte('.')
			b.WriteString(s.name)
		default:
			b.WriteByte('[')
			b.WriteString(strconv.Quote(s.name))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// isIdent reports whether a member name can be written after a dot.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

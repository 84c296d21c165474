package configs

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// keyLines maps a key path, spelled as joinPath spells it
// ("cluster[1].shards[0].replicas[2]"), to the 1-based line where its key,
// table header or array element starts.
//
// BurntSushi/toml records key positions only privately and without array
// indexes (every [[cluster]] shares the key "cluster.name"), so the positions
// are found here by a second, structural pass over the source. The pass runs
// only on text the TOML parser has already accepted, which is why it can skip
// values instead of checking them.
type keyLines map[string]int

// lineOf returns the line of path, or of its nearest ancestor that has one
// (a missing key is reported at its table's header), or 0.
func (kl keyLines) lineOf(path string) int {
	for path != "" {
		if l, ok := kl[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

// parentPath strips the last segment (".key" or "[i]") from path, ignoring
// dots and brackets inside quoted segments.
func parentPath(path string) string {
	cut := 0
	inQuote := false
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && (c == '.' || c == '['):
			cut = i
		}
	}
	return path[:cut]
}

// joinPath appends a key to a path, quoting keys that are not bare TOML keys
// so that paths stay unambiguous.
func joinPath(prefix, key string) string {
	if !isBareKey(key) {
		key = strconv.Quote(key)
	}
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// indexPath appends an array index to a path.
func indexPath(prefix string, i int) string {
	return fmt.Sprintf("%s[%d]", prefix, i)
}

func isBareKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// locate scans TOML source that has already parsed successfully and returns
// the line of every key, table header and array element in it.
func locate(src string) keyLines {
	s := &scanner{src: src, out: keyLines{}, aot: map[string]int{}}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			s.lineStarts = append(s.lineStarts, i+1)
		}
	}
	s.document()
	return s.out
}

// scanner walks TOML source by structure only: headers, keys, and values
// skipped by their delimiters, so brackets and '=' inside strings and
// comments are never mistaken for structure.
type scanner struct {
	src        string
	pos        int
	lineStarts []int          // offsets of the starts of lines 2, 3, ...
	out        keyLines       // the result
	aot        map[string]int // elements seen so far per array-of-tables path
}

func (s *scanner) line() int {
	return sort.SearchInts(s.lineStarts, s.pos+1) + 1
}

func (s *scanner) mark(path string) {
	if _, ok := s.out[path]; !ok {
		s.out[path] = s.line()
	}
}

func (s *scanner) eof() bool { return s.pos >= len(s.src) }

func (s *scanner) peek(off int) byte {
	if s.pos+off < len(s.src) {
		return s.src[s.pos+off]
	}
	return 0
}

// skipSpace skips blanks; with newlines it also skips line ends and comments.
func (s *scanner) skipSpace(newlines bool) {
	for !s.eof() {
		switch c := s.src[s.pos]; {
		case c == ' ' || c == '\t':
			s.pos++
		case c == '#':
			for !s.eof() && s.src[s.pos] != '\n' {
				s.pos++
			}
		case newlines && (c == '\n' || c == '\r'):
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) document() {
	table := ""
	for {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		if s.peek(0) == '[' {
			table = s.header()
			continue
		}
		s.keyValue(table)
	}
}

// header reads "[a.b]" or "[[a.b]]" and returns the path of the table it opens.
func (s *scanner) header() string {
	double := s.peek(1) == '['
	if double {
		s.pos += 2
	} else {
		s.pos++
	}
	keys := s.key()
	s.skipSpace(false)
	if double {
		s.pos += 2
	} else {
		s.pos++
	}
	path := s.resolve(keys[:len(keys)-1])
	path = joinPath(path, keys[len(keys)-1])
	if double {
		n := s.aot[path]
		s.aot[path] = n + 1
		path = indexPath(path, n)
	} else if n, ok := s.aot[path]; ok {
		// Not valid TOML, but keep going rather than misreport.
		path = indexPath(path, n-1)
	}
	s.mark(path)
	return path
}

// resolve turns header keys into a path, stepping into the latest element of
// every array of tables on the way ([cluster.health] after the second
// [[cluster]] is "cluster[1].health").
func (s *scanner) resolve(keys []string) string {
	path := ""
	for _, k := range keys {
		path = joinPath(path, k)
		if n, ok := s.aot[path]; ok {
			path = indexPath(path, n-1)
		}
		s.mark(path)
	}
	return path
}

func (s *scanner) keyValue(table string) {
	keys := s.key()
	path := table
	for _, k := range keys {
		path = joinPath(path, k)
		s.mark(path)
	}
	s.skipSpace(false)
	if s.peek(0) == '=' {
		s.pos++
	}
	s.skipSpace(false)
	s.value(path)
}

// key reads a possibly dotted, possibly quoted key.
func (s *scanner) key() []string {
	var keys []string
	for {
		s.skipSpace(false)
		switch s.peek(0) {
		case '"':
			start := s.pos
			s.skipBasic()
			raw := s.src[start:s.pos]
			k, err := strconv.Unquote(raw)
			if err != nil {
				k = strings.Trim(raw, `"`)
			}
			keys = append(keys, k)
		case '\'':
			start := s.pos + 1
			s.skipLiteral()
			keys = append(keys, s.src[start:max(start, s.pos-1)])
		default:
			start := s.pos
			for !s.eof() && isBareKey(s.src[s.pos:s.pos+1]) {
				s.pos++
			}
			keys = append(keys, s.src[start:s.pos])
			if start == s.pos && !s.eof() {
				s.pos++ // never loop on a byte we do not understand
			}
		}
		s.skipSpace(false)
		if s.peek(0) != '.' {
			return keys
		}
		s.pos++
	}
}

func (s *scanner) value(path string) {
	switch s.peek(0) {
	case '[':
		s.pos++
		for i := 0; ; i++ {
			s.skipSpace(true)
			if s.eof() {
				return
			}
			if s.peek(0) == ']' {
				s.pos++
				return
			}
			elem := indexPath(path, i)
			s.mark(elem)
			before := s.pos
			s.value(elem)
			s.skipSpace(true)
			if s.peek(0) == ',' {
				s.pos++
			} else if s.pos == before {
				s.pos++
			}
		}
	case '{':
		s.pos++
		for {
			s.skipSpace(true) // TOML 1.1 allows newlines in inline tables
			if s.eof() {
				return
			}
			switch s.peek(0) {
			case '}':
				s.pos++
				return
			case ',':
				s.pos++
				continue
			}
			s.keyValue(path)
		}
	case '"':
		if strings.HasPrefix(s.src[s.pos:], `"""`) {
			s.skipMulti(`"""`, true)
		} else {
			s.skipBasic()
		}
	case '\'':
		if strings.HasPrefix(s.src[s.pos:], `'''`) {
			s.skipMulti(`'''`, false)
		} else {
			s.skipLiteral()
		}
	default:
		// Numbers, booleans and dates hold none of these bytes.
		for !s.eof() && !strings.ContainsRune(",]}#\r\n", rune(s.src[s.pos])) {
			s.pos++
		}
	}
}

// skipBasic skips a "..." string with escapes, leaving pos after the quote.
func (s *scanner) skipBasic() {
	s.pos++
	for !s.eof() {
		switch s.src[s.pos] {
		case '\\':
			s.pos += 2
			continue
		case '"':
			s.pos++
			return
		}
		s.pos++
	}
}

// skipLiteral skips a '...' string, leaving pos after the quote.
func (s *scanner) skipLiteral() {
	s.pos++
	for !s.eof() {
		c := s.src[s.pos]
		s.pos++
		if c == '\'' {
			return
		}
	}
}

// skipMulti skips a multi-line string. Up to two extra quotes may touch the
// closing delimiter (`""""" ` ends a string holding `""`).
func (s *scanner) skipMulti(delim string, escapes bool) {
	s.pos += 3
	for !s.eof() {
		if escapes && s.src[s.pos] == '\\' {
			s.pos += 2
			continue
		}
		if strings.HasPrefix(s.src[s.pos:], delim) {
			s.pos += 3
			for extra := 0; extra < 2 && s.peek(0) == delim[0]; extra++ {
				s.pos++
			}
			return
		}
		s.pos++
	}
}

package configs

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// table is one decoded TOML table being read into a Config. Every getter
// records the key as known, so that unknownKeys can reject the rest with
// the list of allowed keys, and reports a wrong type at the key's path
// instead of stopping: decoding never ends at the first mistake.
type table struct {
	path  string
	m     map[string]any
	known []string
	ps    *problems
}

func newTable(path string, m map[string]any, ps *problems) *table {
	t := &table{path: path, m: m, ps: ps}
	ps.tables = append(ps.tables, t)
	return t
}

// at returns the path of key in t.
func (t *table) at(key string) string { return joinPath(t.path, key) }

// get returns the raw value of key and whether it is present.
func (t *table) get(key string) (any, bool) {
	t.known = append(t.known, key)
	v, ok := t.m[key]
	return v, ok
}

// has reports whether key is present without marking it known.
func (t *table) has(key string) bool {
	_, ok := t.m[key]
	return ok
}

// unknownKeys reports every key of t that no getter asked for.
func (t *table) unknownKeys() {
	known := make(map[string]bool, len(t.known))
	for _, k := range t.known {
		known[k] = true
	}
	var bad []string
	for k := range t.m {
		if !known[k] {
			bad = append(bad, k)
		}
	}
	sort.Strings(bad)
	allowed := append([]string(nil), t.known...)
	sort.Strings(allowed)
	for _, k := range bad {
		t.ps.add(t.at(k), "unknown key; allowed here: %s", strings.Join(allowed, ", "))
	}
}

func (t *table) wrongType(key string, v any, want string) {
	t.ps.add(t.at(key), "%s: want %s", describe(v), want)
}

func (t *table) string(key string) (string, bool) {
	v, ok := t.get(key)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		t.wrongType(key, v, "a string")
	}
	return s, ok
}

func (t *table) int(key string) (int64, bool) {
	v, ok := t.get(key)
	if !ok {
		return 0, false
	}
	n, ok := v.(int64)
	if !ok {
		t.wrongType(key, v, "an integer")
	}
	return n, ok
}

// float accepts integers too, so that "load = 2" means 2.0.
func (t *table) float(key string) (float64, bool) {
	v, ok := t.get(key)
	if !ok {
		return 0, false
	}
	switch f := v.(type) {
	case float64:
		return f, true
	case int64:
		return float64(f), true
	}
	t.wrongType(key, v, "a number")
	return 0, false
}

func (t *table) bool(key string) (bool, bool) {
	v, ok := t.get(key)
	if !ok {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		t.wrongType(key, v, "true or false")
	}
	return b, ok
}

// duration reads a string such as "250ms" and requires it to be positive:
// no duration in the config means "never" or "instant".
func (t *table) duration(key string) (time.Duration, bool) {
	v, ok := t.get(key)
	if !ok {
		return 0, false
	}
	s, ok := v.(string)
	if !ok {
		t.wrongType(key, v, `a duration string such as "250ms" or "2s"`)
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.ps.add(t.at(key), `%q: want a duration such as "250ms" or "2s" (units ns, us, ms, s, m, h)`, s)
		return 0, false
	}
	if d <= 0 {
		t.ps.add(t.at(key), "%q: want a duration > 0", s)
		return 0, false
	}
	return d, true
}

// size reads a byte count: an integer, or a string with a unit
// ("64KiB", "16MiB", "1GiB", "512B").
func (t *table) size(key string) (int64, bool) {
	v, ok := t.get(key)
	if !ok {
		return 0, false
	}
	switch x := v.(type) {
	case int64:
		return x, true
	case string:
		n, err := parseSize(x)
		if err != nil {
			t.ps.add(t.at(key), `%q: %v`, x, err)
			return 0, false
		}
		return n, true
	}
	t.wrongType(key, v, `a byte count: an integer or a string such as "16MiB"`)
	return 0, false
}

func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || n < 0 || n > (1<<62)/u.mult {
			break
		}
		return n * u.mult, nil
	}
	return 0, fmt.Errorf(`want a byte count such as 1048576, "512KiB", "16MiB" or "1GiB"`)
}

// strings reads an array of strings; each bad element is reported at its index.
func (t *table) strings(key string) ([]string, bool) {
	v, ok := t.get(key)
	if !ok {
		return nil, false
	}
	arr, ok := v.([]any)
	if !ok {
		t.wrongType(key, v, "an array of strings")
		return nil, false
	}
	out := make([]string, 0, len(arr))
	good := true
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			t.ps.add(indexPath(t.at(key), i), "%s: want a string", describe(e))
			good = false
			continue
		}
		out = append(out, s)
	}
	return out, good
}

// table reads a sub-table.
func (t *table) table(key string) (*table, bool) {
	v, ok := t.get(key)
	if !ok {
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.wrongType(key, v, "a table")
		return nil, false
	}
	return newTable(t.at(key), m, t.ps), true
}

// tables reads an array of tables, written either as [[key]] sections or as
// an inline array of {...}.
func (t *table) tables(key string) ([]*table, bool) {
	v, ok := t.get(key)
	if !ok {
		return nil, false
	}
	var maps []any
	switch x := v.(type) {
	case []map[string]any:
		for _, m := range x {
			maps = append(maps, m)
		}
	case []any:
		maps = x
	default:
		t.wrongType(key, v, "an array of tables")
		return nil, false
	}
	out := make([]*table, 0, len(maps))
	good := true
	for i, e := range maps {
		m, ok := e.(map[string]any)
		if !ok {
			t.ps.add(indexPath(t.at(key), i), "%s: want a table such as { replicas = [...] }", describe(e))
			good = false
			continue
		}
		out = append(out, newTable(indexPath(t.at(key), i), m, t.ps))
	}
	return out, good
}

// describe prints a decoded TOML value for an error message.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case int64:
		return "integer " + strconv.FormatInt(x, 10)
	case float64:
		return "float " + strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T %v", v, v)
}

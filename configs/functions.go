package configs

import (
	"fmt"
	"slices"
	"strings"
)

// checkPattern validates a `functions` entry. Allowed forms:
//
//	memcache.get   exact TL function name
//	memcache.*     every function of namespace memcache
//	memcache.get*  every function whose name starts with "memcache.get"
//	*              every function (only if no other cluster lists functions)
//
// A name is dot-separated parts of letters, digits and '_'. A '*' may appear
// only once, at the end; there are no other wildcards, so overlap between two
// patterns is decidable by prefix comparison (see patternsOverlap).
func checkPattern(p string) error {
	const allowed = `want an exact name ("memcache.get"), a namespace ("memcache.*"), a prefix ending in '*' ("memcache.get*") or "*"`
	if p == "*" {
		return nil
	}
	body, wild := strings.CutSuffix(p, "*")
	if body == "" || strings.Contains(body, "*") {
		return fmt.Errorf("%s", allowed)
	}
	if err := checkFunctionName(strings.TrimSuffix(body, ".")); err != nil || (!wild && strings.HasSuffix(body, ".")) {
		return fmt.Errorf("%s", allowed)
	}
	return nil
}

// checkFunctionName validates an exact TL function name such as
// "memcache.get" or "engine.pid".
func checkFunctionName(name string) error {
	if name == "" {
		return fmt.Errorf("empty function name")
	}
	for _, part := range strings.Split(name, ".") {
		if part == "" {
			return fmt.Errorf("empty part in function name %q", name)
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || (i > 0 && c >= '0' && c <= '9')) {
				return fmt.Errorf("%q: want letters, digits and '_' in dot-separated parts", name)
			}
		}
	}
	return nil
}

// FunctionMatches reports whether TL function name matches a `functions`
// pattern of the config (an exact name, or a prefix ending in '*').
func FunctionMatches(pattern, name string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, prefix)
	}
	return pattern == name
}

// FunctionsMatch reports whether any of patterns matches name.
func FunctionsMatch(patterns []string, name string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return FunctionMatches(p, name) })
}

// patternsOverlap reports whether some function name matches both patterns.
// With '*' only at the end, a pattern is a set "prefix..." or one name, so
// two prefixes overlap when one starts with the other.
func patternsOverlap(a, b string) bool {
	pa, wa := strings.CutSuffix(a, "*")
	pb, wb := strings.CutSuffix(b, "*")
	switch {
	case wa && wb:
		return strings.HasPrefix(pa, pb) || strings.HasPrefix(pb, pa)
	case wa:
		return strings.HasPrefix(b, pa)
	case wb:
		return strings.HasPrefix(a, pb)
	}
	return a == b
}

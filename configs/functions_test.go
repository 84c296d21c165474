package configs

import "testing"

func TestCheckPattern(t *testing.T) {
	cases := []struct {
		pattern string
		ok      bool
	}{
		{"memcache.get", true},
		{"memcache.*", true},
		{"memcache.get*", true},
		{"*", true},
		{"engine.pid", true},
		{"get", true},
		{"memcache.", false},
		{"*.get", false},
		{"mem*", true},
		{"memcache.**", false},
		{"", false},
		{"memcache..get", false},
		{"memcache.1get", false},
		{"memcache.get-x", false},
	}
	for _, tc := range cases {
		if err := checkPattern(tc.pattern); (err == nil) != tc.ok {
			t.Errorf("checkPattern(%q) = %v, want ok=%v", tc.pattern, err, tc.ok)
		}
	}
}

func TestPatternsOverlap(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"memcache.get", "memcache.get", true},
		{"memcache.get", "memcache.set", false},
		{"memcache.*", "memcache.get", true},
		{"memcache.get", "memcache.*", true},
		{"memcache.*", "photo.*", false},
		{"memcache.get*", "memcache.getMulti", true},
		{"memcache.get*", "memcache.*", true},
		{"memcache.get", "memcache.getMulti", false},
		{"mem.*", "memcache.*", false},
		{"mem*", "memcache.*", true},
		{"*", "anything", true},
	}
	for _, tc := range cases {
		if got := patternsOverlap(tc.a, tc.b); got != tc.want {
			t.Errorf("patternsOverlap(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := patternsOverlap(tc.b, tc.a); got != tc.want {
			t.Errorf("patternsOverlap(%q, %q) = %v, want %v (not symmetric)", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestFunctionMatches(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"memcache.*", "memcache.get", true},
		{"memcache.*", "memcachex.get", false},
		{"memcache.get", "memcache.get", true},
		{"memcache.get", "memcache.getMulti", false},
		{"memcache.get*", "memcache.getMulti", true},
		{"*", "engine.pid", true},
	}
	for _, tc := range cases {
		if got := FunctionMatches(tc.pattern, tc.name); got != tc.want {
			t.Errorf("FunctionMatches(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

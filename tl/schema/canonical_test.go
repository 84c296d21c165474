package schema

import (
	"fmt"
	"testing"
)

func parseOne(t *testing.T, src string) *Decl {
	t.Helper()
	f, err := Parse("x.tl", []byte(src))
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	if len(f.Decls) == 0 {
		t.Fatalf("parse %q: no declarations", src)
	}
	return f.Decls[len(f.Decls)-1]
}

// TestCanonicalWorkedExamples covers tl.md §4.1 consequences and §4.2.
func TestCanonicalWorkedExamples(t *testing.T) {
	tests := []struct {
		name, src, canonical, tag string
		rule                      Rule
	}{
		{"memcache.set", "---functions---\nmemcache.set key:string flags:int delay:int value:string = Bool;",
			"memcache.set key:string flags:int delay:int value:string = Bool", "eeeb54c4", RuleVK},
		{"dictionary keeps % before upper-case", "dictionary#1f4c618f {t:Type} %(Vector %(DictionaryField t)) = Dictionary t;",
			"dictionary t:Type %Vector %DictionaryField t = Dictionary t", "1f4c618f", RuleVK},
		{"intKeyDictionary drops % before lower-case", "intKeyDictionary {t:Type} %(Vector %(intKeyDictionaryField t)) = IntKeyDictionary t;",
			"intKeyDictionary t:Type %Vector intKeyDictionaryField t = IntKeyDictionary t", "07bafc42", RuleVK},
		{"template nat and masks", "statshouseApi.getMappingResponse {fields_mask:#} intValue:fields_mask.3?int stringValue:fields_mask.4?string = statshouseApi.GetMappingResponse fields_mask;",
			"statshouseApi.getMappingResponse fields_mask:# intValue:fields_mask.3?int stringValue:fields_mask.4?string = statshouseApi.GetMappingResponse fields_mask", "fd15ff23", RuleVK},
		{"! dropped by VK", "---functions---\nengine.sendResponseTo {X:Type} pid:%net.Pid query:!X = Bool;",
			"engine.sendResponseTo X:Type pid:%net.Pid query:X = Bool", "31e9061d", RuleVK},
		{"! kept by Telegram", "---functions---\ninvokeWithLayer {X:Type} layer:int query:!X = X;",
			"invokeWithLayer X:Type layer:int query:!X = X", "da9b0d0d", RuleTelegram},
		{"! dropped by VK on invokeWithLayer", "---functions---\ninvokeWithLayer {X:Type} layer:int query:!X = X;",
			"invokeWithLayer X:Type layer:int query:X = X", "1bda02e9", RuleVK},
		{"vector", "vector {t:Type} # [t] = Vector t;", "vector t:Type # [ t ] = Vector t", "1cb5c415", RuleVK},
		{"tuple", "tuple {t:Type} {n:#} [t] = Tuple t n;", "tuple t:Type n:# [ t ] = Tuple t n", "9770768a", RuleVK},
		{"mask long", "x fields_mask:# v:fields_mask.0?long = X;", "x fields_mask:# v:fields_mask.0?long = X", "bc2bb6cd", RuleVK},
		{"mask %Long", "x fields_mask:# v:fields_mask.0?%Long = X;", "x fields_mask:# v:fields_mask.0?%Long = X", "6dd3e1a3", RuleVK},
		{"mask (%Long)", "x fields_mask:# v:fields_mask.0?(%Long) = X;", "x fields_mask:# v:fields_mask.0?%Long = X", "6dd3e1a3", RuleVK},
		{"mask Long", "x fields_mask:# v:fields_mask.0?Long = X;", "x fields_mask:# v:fields_mask.0?Long = X", "455dd49b", RuleVK},
		{"% inside parens", "x a:(%Vector t) = X;", "x a:%Vector t = X", "", RuleVK},
		{"nested vectors and angles", "x a:(Vector (Vector int)) b:Vector<long> = X;", "x a:Vector Vector int b:Vector long = X", "", RuleVK},
		{"%int loses %", "x a:%int b:%Int c:%True d:%(net.Pid) = X;", "x a:int b:%Int c:%True d:%net.Pid = X", "", RuleVK},
		{"constant sums folded", "x a:(Tuple int (1+2)) b:(2+3)*[int] = X;", "x a:Tuple int 3 b:5*[ int ] = X", "", RuleVK},
		{"named scale, inner fields", "x n:# a:n*[k:int v:string] = X;", "x n:# a:n*[ k:int v:string ] = X", "", RuleVK},
		{"?true kept by VK", "x flags:# big:flags.0?true = X;", "x flags:# big:flags.0?true = X", "", RuleVK},
		{"?true dropped by Telegram", "x flags:# big:flags.0?true = X;", "x flags:# = X", "", RuleTelegram},
		{"bytes -> string top level only", "x a:bytes b:Vector<bytes> = X;", "x a:string b:Vector bytes = X", "", RuleTelegram},
		{"builtin", "int#a8509bda ? = Int;", "int ? = Int", "a8509bda", RuleVK},
		{"function result application", "engine.getBinlogPrefixes => Vector %engine.BinlogPrefix;", "engine.getBinlogPrefixes = Vector %engine.BinlogPrefix", "ef14db93", RuleVK},
		{"anonymous field after single term", "x a:Vector int = X;", "x a:Vector int = X", "", RuleVK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := parseOne(t, tc.src)
			if got := d.Canonical(tc.rule); got != tc.canonical {
				t.Errorf("canonical = %q, want %q", got, tc.canonical)
			}
			if tc.tag != "" {
				if got := fmt.Sprintf("%08x", d.ComputedTag(tc.rule)); got != tc.tag {
					t.Errorf("computed tag = %s, want %s", got, tc.tag)
				}
			}
		})
	}
}

package tl

import (
	"hash/crc32"
	"testing"
)

// TestComputedTags recomputes every implicit tag from its VK canonical text
// (tl.md §4.1, texts from shared/tl/expected-tags.tsv), so a typo in a
// constant cannot survive.
func TestComputedTags(t *testing.T) {
	tests := []struct {
		canonical string
		tag       uint32
	}{
		{"int ? = Int", TagInt},
		{"long ? = Long", TagLong},
		{"float ? = Float", TagFloat},
		{"double ? = Double", TagDouble},
		{"string ? = String", TagString},
		{"true = True", TagTrue},
		{"boolFalse = Bool", TagBoolFalse},
		{"boolTrue = Bool", TagBoolTrue},
		{"vector t:Type # [ t ] = Vector t", TagVector},
		{"tuple t:Type n:# [ t ] = Tuple t n", TagTuple},
		{"vectorTotal t:Type total_count:int vector:%Vector t = VectorTotal t", TagVectorTotal},
		{"dictionary t:Type %Vector %DictionaryField t = Dictionary t", TagDictionary},
		{"dictionaryField t:Type key:string value:t = DictionaryField t", TagDictionaryField},
		{"intKeyDictionary t:Type %Vector intKeyDictionaryField t = IntKeyDictionary t", TagIntKeyDictionary},
		{"intKeyDictionaryField t:Type key:int value:t = IntKeyDictionaryField t", TagIntKeyDictionaryField},
		{"longKeyDictionary t:Type %Vector longKeyDictionaryField t = LongKeyDictionary t", TagLongKeyDictionary},
		{"longKeyDictionaryField t:Type key:long value:t = LongKeyDictionaryField t", TagLongKeyDictionaryField},
		{"resultFalse t:Type = Maybe t", TagMaybeFalse},
		{"resultTrue t:Type result:t = Maybe t", TagMaybeTrue},
		{"left X:Type Y:Type value:X = Either X Y", TagLeft},
		{"right X:Type Y:Type value:Y = Either X Y", TagRight},
		{"pair X:Type Y:Type a:X b:Y = Pair X Y", TagPair},
		{"map X:Type Y:Type key:X value:Y = Map X Y", TagMap},
		{"boolStat statTrue:int statFalse:int statUnknown:int = BoolStat", TagBoolStat},
		{"net.pid ip:int port_pid:int utime:int = net.Pid", TagNetPid},
		{"#", TagTypeNat},
		{"Type", TagTypeType},
	}
	for _, tt := range tests {
		if got := crc32.ChecksumIEEE([]byte(tt.canonical)); got != tt.tag {
			t.Errorf("crc32(%q) = %08x, constant is %08x", tt.canonical, got, tt.tag)
		}
	}
}

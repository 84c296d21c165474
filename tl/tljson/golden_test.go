package tljson

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
)

// TestGoldenCalls pins the tl.md §5.8 request vectors and their JSON.
func TestGoldenCalls(t *testing.T) {
	c := memcacheCodec(t)
	tests := []struct {
		name, fn, args, hex, json string
	}{
		{"get", "memcache.get", `{"key":"foo"}`, "ae133bd3 03666f6f", `{"_":"memcache.get","key":"foo"}`},
		{"set", "memcache.set", `{"key":"foo","flags":0,"delay":0,"value":"bar"}`,
			"c454ebee 03666f6f 00000000 00000000 03626172",
			`{"_":"memcache.set","key":"foo","flags":0,"delay":0,"value":"bar"}`},
		{"set with name and string numbers", "memcache.set", `{"_":"memcache.set","value":"bar","delay":"0","flags":0,"key":"foo"}`,
			"c454ebee 03666f6f 00000000 00000000 03626172",
			`{"_":"memcache.set","key":"foo","flags":0,"delay":0,"value":"bar"}`},
		{"getMulti", "memcache.getMulti", `{"keys":["a","bc"]}`,
			"d978499b 02000000 01610000 02626300",
			`{"_":"memcache.getMulti","keys":["a","bc"]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fn, err := c.Function(tc.fn)
			if err != nil {
				t.Fatal(err)
			}
			want := tltest.Unhex(t, tc.hex)
			got, err := c.EncodeCall(nil, fn, []byte(tc.args))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encode = %x, want %x", got, want)
			}
			js, err := c.DecodeCall(want)
			if err != nil {
				t.Fatal(err)
			}
			if string(js) != tc.json {
				t.Errorf("decode = %s, want %s", js, tc.json)
			}
		})
	}
}

// TestGoldenValues pins values of several types: the §5.8 answers and
// dictionary, and the corner cases of the mapping.
func TestGoldenValues(t *testing.T) {
	c := memcacheCodec(t)
	long254 := bytes.Repeat([]byte{'x'}, 254)
	tests := []struct {
		name, typ, hex, json string
	}{
		{"strvalue", "memcache.Value", "1abbbea6 03626172 01000000", `{"_":"memcache.strvalue","value":"bar","flags":1}`},
		{"not_found", "memcache.Value", "2224c432", `{"_":"memcache.not_found"}`},
		{"longvalue", "memcache.Value", "429c7209 ffffffffffffff7f 00000000", `{"_":"memcache.longvalue","value":9223372036854775807,"flags":0}`},
		{"Bool true", "Bool", "b5757299", `true`},
		{"Bool false", "Bool", "379779bc", `false`},
		{"dictionary", "Dictionary string", "8f614c1f 01000000 01610000 01620000", `{"a":"b"}`},
		{"dictionary keeps order and duplicates", "%(Dictionary int)",
			"03000000 017a0000 01000000 01610000 02000000 017a0000 03000000", `{"z":1,"a":2,"z":3}`},
		{"dictionary with a non-UTF-8 key", "%(Dictionary int)",
			"01000000 01ff0000 07000000", `[{"key":{"base64":"/w=="},"value":7}]`},
		{"nested dictionaries, a non-UTF-8 key late", "%(Dictionary (Dictionary int))",
			"02000000 01610000 8f614c1f 01000000 01ff0000 07000000 01ff0000 8f614c1f 00000000",
			`[{"key":"a","value":[{"key":{"base64":"/w=="},"value":7}]},{"key":{"base64":"/w=="},"value":{}}]`},
		{"int key dictionary", "IntKeyDictionary string", "42fcba07 01000000 feffffff 01610000", `{"-2":"a"}`},
		{"long key dictionary", "%(LongKeyDictionary Bool)", "01000000 0500000000000000 b5757299", `{"5":true}`},
		{"vector of boxed ints", "Vector Int", "15c4b51c 02000000 da9b50a8 05000000 da9b50a8 00000000", `[5,0]`},
		{"bare vector", "%(Vector int)", "00000000", `[]`},
		{"tuple", "%(Tuple long 2)", "0100000000000000 0200000000000000", `[1,2]`},
		{"boxed tuple of strings", "Tuple string 1", "8a767097 00000000", `[""]`},
		{"maybe nothing", "Maybe int", "7b0a9327", `{"_":"resultFalse"}`},
		{"maybe value", "Maybe (Maybe True)", "f88e9c3f 7b0a9327", `{"_":"resultTrue","result":{"_":"resultFalse"}}`},
		{"boxed True", "True", "39d3ed3f", `true`},
		{"bare true", "true", "", `true`},
		{"pair", "%(Pair int string)", "01000000 03616263", `{"a":1,"b":"abc"}`},
		{"either", "Either int string", "3bcb3edf 01610000", `{"_":"right","value":"a"}`},
		{"long string", "string", "fefe0000" + hex.EncodeToString(long254) + "0000", `"` + string(long254) + `"`},
		{"non-UTF-8 string", "string", "03ff0061", `{"base64":"/wBh"}`},
		{"escapes", "string", "05225c0a01 7f0000", `"\"\\\n\u0001` + "\x7f" + `"`},
		{"double", "double", "000000000000f83f", `1.5`},
		{"negative zero", "double", "0000000000000080", `-0`},
		{"big double", "double", "000000000000f07f", `"Infinity"`},
		{"minus infinity", "double", "000000000000f0ff", `"-Infinity"`},
		{"NaN", "double", "000000000000f87f", `"NaN"`},
		{"NaN payload", "double", "010000000000f87f", `"NaN(0x7ff8000000000001)"`},
		{"float pi", "float", "db0f4940", `3.1415927`},
		{"float NaN", "float", "0000c07f", `"NaN"`},
		{"tiny double", "double", "0100000000000000", `5e-324`},
		{"nat", "#", "ffffffff", `4294967295`},
		{"boxed long", "Long", "ba6c0722 0000000000000080", `-9223372036854775808`},
		{"vector total", "VectorTotal int", "473f1310 09000000 01000000 07000000", `{"total_count":9,"vector":[7]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ty := mustType(t, c, tc.typ)
			bin := tltest.Unhex(t, tc.hex)
			js, err := c.DecodeValue(ty, bin)
			if err != nil {
				t.Fatal(err)
			}
			if string(js) != tc.json {
				t.Errorf("decode = %s, want %s", js, tc.json)
			}
			got, err := c.EncodeValue(nil, ty, []byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, bin) {
				t.Errorf("encode = %x, want %x", got, bin)
			}
		})
	}
}

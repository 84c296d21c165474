package tljson

import (
	"bytes"
	"errors"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
)

// TestVKInputForms: the union, enum and Maybe forms of VK's tlgen JSON are
// accepted on input and give the same bytes as this package's own form.
func TestVKInputForms(t *testing.T) {
	c := memcacheCodec(t)
	tests := []struct {
		name, typ, json, hex string
		err                  error
		msg                  string
	}{
		{name: "type and value", typ: "memcache.Value", json: `{"type":"memcache.strvalue#a6bebb1a","value":{"value":"bar","flags":1}}`, hex: "1abbbea6 03626172 01000000"},
		{name: "type by name", typ: "memcache.Value", json: `{"type":"memcache.strvalue","value":{"value":"bar","flags":1}}`, hex: "1abbbea6 03626172 01000000"},
		{name: "type by tag", typ: "memcache.Value", json: `{"type":"#a6bebb1a","value":{"value":"bar","flags":1}}`, hex: "1abbbea6 03626172 01000000"},
		{name: "type without value", typ: "memcache.Value", json: `{"type":"memcache.not_found#32c42422"}`, hex: "2224c432"},
		{name: "enum string with tag", typ: "memcache.Value", json: `"memcache.not_found#32c42422"`, hex: "2224c432"},
		{name: "enum string by tag", typ: "memcache.Value", json: `"#32c42422"`, hex: "2224c432"},
		{name: "underscore with tag", typ: "memcache.Value", json: `{"_":"memcache.strvalue#a6bebb1a","value":"bar","flags":1}`, hex: "1abbbea6 03626172 01000000"},
		{name: "underscore tag only", typ: "memcache.Value", json: `{"_":"#a6bebb1a","value":"bar","flags":1}`, hex: "1abbbea6 03626172 01000000"},
		{name: "wrong tag", typ: "memcache.Value", json: `"memcache.not_found#a6bebb1a"`, err: ErrUnknown, msg: "is not a constructor of memcache.Value"},
		{name: "short tag", typ: "memcache.Value", json: `"#32c4"`, err: ErrUnknown, msg: `"#32c4" is not a constructor`},
		{name: "single constructor by tag", typ: "%(Pair int int)", json: `{"_":"pair#0f3c47ab","a":1,"b":2}`, hex: "01000000 02000000"},
		{name: "named element of a vector", typ: "%(Vector %(Pair int int))", json: `[{"_":"pair","a":1,"b":2}]`, hex: "01000000 01000000 02000000"},
		{name: "value not an object", typ: "memcache.Value", json: `{"type":"memcache.strvalue","value":3}`, err: ErrJSONType, msg: "$.value: want an object, got number 3"},
		{name: "type with extra member", typ: "memcache.Value", json: `{"type":"memcache.strvalue","value":{},"x":1}`, err: ErrMissing, msg: `want "_" naming a constructor`},
		{name: "Maybe empty", typ: "Maybe int", json: `{}`, hex: "7b0a9327"},
		{name: "Maybe ok false", typ: "Maybe int", json: `{"ok":false}`, hex: "7b0a9327"},
		{name: "Maybe ok value", typ: "Maybe int", json: `{"ok":true,"value":5}`, hex: "f88e9c3f 05000000"},
		{name: "Maybe value", typ: "Maybe string", json: `{"value":"a"}`, hex: "f88e9c3f 01610000"},
		{name: "Maybe false with value", typ: "Maybe int", json: `{"ok":false,"value":5}`, err: ErrJSONType, msg: `"ok" is false but "value" is given`},
		{name: "Maybe true without value", typ: "Maybe int", json: `{"ok":true}`, err: ErrMissing},
		{name: "Maybe ok not bool", typ: "Maybe int", json: `{"ok":1}`, err: ErrJSONType},
		{name: "Maybe bad value", typ: "Maybe int", json: `{"value":"x"}`, err: ErrJSONType, msg: "$.result: want an int"},
		{name: "union empty object", typ: "Either int int", json: `{}`, err: ErrMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.EncodeValue(nil, mustType(t, c, tc.typ), []byte(tc.json))
			checkEncoded(t, got, err, tc.err, tc.msg, tc.hex)
		})
	}
}

func TestCallByTag(t *testing.T) {
	c := corpusCodec(t, "common.tl")
	fn, err := c.Function("rpcInvokeReq")
	if err != nil {
		t.Fatal(err)
	}
	want := tltest.Unhex(t, "3ddf7423 0100000000000000 c6b76b16")
	for _, js := range []string{
		`{"query_id":1,"query":{"_":"engine.nop"}}`,
		`{"_":"rpcInvokeReq#2374df3d","query_id":1,"query":{"_":"engine.nop#166bb7c6"}}`,
		`{"_":"#2374df3d","query_id":1,"query":{"_":"#166bb7c6"}}`,
	} {
		got, err := c.EncodeCall(nil, fn, []byte(js))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %x, %v; want %x", js, got, err, want)
		}
	}
	for _, js := range []string{
		`{"query_id":1,"query":{"_":"engine.nop#00000000"}}`,
		`{"query_id":1,"query":{"_":"#a8509bda"}}`,
		`{"_":"rpcInvokeReq#2374df3e","query_id":1,"query":{"_":"engine.nop"}}`,
	} {
		if _, err := c.EncodeCall(nil, fn, []byte(js)); !errors.Is(err, ErrUnknown) {
			t.Errorf("%s: %v, want ErrUnknown", js, err)
		}
	}
}

package tljson

import (
	"bytes"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
)

// fuzzTypes are the (schema, type) pairs the fuzz targets pick from with
// their first argument; "call" decodes a boxed function call instead.
func fuzzTypes() []struct{ schema, typ string } {
	return []struct{ schema, typ string }{
		{"memcache", "memcache.Value"},
		{"memcache", "Vector memcache.Value"},
		{"memcache", "%(Dictionary long)"},
		{"memcache", "Dictionary string"},
		{"memcache", "IntKeyDictionary (Maybe double)"},
		{"memcache", "%(Tuple float 2)"},
		{"common", "RpcReqResult (Vector Bool)"},
		{"common", "%(RpcInvokeReqExtra 4294967295)"},
		{"common", "tracing.TraceContext"},
		{"engine", "engine.Query"},
		{"common", "call"},
		{"telegram", "call"},
		{"telegram", "Message"},
	}
}

// fuzzSetup loads the codecs and parses the types once per fuzz target.
type fuzzCase struct {
	c  *Codec
	ty *Type // nil: a call
}

func fuzzSetup(f *testing.F) []fuzzCase {
	codecs := map[string]*Codec{
		"memcache": memcacheCodec(f),
		"common":   corpusCodec(f, "common.tl"),
		"engine":   corpusCodec(f, "engine.tl"),
		"telegram": corpusCodec(f, "telegram_api.tl"),
	}
	var cases []fuzzCase
	for _, ft := range fuzzTypes() {
		fc := fuzzCase{c: codecs[ft.schema]}
		if ft.typ != "call" {
			fc.ty = mustType(f, fc.c, ft.typ)
		}
		cases = append(cases, fc)
	}
	return cases
}

func (fc fuzzCase) decode(bin []byte) ([]byte, error) {
	if fc.ty == nil {
		return fc.c.DecodeCall(bin)
	}
	return fc.c.DecodeValue(fc.ty, bin)
}

func (fc fuzzCase) encode(js []byte) ([]byte, error) {
	if fc.ty == nil {
		j, err := parseJSON(js, maxJSONDepth)
		if err != nil {
			return nil, err
		}
		en := &encoder{c: fc.c}
		_, _, _, err = en.call(j, nil)
		return en.out, err
	}
	return fc.c.EncodeValue(nil, fc.ty, js)
}

// FuzzDecodeValue: random bytes never panic; whatever decodes encodes back
// to the same bytes and decodes to the same JSON.
func FuzzDecodeValue(f *testing.F) {
	cases := fuzzSetup(f)
	f.Add(uint8(0), tltest.Unhex(f, "1abbbea6 03626172 01000000"))
	f.Add(uint8(3), tltest.Unhex(f, "8f614c1f 01000000 01610000 01620000"))
	f.Fuzz(func(t *testing.T, sel uint8, bin []byte) {
		fc := cases[int(sel)%len(cases)]
		js, err := fc.decode(bin)
		if err != nil {
			return
		}
		again, err := fc.encode(js)
		if err != nil {
			t.Fatalf("decoded %x to %s, which does not encode: %v", bin, js, err)
		}
		if !bytes.Equal(again, bin) {
			t.Fatalf("decoded %x to %s, which encodes to %x", bin, js, again)
		}
		js2, err := fc.decode(again)
		if err != nil || !bytes.Equal(js, js2) {
			t.Fatalf("JSON changed: %s -> %s (%v)", js, js2, err)
		}
	})
}

// FuzzEncodeJSON: random JSON never panics; whatever encodes decodes to
// JSON that encodes to the same bytes again.
func FuzzEncodeJSON(f *testing.F) {
	cases := fuzzSetup(f)
	f.Add(uint8(0), `{"_":"memcache.strvalue","value":"bar","flags":1}`)
	f.Add(uint8(3), `{"a":"b","a":{"base64":"/w=="}}`)
	f.Add(uint8(1), `[{"type":"memcache.strvalue#a6bebb1a","value":{"value":"bar","flags":1}},"#32c42422"]`)
	f.Add(uint8(4), `{"1":{"ok":true,"value":1.5},"-2":{},"3":{"_":"resultTrue","result":"NaN"}}`)
	f.Fuzz(func(t *testing.T, sel uint8, js string) {
		fc := cases[int(sel)%len(cases)]
		bin, err := fc.encode([]byte(js))
		if err != nil {
			return
		}
		out, err := fc.decode(bin)
		if err != nil {
			t.Fatalf("%s encoded to %x, which does not decode: %v", js, bin, err)
		}
		again, err := fc.encode(out)
		if err != nil || !bytes.Equal(again, bin) {
			t.Fatalf("%s -> %x -> %s -> %x (%v)", js, bin, out, again, err)
		}
	})
}

package tljson

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
)

// TestGoldenCommon pins !X calls, nat template params bound from a field,
// results decoded with the request bound, and the default constructor.
func TestGoldenCommon(t *testing.T) {
	c := corpusCodec(t, "common.tl")
	destFlags := `{"_":"rpcDestFlags","flags":1048577,"extra":{"return_binlog_pos":true,"string_forward":"k"},"query":{"_":"engine.nop"}}`
	invoke := `{"_":"rpcInvokeReq","query_id":1,"query":{"_":"engine.nop"}}`
	tests := []struct {
		name, fn, call, callHex, resHex, resJSON string
	}{
		{"rpcDestFlags of nop", "rpcDestFlags", destFlags, "5e0352e3 01001000 016b0000 c6b76b16", "39d3ed3f", `true`},
		{"rpcInvokeReq with result header", "rpcInvokeReq", invoke, "3ddf7423 0100000000000000 c6b76b16",
			"4edaae63 0100000000000000 e14cc88c 01000000 0100000000000000 39d3ed3f",
			`{"_":"rpcReqResult","query_id":1,"result":{"_":"reqResultHeader","flags":1,"extra":{"binlog_pos":1},"result":true}}`},
		{"rpcInvokeReq with default constructor", "rpcInvokeReq", invoke, "3ddf7423 0100000000000000 c6b76b16",
			"4edaae63 0100000000000000 39d3ed3f", `{"_":"rpcReqResult","query_id":1,"result":{"_":"_","result":true}}`},
		{"rpcInvokeReq error", "rpcInvokeReq", invoke, "3ddf7423 0100000000000000 c6b76b16",
			"f532e47a 0200000000000000 ffffffff 03626164", `{"_":"rpcReqError","query_id":2,"error_code":-1,"error":"bad"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fn, err := c.Function(tc.fn)
			if err != nil {
				t.Fatal(err)
			}
			req, err := c.EncodeCall(nil, fn, []byte(tc.call))
			if err != nil {
				t.Fatal(err)
			}
			if want := tltest.Unhex(t, tc.callHex); !bytes.Equal(req, want) {
				t.Fatalf("call = %x, want %x", req, want)
			}
			if js, err := c.DecodeCall(req); err != nil || string(js) != tc.call {
				t.Errorf("DecodeCall = %s, %v; want %s", js, err, tc.call)
			}
			res := tltest.Unhex(t, tc.resHex)
			js, err := c.DecodeResult(fn, req, res)
			if err != nil || string(js) != tc.resJSON {
				t.Fatalf("DecodeResult = %s, %v; want %s", js, err, tc.resJSON)
			}
			rt, err := c.ResultType(fn, req)
			if err != nil {
				t.Fatal(err)
			}
			if bin, err := c.EncodeValue(nil, rt, js); err != nil || !bytes.Equal(bin, res) {
				t.Errorf("EncodeValue(%s) = %x, %v; want %x", rt, bin, err, res)
			}
		})
	}
}

// TestMasks pins how conditional fields and masks are encoded.
func TestMasks(t *testing.T) {
	c := corpusCodec(t, "common.tl")
	ty := mustType(t, c, "tracing.TraceContext")
	const ids = `"trace_id":{"lo":1,"hi":2}`
	const head = "5ca963c4"
	const idHex = "0100000000000000 0200000000000000"
	tests := []struct {
		name, json, hex string
		err             error
		msg             string
	}{
		{name: "mask inferred", json: `{` + ids + `,"parent_id":5,"debug_flag":true}`, hex: head + " 84000000 " + idHex + " 0500000000000000"},
		{name: "mask given", json: `{"fields_mask":132,` + ids + `,"parent_id":5,"debug_flag":true}`, hex: head + " 84000000 " + idHex + " 0500000000000000"},
		{name: "true implied by its bit", json: `{"fields_mask":128,` + ids + `}`, hex: head + " 80000000 " + idHex},
		{name: "false true with clear bit", json: `{"fields_mask":0,` + ids + `,"debug_flag":false}`, hex: head + " 00000000 " + idHex},
		{name: "false true not inferred", json: `{` + ids + `,"debug_flag":false}`, hex: head + " 00000000 " + idHex},
		{name: "extra mask bits kept", json: `{"fields_mask":256,` + ids + `}`, hex: head + " 00010000 " + idHex},
		{name: "present with clear bit", json: `{"fields_mask":0,` + ids + `,"parent_id":5}`, err: ErrMask,
			msg: "tljson: $: field parent_id is present but bit 2 of its mask (0) is clear"},
		{name: "absent with set bit", json: `{"fields_mask":4,` + ids + `}`, err: ErrMissing, msg: "tljson: $: missing field parent_id"},
		{name: "false with set bit", json: `{"fields_mask":128,` + ids + `,"debug_flag":false}`, err: ErrMask,
			msg: "field debug_flag is false but bit 7 of its mask (128) is set"},
		{name: "nested path", json: `{` + ids + `,"source_id":7}`, err: ErrJSONType, msg: `tljson: $.source_id: want a string or {"base64":"..."}, got number 7`},
		{name: "deep path", json: `{"trace_id":{"lo":1,"hi":"x"}}`, err: ErrJSONType, msg: `tljson: $.trace_id.hi: want a long, got "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.EncodeValue(nil, ty, []byte(tc.json))
			checkEncoded(t, got, err, tc.err, tc.msg, tc.hex)
		})
	}
}

// TestEncodeErrors checks that bad JSON gives the right sentinel and path.
func TestEncodeErrors(t *testing.T) {
	c := memcacheCodec(t)
	cc := corpusCodec(t, "common.tl")
	ec := corpusCodec(t, "engine.tl")
	deep := strings.Repeat(`{"_":"resultTrue","result":`, 70) + `{"_":"resultFalse"}` + strings.Repeat(`}`, 70)
	deepType := "Maybe " + strings.Repeat("(Maybe ", 30) + "int" + strings.Repeat(")", 30)
	tests := []struct {
		name  string
		c     *Codec
		typ   string
		json  string
		err   error
		msg   string
		errTL error
	}{
		{name: "syntax", typ: "int", json: `{`, err: ErrSyntax, msg: "JSON: unexpected EOF"},
		{name: "data after value", typ: "int", json: `1 2`, err: ErrSyntax, msg: "data after the value"},
		{name: "stray close", typ: "int", json: `]`, err: ErrSyntax},
		{name: "int range", typ: "%(Vector int)", json: `[1,2147483648]`, err: ErrRange, msg: "$[1]: 2147483648 does not fit an int"},
		{name: "int not integer", typ: "int", json: `1.5`, err: ErrJSONType, msg: `want an int, got "1.5"`},
		{name: "nat negative", typ: "#", json: `-1`, err: ErrJSONType},
		{name: "long as string", typ: "long", json: `"9223372036854775807"`},
		{name: "long range", typ: "long", json: `9223372036854775808`, err: ErrRange},
		{name: "float range", typ: "float", json: `1e39`, err: ErrRange},
		{name: "bad NaN bits", typ: "double", json: `"NaN(0x3ff0000000000000)"`, err: ErrJSONType},
		{name: "bad base64", typ: "string", json: `{"base64":"@@"}`, err: ErrJSONType, msg: "bad base64"},
		{name: "string from null", typ: "string", json: `null`, err: ErrJSONType, msg: "got null"},
		{name: "union without name", typ: "memcache.Value", json: `{"value":"x","flags":1}`, err: ErrMissing, msg: `want "_" naming a constructor of memcache.Value`},
		{name: "union unknown name", typ: "memcache.Value", json: `{"_":"memcache.intvalue"}`, err: ErrUnknown, msg: `"memcache.intvalue" is not a constructor of memcache.Value`},
		{name: "union from number", typ: "memcache.Value", json: `3`, err: ErrJSONType},
		{name: "wrong _ on single constructor", typ: "%(Pair int int)", json: `{"_":"left","a":1,"b":2}`, err: ErrUnknown, msg: `"_" is string "left", want "pair"`},
		{name: "right _ on single constructor", typ: "%(Pair int int)", json: `{"_":"pair","a":1,"b":2}`},
		{name: "duplicate field", typ: "%(Pair int int)", json: `{"a":1,"a":1,"b":2}`, err: ErrSyntax, msg: "field a given twice"},
		{name: "unknown field", typ: "%(Pair int int)", json: `{"a":1,"b":2,"c":3}`, err: ErrUnknown, msg: `unknown field "c" (fields: a, b)`},
		{name: "tuple length", typ: "%(Tuple int 2)", json: `[1]`, err: ErrRange, msg: "array has 1 elements, its size is 2"},
		{name: "vector from object", typ: "%(Vector int)", json: `{"a":1}`, err: ErrJSONType, msg: "want an array, got an object"},
		{name: "dictionary int key", typ: "IntKeyDictionary int", json: `{"x":1}`, err: ErrJSONType, msg: `$.x: want an int, got "x"`},
		{name: "dictionary value path", typ: "Dictionary int", json: `{"a":1,"b c":"x"}`, err: ErrJSONType, msg: `$["b c"]: want an int`},
		{name: "dictionary as pairs", typ: "Dictionary int", json: `[{"key":"a","value":1}]`},
		{name: "true from false", typ: "True", json: `false`, err: ErrJSONType, msg: "want true or {} for True"},
		{name: "Bool from string", typ: "Bool", json: `"yes"`, err: ErrUnknown},
		{name: "Bool by name", typ: "Bool", json: `{"_":"boolTrue"}`},
		{name: "int256 length", c: corpusCodec(t, "telegram_api.tl"), typ: "Int256", json: `"00"`, err: ErrJSONType, msg: "want 64 hex digits"},
		{name: "nested call unknown", c: ec, typ: "engine.query", json: `{"query":{"_":"engine.nope"}}`, err: ErrUnknown, msg: `$.query: unknown function "engine.nope" (did you mean engine.nop`},
		{name: "nested call not object", c: ec, typ: "engine.Query", json: `{"_":"engine.query","query":1}`, err: ErrJSONType, msg: "$.query: want a call"},
		{name: "nested call", c: ec, typ: "engine.Query", json: `{"_":"engine.query","query":{"_":"engine.nop"}}`},
		{name: "empty vector", c: cc, typ: "%(Vector (Maybe True))", json: `[]`},
		{name: "true implied under nat argument mask", c: cc, typ: "%(RpcInvokeReqExtra 1)", json: `{}`},
		{name: "field under nat argument mask", c: cc, typ: "%(RpcInvokeReqExtra 0)", json: `{"no_result":true}`, err: ErrMask, msg: "field no_result is present but bit 7 of its mask (0) is clear"},
		{name: "too deep JSON", typ: "Maybe int", json: strings.Repeat("[", 200) + strings.Repeat("]", 200), err: ErrDepth},
		{name: "too deep value", typ: deepType, json: deep, err: ErrJSONType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cd := tc.c
			if cd == nil {
				cd = c
			}
			ty, err := cd.ParseType(tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			_, err = cd.EncodeValue(nil, ty, []byte(tc.json))
			if tc.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %T is not *Error", err)
			}
		})
	}
}

// TestDecodeErrors checks hostile binary input: sentinel, path, offset.
func TestDecodeErrors(t *testing.T) {
	c := memcacheCodec(t)
	tree := treeCodec(t)
	deep := bytes.Repeat(tltest.Unhex(t, "2a7725ad"), 100) // tree.node ... never ends
	tests := []struct {
		name string
		c    *Codec
		typ  string
		hex  string
		bin  []byte
		err  error
		msg  string
	}{
		{name: "empty", typ: "int", hex: "", err: tl.ErrTruncated, msg: "tljson: $ (offset 0): tl: truncated input"},
		{name: "truncated string", typ: "%(Vector string)", hex: "02000000 01610000 05616263", err: tl.ErrTruncated, msg: "$[1] (offset 8)"},
		{name: "bad padding", typ: "string", hex: "01610001", err: tl.ErrPadding},
		{name: "non-canonical length", typ: "string", hex: "fe010000 61000000", err: tl.ErrNonCanonical},
		{name: "Bool other tag", typ: "Bool", hex: "00000000", err: ErrUnknown, msg: "tag 00000000 is not a constructor of Bool (boolFalse, boolTrue)"},
		{name: "boxed int wrong tag", typ: "Int", hex: "ba6c0722 00000000", err: tl.ErrTag},
		{name: "trailing", typ: "int", hex: "00000000 00", err: ErrTrailing, msg: "offset 4"},
		{name: "huge count", typ: "%(Vector long)", hex: "ffffffff 00000000", err: tl.ErrTruncated},
		{name: "zero-size flood", typ: "%(Vector true)", hex: "ffffffff", err: ErrLimit},
		{name: "zero-size tuple flood", typ: "%(Tuple true 4000000000)", hex: "", err: ErrLimit},
		{name: "dictionary value path", typ: "%(Dictionary int)", hex: "01000000 01610000", err: tl.ErrTruncated, msg: "$.a (offset 8)"},
		{name: "not a function", typ: "engine.query", c: corpusCodec(t, "engine.tl"), hex: "1abbbea6", err: ErrUnknown, msg: "$.query (offset 0): tag a6bebb1a is not a function"},
		{name: "too deep", c: tree, typ: "Tree", bin: deep, err: ErrDepth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cd := tc.c
			if cd == nil {
				cd = c
			}
			bin := tc.bin
			if bin == nil {
				bin = tltest.Unhex(t, tc.hex)
			}
			_, err := cd.DecodeValue(mustType(t, cd, tc.typ), bin)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
		})
	}
}

// treeCodec is a recursive schema for depth tests.
func treeCodec(t *testing.T) *Codec {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tree.tl")
	if err := os.WriteFile(p, []byte("tree.leaf = Tree;\ntree.node l:Tree = Tree;\ntree.opt mask:# b:mask.0?Bool t:mask.1?true = tree.Opt;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return loadCodec(t, true, p)
}

// TestDepthLimit: nesting at MaxDepth-ish levels works, beyond it fails
// with ErrDepth on both sides.
func TestDepthLimit(t *testing.T) {
	c := treeCodec(t)
	ty := mustType(t, c, "Tree")
	node := c.s.Constructor("tree.node").Tag
	leaf := c.s.Constructor("tree.leaf").Tag
	build := func(n int) ([]byte, []byte) {
		var bin []byte
		for range n {
			bin = tl.AppendUint32(bin, node)
		}
		bin = tl.AppendUint32(bin, leaf)
		js := strings.Repeat(`{"_":"tree.node","l":`, n) + `{"_":"tree.leaf"}` + strings.Repeat("}", n)
		return bin, []byte(js)
	}
	tests := []struct {
		n   int
		err error
	}{{0, nil}, {MaxDepth - 1, nil}, {MaxDepth, ErrDepth}, {MaxDepth * 3, ErrDepth}}
	for _, tc := range tests {
		bin, js := build(tc.n)
		got, err := c.DecodeValue(ty, bin)
		if !errors.Is(err, tc.err) || tc.err == nil && string(got) != string(js) {
			t.Errorf("decode depth %d: %v, want %v", tc.n, err, tc.err)
		}
		enc, err := c.EncodeValue(nil, ty, js)
		if !errors.Is(err, tc.err) || tc.err == nil && !bytes.Equal(enc, bin) {
			t.Errorf("encode depth %d: %v, want %v", tc.n, err, tc.err)
		}
	}
}

// TestEncodeCallErrors covers call-level checks.
func TestEncodeCallErrors(t *testing.T) {
	c := corpusCodec(t, "common.tl")
	tests := []struct {
		name, fn, json string
		err            error
		msg            string
	}{
		{"name mismatch", "engine.nop", `{"_":"engine.readNop"}`, ErrUnknown, `"_" is string "engine.readNop", want "engine.nop"`},
		{"not an object", "engine.nop", `[]`, ErrJSONType, `want a call {"_":"function",...}, got an array`},
		{"mask only used as a nat argument", "rpcDestFlags", `{"extra":{},"query":{"_":"engine.nop"}}`, ErrMissing, "tljson: $: missing field flags"},
		{"inner call needs a name", "rpcDestActor", `{"actor_id":1,"query":{}}`, ErrMissing, `$.query: want "_" naming a function`},
		{"inner error path", "rpcDestActor", `{"actor_id":1,"query":{"_":"engine.sleep","time_ms":"x"}}`, ErrJSONType, `$.query.time_ms: want an int`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fn, err := c.Function(tc.fn)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.EncodeCall(nil, fn, []byte(tc.json))
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v, want %v containing %q", err, tc.err, tc.msg)
			}
		})
	}
	if _, err := c.Function("engine.nopp"); !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), "did you mean engine.nop") {
		t.Errorf("Function(engine.nopp) = %v", err)
	}
	if _, err := c.EncodeCall(nil, c.s.Constructor("true"), []byte(`{}`)); !errors.Is(err, ErrUnknown) {
		t.Errorf("EncodeCall(constructor) = %v", err)
	}
}

// TestMaskInferenceBool: false is a value for ?Bool (sets the bit) but the
// absence of a ?true field.
func TestMaskInferenceBool(t *testing.T) {
	c := treeCodec(t)
	ty := mustType(t, c, "tree.Opt")
	tag := c.s.Constructor("tree.opt").Tag
	tests := []struct {
		json string
		mask uint32
		tail string
	}{
		{`{"b":false}`, 1, "379779bc"},
		{`{"b":true,"t":true}`, 3, "b5757299"},
		{`{"t":false}`, 0, ""},
		{`{}`, 0, ""},
	}
	for _, tc := range tests {
		want := tl.AppendUint32(tl.AppendUint32(nil, tag), tc.mask)
		want = append(want, tltest.Unhex(t, tc.tail)...)
		got, err := c.EncodeValue(nil, ty, []byte(tc.json))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %x, %v; want %x", tc.json, got, err, want)
		}
	}
}

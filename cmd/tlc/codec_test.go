package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

const memcacheTL = "../../engines/memcache/memcache.tl"

// TestEncodeDecode runs "tlc encode" and "tlc decode" in process: the
// tl.md §5.8 vectors, the flag forms, and bad input with its message.
func TestEncodeDecode(t *testing.T) {
	dir := t.TempDir()
	extra := writeFile(t, dir, "extra.tl", "---functions---\n@read extra.echo v:memcache.Value = memcache.Value;\n")
	engineTL := filepath.Join(corpusDir, "engine.tl")
	commonTL := filepath.Join(corpusDir, "common.tl")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // exact when set
		stderr string // substring
	}{
		{name: "encode get", args: []string{"encode", "-schema", memcacheTL, "memcache.get", `{"key":"foo"}`},
			stdout: "ae133bd303666f6f\n"},
		{name: "encode set", args: []string{"encode", "-schema", memcacheTL, "memcache.set", `{"key":"foo","flags":0,"delay":0,"value":"bar"}`},
			stdout: "c454ebee03666f6f000000000000000003626172\n"},
		{name: "encode value", args: []string{"encode", "-schema", memcacheTL, "-type", "Dictionary string", `{"a":"b"}`},
			stdout: "8f614c1f010000000161000001620000\n"},
		{name: "encode repeated schema", args: []string{"encode", "-schema", memcacheTL, "-schema", extra, "extra.echo", `{"v":{"_":"memcache.strvalue","value":"bar","flags":1}}`},
			stdout: "269a5f0b1abbbea60362617201000000\n"},
		{name: "encode comma schema", args: []string{"encode", "-schema", memcacheTL + "," + extra, "extra.echo", `{"v":"memcache.not_found"}`},
			stdout: "269a5f0b2224c432\n"},
		{name: "encode nested call", args: []string{"encode", "-schema", commonTL, "rpcInvokeReq", `{"query_id":1,"query":{"_":"engine.nop"}}`},
			stdout: "3ddf74230100000000000000c6b76b16\n"},
		{name: "encode help", args: []string{"encode", "-h"}, stderr: "tlc encode -schema engines/memcache/memcache.tl memcache.get '{\"key\":\"foo\"}'\n  ae133bd303666f6f"},
		{name: "encode no schema", args: []string{"encode", "memcache.get", `{}`}, code: 2, stderr: "no -schema files"},
		{name: "encode arity", args: []string{"encode", "-schema", memcacheTL, "memcache.get"}, code: 2, stderr: "want 2 arguments, got 1"},
		{name: "encode unknown function", args: []string{"encode", "-schema", memcacheTL, "memcache.gte", `{}`}, code: 1,
			stderr: `unknown function "memcache.gte" (did you mean memcache.get`},
		{name: "encode bad JSON type shows path", args: []string{"encode", "-schema", memcacheTL, "memcache.getMulti", `{"keys":["a",2]}`}, code: 1,
			stderr: `tljson: $.keys[1]: want a string or {"base64":"..."}, got number 2`},
		{name: "encode JSON syntax", args: []string{"encode", "-schema", memcacheTL, "memcache.get", `{"key":`}, code: 1, stderr: "JSON: unexpected EOF"},
		{name: "encode missing field", args: []string{"encode", "-schema", memcacheTL, "memcache.set", `{"key":"a"}`}, code: 1,
			stderr: "tljson: $: missing field flags"},
		{name: "encode unknown field", args: []string{"encode", "-schema", memcacheTL, "memcache.get", `{"key":"a","ttl":1}`}, code: 1,
			stderr: `unknown field "ttl" (fields: key)`},
		{name: "encode bad type", args: []string{"encode", "-schema", memcacheTL, "-type", "Vector", `[]`}, code: 1,
			stderr: "Vector takes 1 arguments, got 0"},
		{name: "encode missing schema file", args: []string{"encode", "-schema", filepath.Join(dir, "none.tl"), "f", `{}`}, code: 1, stderr: "none.tl"},

		{name: "decode value with spaces", args: []string{"decode", "-schema", memcacheTL, "memcache.Value", "1abbbea6 03626172 01000000"},
			stdout: `{"_":"memcache.strvalue","value":"bar","flags":1}` + "\n"},
		{name: "decode dictionary", args: []string{"decode", "-schema", memcacheTL, "Dictionary string", "8f614c1f 01000000 01610000 01620000"},
			stdout: `{"a":"b"}` + "\n"},
		{name: "decode indent", args: []string{"decode", "-schema", memcacheTL, "-indent", "%(Vector int)", "02000000 05000000 00000000"},
			stdout: "[\n  5,\n  0\n]\n"},
		{name: "decode call", args: []string{"decode", "-schema", memcacheTL, "-call", "ae133bd3 03666f6f"},
			stdout: `{"_":"memcache.get","key":"foo"}` + "\n"},
		{name: "decode result", args: []string{"decode", "-schema", memcacheTL, "-result", "memcache.get", "-request", "ae133bd303666f6f", "2224c432"},
			stdout: `{"_":"memcache.not_found"}` + "\n"},
		{name: "decode result binds request nats", args: []string{"decode", "-schema", engineTL, "-result", "engine.getReadWriteMode", "-request", "93f5b361 02000000", "c9b6b7b9 379779bc"},
			stdout: `{"write_enabled":false}` + "\n"},
		{name: "decode result of another call", args: []string{"decode", "-schema", memcacheTL, "-result", "memcache.set", "-request", "ae133bd303666f6f", "2224c432"}, code: 1,
			stderr: "request calls memcache.get, not memcache.set"},
		{name: "decode odd hex", args: []string{"decode", "-schema", memcacheTL, "int", "010"}, code: 1, stderr: "odd number of hex digits (3)"},
		{name: "decode bad hex", args: []string{"decode", "-schema", memcacheTL, "int", "zz000000"}, code: 1, stderr: "bad hex"},
		{name: "decode truncated", args: []string{"decode", "-schema", memcacheTL, "memcache.Value", "1abbbea6 03626172"}, code: 1,
			stderr: "tljson: $.flags (offset 8): tl: truncated input"},
		{name: "decode trailing", args: []string{"decode", "-schema", memcacheTL, "Bool", "b5757299 00000000"}, code: 1,
			stderr: "tljson: $ (offset 4): 4 bytes after the value"},
		{name: "decode unknown tag", args: []string{"decode", "-schema", memcacheTL, "memcache.Value", "01020304"}, code: 1,
			stderr: "tag 04030201 is not a constructor of memcache.Value (memcache.not_found, memcache.strvalue, memcache.longvalue)"},
		{name: "decode unknown type", args: []string{"decode", "-schema", memcacheTL, "memcache.Valu", "00"}, code: 1, stderr: "unknown type memcache.Valu"},
		{name: "decode call and result", args: []string{"decode", "-schema", memcacheTL, "-call", "-result", "memcache.get", "-request", "00", "00"}, code: 2,
			stderr: "exclude each other"},
		{name: "decode result without request", args: []string{"decode", "-schema", memcacheTL, "-result", "memcache.get", "00"}, code: 2,
			stderr: "go together"},
		{name: "decode arity", args: []string{"decode", "-schema", memcacheTL, "int"}, code: 2, stderr: "want 2 arguments, got 1"},
		{name: "decode help", args: []string{"decode", "-h"}, stderr: "tlc decode -schema engines/memcache/memcache.tl -call ae133bd303666f6f"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if tc.stdout != "" && stdout.String() != tc.stdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.stdout)
			}
			if tc.code != 0 && stdout.Len() != 0 {
				t.Errorf("stdout %q on failure", stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.stderr)
			}
		})
	}
}

// TestEncodeDecodeRoundTrip feeds tlc decode's output back to tlc encode.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	calls := []string{
		"c454ebee 03666f6f 00000000 00000000 03626172",
		"d978499b 02000000 01610000 02626300",
		"50c9e680 03666f6f ffffffffffffffff",
	}
	for _, h := range calls {
		var js, stderr, hexOut bytes.Buffer
		if code := run([]string{"decode", "-schema", memcacheTL, "-indent", "-call", h}, &js, &stderr); code != 0 {
			t.Fatalf("decode %s: %s", h, stderr.String())
		}
		name := strings.Split(strings.Split(js.String(), `"_": "`)[1], `"`)[0]
		if code := run([]string{"encode", "-schema", memcacheTL, name, js.String()}, &hexOut, &stderr); code != 0 {
			t.Fatalf("encode %s: %s", js.String(), stderr.String())
		}
		if got, want := strings.TrimSpace(hexOut.String()), strings.ReplaceAll(h, " ", ""); got != want {
			t.Errorf("round trip %s -> %s -> %s", want, js.String(), got)
		}
	}
}

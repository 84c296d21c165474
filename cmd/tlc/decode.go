package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// runDecode implements "tlc decode": TL1 hex in, JSON out.
func runDecode(args []string, stdout, stderr io.Writer) int {
	var files schemaFiles
	fs := codecFlags("tlc decode", &files, stderr)
	call := fs.Bool("call", false, "HEX is a boxed function call; no TYPE")
	result := fs.String("result", "", "HEX is the answer to a call of `FUNCTION`; needs -request; no TYPE")
	request := fs.String("request", "", "the request (boxed call, `HEX`) whose answer -result decodes")
	indent := fs.Bool("indent", false, "pretty-print the JSON")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: tlc decode -schema FILE[,FILE...] [-indent] TYPE HEX\n")
		fmt.Fprintf(w, "       tlc decode -schema FILE[,FILE...] [-indent] -call HEX\n")
		fmt.Fprintf(w, "       tlc decode -schema FILE[,FILE...] [-indent] -result FUNCTION -request HEX HEX\n\n")
		fmt.Fprintf(w, "Prints a TL1 value as JSON. TYPE is a type expression such as 'memcache.Value',\n")
		fmt.Fprintf(w, "'Vector int' or '%%(Dictionary long)'. HEX may contain spaces.\n")
		fmt.Fprintf(w, "A result is decoded with the request's '#' fields bound (tl.md §3.4).\n\n")
		fmt.Fprintf(w, "examples:\n")
		fmt.Fprintf(w, "  tlc decode -schema engines/memcache/memcache.tl memcache.Value '1abbbea6 03626172 01000000'\n")
		fmt.Fprintf(w, "  {\"_\":\"memcache.strvalue\",\"value\":\"bar\",\"flags\":1}\n")
		fmt.Fprintf(w, "  tlc decode -schema engines/memcache/memcache.tl -call ae133bd303666f6f\n")
		fmt.Fprintf(w, "  {\"_\":\"memcache.get\",\"key\":\"foo\"}\n")
		fmt.Fprintf(w, "  tlc decode -schema engines/memcache/memcache.tl -result memcache.get -request ae133bd303666f6f 2224c432\n")
		fmt.Fprintf(w, "  {\"_\":\"memcache.not_found\"}\n\nflags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *call && *result != "" {
		fmt.Fprintf(stderr, "tlc decode: -call and -result exclude each other\n")
		return exitUsage
	}
	if (*result == "") != (*request == "") {
		fmt.Fprintf(stderr, "tlc decode: -result and -request go together\n")
		return exitUsage
	}
	want := 2
	if *call || *result != "" {
		want = 1
	}
	if !checkOperands(fs, files, want, stderr) {
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "tlc decode: %v\n", err)
		return exitError
	}
	bin, err := parseHex(fs.Arg(fs.NArg() - 1))
	if err != nil {
		return fail(err)
	}
	c, err := loadCodec(files)
	if err != nil {
		return fail(err)
	}
	var js []byte
	switch {
	case *call:
		js, err = c.DecodeCall(bin)
	case *result != "":
		fn, ferr := c.Function(*result)
		if ferr != nil {
			return fail(ferr)
		}
		req, herr := parseHex(*request)
		if herr != nil {
			return fail(fmt.Errorf("-request: %w", herr))
		}
		js, err = c.DecodeResult(fn, req, bin)
	default:
		t, terr := c.ParseType(fs.Arg(0))
		if terr != nil {
			return fail(terr)
		}
		js, err = c.DecodeValue(t, bin)
	}
	if err != nil {
		return fail(err)
	}
	if *indent {
		var b bytes.Buffer
		if err := json.Indent(&b, js, "", "  "); err != nil {
			return fail(err)
		}
		js = b.Bytes()
	}
	stdout.Write(js)
	fmt.Fprintln(stdout)
	return exitOK
}

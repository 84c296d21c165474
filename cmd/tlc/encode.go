package main

import (
	"fmt"
	"io"

	"github.com/rpcproxy/rpcproxy/tl/schema"
	"github.com/rpcproxy/rpcproxy/tl/tljson"
)

// runEncode implements "tlc encode": JSON in, TL1 hex out.
func runEncode(args []string, stdout, stderr io.Writer) int {
	var files schemaFiles
	fs := codecFlags("tlc encode", &files, stderr)
	typ := fs.String("type", "", "encode a value of this type `expression` instead of a function call")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: tlc encode -schema FILE[,FILE...] FUNCTION JSON\n")
		fmt.Fprintf(w, "       tlc encode -schema FILE[,FILE...] -type TYPE JSON\n\n")
		fmt.Fprintf(w, "Prints the boxed call (function tag, then arguments) or the value as lower-case hex.\n")
		fmt.Fprintf(w, "JSON holds the arguments as an object; see 'go doc github.com/rpcproxy/rpcproxy/tl/tljson' for the mapping.\n\n")
		fmt.Fprintf(w, "examples:\n")
		fmt.Fprintf(w, "  tlc encode -schema engines/memcache/memcache.tl memcache.get '{\"key\":\"foo\"}'\n  ae133bd303666f6f\n")
		fmt.Fprintf(w, "  tlc encode -schema engines/memcache/memcache.tl -type 'Dictionary string' '{\"a\":\"b\"}'\n  8f614c1f010000000161000001620000\n\nflags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	want := 2
	if *typ != "" {
		want = 1
	}
	if !checkOperands(fs, files, want, stderr) {
		return exitUsage
	}
	c, err := loadCodec(files)
	if err != nil {
		fmt.Fprintf(stderr, "tlc encode: %v\n", err)
		return exitError
	}
	var out []byte
	if *typ != "" {
		var t *tljson.Type
		if t, err = c.ParseType(*typ); err == nil {
			out, err = c.EncodeValue(nil, t, []byte(fs.Arg(0)))
		}
	} else {
		var fn *schema.Combinator
		if fn, err = c.Function(fs.Arg(0)); err == nil {
			out, err = c.EncodeCall(nil, fn, []byte(fs.Arg(1)))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "tlc encode: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "%x\n", out)
	return exitOK
}

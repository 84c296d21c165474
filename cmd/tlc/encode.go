package main

import (
	"flag"
	"fmt"
	"io"
)

// runEncode implements "tlc encode": JSON in, TL1 hex out.
func runEncode(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tlc encode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files schemaFiles
	fs.Var(&files, "schema", "schema `FILE[,FILE...]` (repeatable); the prelude supplies missing standard types")
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
	if fs.NArg() != want {
		fmt.Fprintf(stderr, "tlc encode: want %d arguments, got %d\n", want, fs.NArg())
		fs.Usage()
		return exitUsage
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "tlc encode: no -schema files\n")
		return exitUsage
	}
	c, err := loadCodec(files)
	if err != nil {
		fmt.Fprintf(stderr, "tlc encode: %v\n", err)
		return exitError
	}
	var out []byte
	if *typ != "" {
		t, err := c.ParseType(*typ)
		if err == nil {
			out, err = c.EncodeValue(nil, t, []byte(fs.Arg(0)))
		}
		if err != nil {
			fmt.Fprintf(stderr, "tlc encode: %v\n", err)
			return exitError
		}
	} else {
		fn, err := c.Function(fs.Arg(0))
		if err == nil {
			out, err = c.EncodeCall(nil, fn, []byte(fs.Arg(1)))
		}
		if err != nil {
			fmt.Fprintf(stderr, "tlc encode: %v\n", err)
			return exitError
		}
	}
	fmt.Fprintf(stdout, "%x\n", out)
	return exitOK
}

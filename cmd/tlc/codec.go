package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/rpcproxy/rpcproxy/tl/schema"
	"github.com/rpcproxy/rpcproxy/tl/tljson"
)

// schemaFiles is a repeatable -schema flag; each value may hold several
// comma-separated paths.
type schemaFiles []string

func (s *schemaFiles) String() string { return strings.Join(*s, ",") }

func (s *schemaFiles) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// codecFlags returns the flag set of a codec subcommand (name is "tlc
// encode" or "tlc decode"), writing to stderr, with -schema bound to files.
func codecFlags(name string, files *schemaFiles, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(files, "schema", "schema `FILE[,FILE...]` (repeatable); the prelude supplies missing standard types")
	return fs
}

// checkOperands reports a usage error on stderr and returns false unless
// fs was left want arguments and files names at least one schema.
func checkOperands(fs *flag.FlagSet, files schemaFiles, want int, stderr io.Writer) bool {
	if fs.NArg() != want {
		fmt.Fprintf(stderr, "%s: want %d arguments, got %d\n", fs.Name(), want, fs.NArg())
		fs.Usage()
		return false
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "%s: no -schema files\n", fs.Name())
		return false
	}
	return true
}

// loadCodec resolves the schema files with the prelude, which supplies
// only the standard types the files do not declare themselves.
func loadCodec(files schemaFiles) (*tljson.Codec, error) {
	if len(files) == 0 {
		return nil, errors.New("no -schema files")
	}
	s, err := schema.LoadWithPrelude(files...)
	if err != nil {
		return nil, err
	}
	return tljson.New(s), nil
}

// parseHex decodes hex digits, ignoring white space, so that dumps like
// "ae133bd3 03666f6f" can be pasted as they are.
func parseHex(s string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, s)
	clean = strings.TrimPrefix(clean, "0x")
	if len(clean)%2 != 0 {
		return nil, fmt.Errorf("odd number of hex digits (%d)", len(clean))
	}
	b, err := hex.DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("bad hex: %w", err)
	}
	return b, nil
}

// parseFlags parses a subcommand's flags; ok is false when the caller
// should return code (help printed, or a usage error).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return exitOK, true
}

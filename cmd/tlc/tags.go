package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// runTags implements "tlc tags": one tab-separated line per declaration,
// "file kind name explicit_tag vk_computed vk_canonical", in the layout of
// ../shared/tl/expected-tags.tsv (without its tg_computed column).
func runTags(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tlc tags", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dialect := fs.String("dialect", "auto", "lexical dialect: vk, telegram, or auto (vk, then telegram)")
	header := fs.Bool("header", false, "print a header line first")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: tlc tags [flags] FILE...\n\n")
		fmt.Fprintf(w, "Prints one tab-separated line per declaration:\n")
		fmt.Fprintf(w, "  file kind name explicit_tag vk_computed vk_canonical\n")
		fmt.Fprintf(w, "kind is constructor or function; explicit_tag is '-' when none is written;\n")
		fmt.Fprintf(w, "vk_computed is crc32 of vk_canonical (tl.md §4.1); file is the base name.\n\n")
		fmt.Fprintf(w, "example:\n  tlc tags ../shared/tl/engine.tl\n  engine.tl\tconstructor\tvectorTotal\t-\t10133f47\tvectorTotal t:Type total_count:int vector:%%Vector t = VectorTotal t\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	parse, ok := parserFor(*dialect)
	if !ok {
		fmt.Fprintf(stderr, "tlc tags: unknown dialect %q (want vk, telegram or auto)\n", *dialect)
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "tlc tags: no files\n")
		fs.Usage()
		return exitUsage
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	if *header {
		fmt.Fprintf(w, "file\tkind\tname\texplicit_tag\tvk_computed\tvk_canonical\n")
	}
	code := exitOK
	for _, path := range fs.Args() {
		src, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "tlc tags: %v\n", err)
			code = exitError
			continue
		}
		base := filepath.Base(path)
		f, err := parse(base, src)
		if err != nil {
			fmt.Fprintf(stderr, "tlc tags: %v\n", err)
			code = exitError
			continue
		}
		for _, d := range f.Decls {
			kind, explicit := "constructor", "-"
			if d.Function {
				kind = "function"
			}
			if d.HasTag {
				explicit = fmt.Sprintf("%08x", d.Tag)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%08x\t%s\n", base, kind, d.Name, explicit, d.ComputedTag(schema.RuleVK), d.Canonical(schema.RuleVK))
		}
	}
	return code
}

func parserFor(dialect string) (func(string, []byte) (*schema.File, error), bool) {
	switch dialect {
	case "auto":
		return schema.ParseAuto, true
	case "vk":
		return schema.Parse, true
	case "telegram":
		return func(name string, src []byte) (*schema.File, error) {
			return schema.ParseDialect(name, src, schema.Telegram)
		}, true
	}
	return nil, false
}

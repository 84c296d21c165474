// Command tlc is the TL schema tool. Subcommands:
//
//	tlc tags FILE...                          print every declaration's tags and canonical text
//	tlc encode -schema FILE FUNCTION JSON      encode a function call (or -type T JSON) as hex
//	tlc decode -schema FILE TYPE HEX           decode a value (or -call HEX, -result F -request HEX HEX) as JSON
//
// Each subcommand is a run function with its own flag set; adding one means
// adding an entry to commands().
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one tlc subcommand.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{name: "tags", summary: "print tags and canonical text of every declaration", run: runTags},
		{name: "encode", summary: "encode a function call or a value from JSON to TL1 hex", run: runEncode},
		{name: "decode", summary: "decode TL1 hex (a value, a call or a result) to JSON", run: runDecode},
	}
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the input was bad (parse error, unreadable file)
	exitUsage = 2 // the command line was bad
)

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: tlc <command> [arguments]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'tlc <command> -h' for a command's usage.\n")
	fmt.Fprintf(w, "example:\n  tlc tags ../shared/tl/engine.tl\n")
	fmt.Fprintf(w, "  tlc encode -schema engines/memcache/memcache.tl memcache.get '{\"key\":\"foo\"}'\n")
}

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "tlc: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes of every subcommand.
const (
	exitOK      = 0
	exitProblem = 1
	exitUsage   = 2
)

// command is one subcommand. run gets the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands in the order usage shows them; a new
// subcommand is one more entry here.
func commands() []command {
	return []command{
		{"check", "validate a config file and print what it means", runCheck},
		{"route", "show the shard and replicas that keys go to", runRoute},
		{"serve", "run the proxy", runServe},
	}
}

// run dispatches to a subcommand and returns the process exit code. It
// writes only to stdout and stderr, so tests run it in-process.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "help":
		if len(args) == 1 {
			usage(stdout)
			return exitOK
		}
		// "help check" is "check -h".
		name, args = args[1], []string{args[1], "-h"}
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "rpcproxy: unknown command %q\n\n", name)
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "rpcproxy is a TL RPC proxy sidecar.\n\nUsage:\n  rpcproxy <command> [flags] [args]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun \"rpcproxy <command> -h\" (or \"rpcproxy help <command>\") for a command's flags and an example.\n")
	fmt.Fprintf(w, "Example:\n  rpcproxy check -config configs/demo.toml\n")
}

// parseFlags parses a subcommand's flags. -h prints help to stdout and a
// flag error prints it with help to stderr; done reports that the command
// should return code at once.
func parseFlags(fs *flag.FlagSet, help string, args []string, stdout, stderr io.Writer) (code int, done bool) {
	fs.SetOutput(stderr) // where the flag package prints its own parse errors
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printHelp(stdout, fs, help)
		return exitOK, true
	case err != nil:
		printHelp(stderr, fs, help)
		return exitUsage, true
	}
	return exitOK, false
}

func printHelp(w io.Writer, fs *flag.FlagSet, help string) {
	fmt.Fprintln(w, strings.TrimSpace(help))
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Exit codes every command uses for these two cases.
const (
	ExitOK    = 0
	ExitUsage = 2 // the command line was bad
)

// Parse parses args with fs, whose output is where bad flags are reported
// (stderr). -h prints fs.Usage once, to stdout. done is true when the
// command must return code now: after help, or after a bad flag (reported
// with the usage by the flag package).
func Parse(fs *flag.FlagSet, args []string, stdout io.Writer) (code int, done bool) {
	usage := fs.Usage
	fs.Usage = func() {} // the flag package would print it to stderr on -h as well
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		errOut := fs.Output()
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(errOut)
		return ExitOK, true
	case err != nil:
		fs.Usage()
		return ExitUsage, true
	}
	return ExitOK, false
}

// UsageError reports a bad command line on w: "prog: message", then where
// the usage is.
func UsageError(w io.Writer, prog, format string, a ...any) {
	fmt.Fprintf(w, prog+": "+format+"\n", a...)
	fmt.Fprintf(w, "run '%s -h' for usage and examples\n", prog)
}

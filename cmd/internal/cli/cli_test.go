package cli

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name           string
		args           []string
		code           int
		done           bool
		stdout, stderr string // contained; "" means empty
	}{
		{"flags", []string{"-n", "3", "rest"}, ExitOK, false, "", ""},
		{"help goes to stdout once", []string{"-h"}, ExitOK, true, "usage: prog", ""},
		{"bad flag: error and usage on stderr", []string{"-nope"}, ExitUsage, true, "", "flag provided but not defined: -nope\nusage: prog"},
		{"bad value", []string{"-n", "x"}, ExitUsage, true, "", "invalid value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			fs := flag.NewFlagSet("prog", flag.ContinueOnError)
			fs.SetOutput(&stderr)
			n := fs.Int("n", 0, "a number")
			fs.Usage = func() { fs.Output().Write([]byte("usage: prog [-n N]\n")) }
			code, done := Parse(fs, tc.args, &stdout)
			if code != tc.code || done != tc.done {
				t.Fatalf("code %d done %v, want %d %v", code, done, tc.code, tc.done)
			}
			for _, c := range []struct {
				name, got, want string
			}{{"stdout", stdout.String(), tc.stdout}, {"stderr", stderr.String(), tc.stderr}} {
				switch {
				case c.want == "" && c.got != "":
					t.Errorf("%s %q, want nothing", c.name, c.got)
				case !strings.Contains(c.got, c.want):
					t.Errorf("%s %q, want it to contain %q", c.name, c.got, c.want)
				}
				if c.want != "" && strings.Count(c.got, "usage: prog") > 1 {
					t.Errorf("%s has the usage more than once: %q", c.name, c.got)
				}
			}
			if !done && (*n != 3 || fs.Arg(0) != "rest") {
				t.Errorf("parsed n=%d args=%q", *n, fs.Args())
			}
			if fs.Output() != &stderr {
				t.Error("Parse left the flag set's output changed")
			}
		})
	}
}

func TestUsageError(t *testing.T) {
	var w bytes.Buffer
	UsageError(&w, "prog", "-c %d outside [1, %d]", 0, 9)
	if want := "prog: -c 0 outside [1, 9]\nrun 'prog -h' for usage and examples\n"; w.String() != want {
		t.Errorf("got %q, want %q", w.String(), want)
	}
}

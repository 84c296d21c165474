// Package cli holds the command-line conventions the commands share:
// their exit codes for success and usage errors, -h printed once to
// standard output with exit 0, and usage errors that name the program and
// point to its -h.
//
// Invariant: help asked for with -h goes to stdout only; a bad flag is
// reported on stderr with the usage, and never reaches stdout.
package cli

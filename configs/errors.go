package configs

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a config file. Line and Col are 1-based;
// zero means the problem belongs to the file as a whole (for example, a
// required section that is missing entirely).
type Problem struct {
	File string // the file name as given to Load or Parse
	Line int
	Col  int
	Path string // the key path, e.g. "cluster[1].shards[0].replicas"
	Msg  string // the bad value and what is allowed
}

// String formats the problem the way compilers do ("file:line:col: path: msg")
// so that editors and CI annotators can jump to it.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, ":%d", p.Col)
		}
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error is every problem found in one config file. Load and Parse return it
// (as *Error) whenever the file was read but is not a valid config, so the
// admin sees all mistakes in one run instead of fixing them one at a time.
type Error struct {
	Problems []Problem // sorted by line, then in the order they were found
}

// Error prints one line per problem. The lines are not prefixed with
// "configs:" because each already starts with the file name, which is what
// an admin needs to find the mistake.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects Problems while a file is decoded; lines are filled in
// at the end from the key positions of the source.
type problems struct {
	list   []Problem
	tables []*table // every table read, so tests can see which keys each knows
}

func (ps *problems) add(path, format string, args ...any) {
	ps.list = append(ps.list, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// result attaches the file name and the line of each problem's key (or of its
// nearest enclosing table when the key itself is absent) and returns nil when
// there is nothing to report.
func (ps *problems) result(file string, lines keyLines) error {
	if len(ps.list) == 0 {
		return nil
	}
	out := make([]Problem, len(ps.list))
	for i, p := range ps.list {
		p.File = file
		p.Line = lines.lineOf(p.Path)
		out[i] = p
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return &Error{Problems: out}
}

package schema

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		dialect Dialect
		wantErr string
	}{
		{"lone CR", "x = X;\ry = Y;", VK, "x.tl:1:7: lone carriage return"},
		{"block comment in VK", "/* c */ x = X;", VK, "x.tl:1:1: multiline comments are not part of the VK TL language"},
		{"unterminated block comment", "x = X; /* c", Telegram, "x.tl:1:8: unterminated /* comment"},
		{"short tag in VK", "x#1234567 = X;", VK, "x.tl:1:2: explicit tag #1234567 must have exactly 8 hex digits"},
		{"upper-case tag in VK", "x#ABCDEF01 = X;", VK, "x.tl:1:2: explicit tag #ABCDEF01 must be lower-case hex"},
		{"long tag in Telegram", "x#123456789 = X;", Telegram, "x.tl:1:2: explicit tag #123456789 has more than 8 hex digits"},
		{"non-hex tag", "x#1234567g = X;", VK, "x.tl:1:2: explicit tag #1234567g is not hexadecimal"},
		{"leading underscore", "_x = X;", VK, "x.tl:1:1: identifier cannot start with '_'"},
		{"two-level namespace", "a.b.c = X;", VK, "x.tl:1:1: namespaces have exactly one level"},
		{"upper-case namespace", "A.b = X;", VK, `x.tl:1:1: namespace "A" must start with a lower-case letter`},
		{"bad section mark", "--- types ---\nx = X;", VK, "x.tl:1:1: expected ---types--- or ---functions---"},
		{"bad annotation", "@Read x = X;", VK, "x.tl:1:1: annotation @Read must be lower case"},
		{"unexpected char", "x a:int$ = X;", VK, `x.tl:1:8: unexpected character '$'`},
		{"number overflow", "x a:4294967296*[int] = X;", VK, "x.tl:1:5: number 4294967296 does not fit in 32 bits"},
		{"missing type after colon", "x fields_mask:= X;", VK, `x.tl:1:15: expected field type after "fields_mask:", got "="`},
		{"missing semicolon", "x = X\ny = Y;", VK, `x.tl:2:3: expected ';', got "="`},
		{"eof in fields", "x a:int", VK, "x.tl:1:8: expected field, '=' or '=>', got end of file"},
		{"upper-case combinator", "X = X;", VK, `x.tl:1:1: expected combinator name (lower-case identifier), got "X"`},
		{"bad param kind", "x {t:Int} = X t;", VK, `x.tl:1:6: expected 'Type' or '#', got "Int"`},
		{"builtin in functions", "---functions---\nx ? = X;", VK, "x.tl:2:3: builtin body '?' is only allowed in the types section"},
		{"builtin with arrow", "x ? => X;", VK, `x.tl:1:5: expected '=' after builtin '?', got "=>"`},
		{"lower-case ctor result", "x = x;", VK, "x.tl:1:5: constructor result must be an upper-case type name"},
		{"ctor result expression", "x {t:Type} = X (Vector t);", VK, "x.tl:1:16: constructor result arguments must be template parameter names"},
		{"empty brackets", "x n:# a:n*[] = X;", VK, "x.tl:1:12: empty brackets []"},
		{"mask without bit", "x f:# a:f.?int = X;", VK, `x.tl:1:11: expected fields-mask bit number after '.', got "?"`},
		{"unclosed paren", "x a:(Vector int = X;", VK, `x.tl:1:17: expected ')', got "="`},
		{"unclosed angle", "x a:Vector<int = X;", VK, `x.tl:1:16: expected ',' or '>', got "="`},
		{"percent outside parens before hash", "x a:%(#) = X;", VK, "x.tl:1:5: '%' cannot apply to '#'"},
		{"percent inside parens before hash", "x a:(%#) = X;", VK, "x.tl:1:6: '%' must be followed by a type name or '('"},
		{"nat sum overflow", "x a:(4294967295+1)*[int] = X;", VK, "x.tl:1:6: nat expression overflows 32 bits"},
		{"too deep", "x a:" + strings.Repeat("(", 100) + "int" + strings.Repeat(")", 100) + " = X;", VK, "nesting deeper than 64 levels"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDialect("x.tl", []byte(tc.src), tc.dialect)
			if err == nil {
				t.Fatalf("no error, want %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tc.wantErr)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v is not ErrSyntax", err)
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Pos.Line == 0 || pe.Pos.Col == 0 || pe.Pos.File != "x.tl" {
				t.Errorf("error %v has no position", err)
			}
		})
	}
}

// TestParseShapes checks syntax trees for the tricky cases of tl.md §2 and §9.12.
func TestParseShapes(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		dialect Dialect
		check   func(t *testing.T, f *File)
	}{
		{"CRLF and comments after fields", "x#0000000a // c\r\n a:int // c\r\n b:long\r\n = X;\r\n", VK, func(t *testing.T, f *File) {
			d := f.Decls[0]
			if d.Tag != 10 || !d.HasTag || len(d.Fields) != 2 || d.Fields[1].Name != "b" || d.Fields[1].Pos.Line != 3 {
				t.Errorf("got %+v", d)
			}
		}},
		{"fields_mask.0 is ident dot number, ns.Name glued", "x fields_mask:# a:fields_mask.0?ns.Name = X;", VK, func(t *testing.T, f *File) {
			fd := f.Decls[0].Fields[1]
			if !fd.HasMask || fd.Mask != "fields_mask" || fd.Bit != 0 || fd.Type.Name != "ns.Name" {
				t.Errorf("got %+v", fd)
			}
		}},
		{"field type is a single term", "x a:Vector int = X;", VK, func(t *testing.T, f *File) {
			fs := f.Decls[0].Fields
			if len(fs) != 2 || fs[0].Type.Name != "Vector" || len(fs[0].Type.Args) != 0 || fs[1].Name != "" || fs[1].Type.Name != "int" {
				t.Errorf("got %d fields", len(fs))
			}
		}},
		{"sections alternate, => forces function", "a = A;\n---functions---\nb = A;\n---types---\nc = A;\nd => A;", VK, func(t *testing.T, f *File) {
			want := []bool{false, true, false, true}
			for i, d := range f.Decls {
				if d.Function != want[i] {
					t.Errorf("%s: function=%v", d.Name, d.Function)
				}
			}
		}},
		{"percent inside and outside parens", "x a:%(Vector t) b:(%Vector t) = X;", VK, func(t *testing.T, f *File) {
			for _, fd := range f.Decls[0].Fields {
				if !fd.Type.Bare || fd.Type.Name != "Vector" || len(fd.Type.Args) != 1 {
					t.Errorf("%s: %+v", fd.Name, fd.Type)
				}
			}
		}},
		{"annotations and default constructor", "@read @write _ {X:Type} result:X = R X;", VK, func(t *testing.T, f *File) {
			d := f.Decls[0]
			if d.Name != "_" || strings.Join(d.Annotations, ",") != "read,write" || len(d.Params) != 1 {
				t.Errorf("got %+v", d)
			}
		}},
		{"Telegram short tag zero-extended, spaced section", "x#37c9330 = X;\n--- functions ---\ny = X;\n/* c */", Telegram, func(t *testing.T, f *File) {
			if f.Decls[0].Tag != 0x037c9330 || !f.Decls[1].Function {
				t.Errorf("got %+v", f.Decls)
			}
		}},
		{"constant scales and nested arrays", "x a:(1+2)*[b:2*[int]] c:3*[int] = X;", VK, func(t *testing.T, f *File) {
			a := f.Decls[0].Fields[0].Type
			if a.Kind != TermArray || a.Scale.Num != 3 || a.Fields[0].Type.Scale.Num != 2 {
				t.Errorf("got %+v", a)
			}
		}},
		{"exclamation and mask order", "---functions---\nx {X:Type} f:# q:f.3?!X = X;", VK, func(t *testing.T, f *File) {
			fd := f.Decls[0].Fields[1]
			if !fd.Excl || fd.Bit != 3 {
				t.Errorf("got %+v", fd)
			}
		}},
		{"angle args with nat", "x a:Tuple<int,3> = X;", VK, func(t *testing.T, f *File) {
			ty := f.Decls[0].Fields[0].Type
			if len(ty.Args) != 2 || ty.Args[1].Kind != TermNum || ty.Args[1].Num != 3 {
				t.Errorf("got %+v", ty)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseDialect("x.tl", []byte(tc.src), tc.dialect)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, f)
		})
	}
}

func TestCorpusParses(t *testing.T) {
	tests := []struct {
		file    string
		dialect Dialect
		decls   int
	}{
		{"common.tl", VK, 55},
		{"rpc.tl", VK, 53},
		{"engine.tl", VK, 70},
		{"telegram_api.tl", Telegram, 2468},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f := parseCorpus(t, tc.file)
			if f.Dialect != tc.dialect || len(f.Decls) != tc.decls {
				t.Errorf("dialect %v, %d decls; want %v, %d", f.Dialect, len(f.Decls), tc.dialect, tc.decls)
			}
		})
	}
}

package schema

import (
	"errors"
	"testing"
)

// fuzzSeeds are the tricky cases of tl.md §2 and §9.12; the same texts are
// committed under testdata/fuzz as the seed corpus.
var fuzzSeeds = []string{
	"memcache.set key:string flags:int delay:int value:string = Bool;",
	"dictionary#1f4c618f {t:Type} %(Vector %(DictionaryField t)) = Dictionary t;",
	"x#0000000a // c\r\n a:int // c\r\n b:long\r\n = X;\r\n",
	"x fields_mask:# a:fields_mask.0?ns.Name b:fields_mask.31?%(Vector Int) = X;",
	"x a:Vector int = X;",
	"a = A;\n---functions---\nb = A;\n---types---\nc = A;\nd => A;",
	"x#37c9330 = X;\n--- functions ---\ny = X;",
	"_ {X:Type} result:X = ReqResult X;\nreqError#b527877d {X:Type} error_code:int error:string = ReqResult X;",
	"---functions---\n@any @internal engine.sendResponseTo {X:Type} pid:%net.Pid query:!X = Bool;",
	"vector#1cb5c415 {t:Type} # [t] = Vector t;\ntuple#9770768a {t:Type} {n:#} [t] = Tuple t n;",
	"x n:# a:n*[k:int v:2*[int]] c:(1+2)*[int] d:(Tuple # 8) e:Vector<long> = X;",
	"int#a8509bda ? = Int;\nbytes = Bytes;\nx a:bytes b:flags.0?true = X;",
	"engine.mode {fields_mask:#} read_enabled:fields_mask.0?Bool = engine.ReadWriteMode fields_mask;\n---functions---\nengine.getReadWriteMode fields_mask:# = engine.ReadWriteMode fields_mask;",
	"---functions---\nengine.getBinlogPrefixes = Vector %engine.BinlogPrefix;",
	"x a:(vector %(pair int X)) = X;\r\ny = Y;\r",
	"/* c */ x#1 = X;",
	"x a:%(#) b:(%#) c:[] = X;",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, d := range []Dialect{VK, Telegram} {
			file, err := ParseDialect("f.tl", src, d)
			if err != nil {
				checkPositioned(t, err, ErrSyntax)
				continue
			}
			for _, decl := range file.Decls {
				canon := decl.Canonical(RuleVK)
				_ = decl.Canonical(RuleTelegram)
				// The canonical text is a fixpoint whenever it parses again.
				again := canon + ";"
				if decl.Function {
					again = "---functions---\n" + again
				}
				if f2, err := Parse("g.tl", []byte(again)); err == nil && len(f2.Decls) == 1 {
					if c2 := f2.Decls[0].Canonical(RuleVK); c2 != canon {
						t.Errorf("canonical %q re-parses to %q", canon, c2)
					}
				}
			}
		}
	})
}

func FuzzResolve(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, src []byte, prelude bool) {
		file, err := ParseAuto("f.tl", src)
		if err != nil {
			return
		}
		files := []*File{file}
		if prelude {
			files = append([]*File{Prelude()}, files...)
		}
		s, err := Resolve(files...)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 || len(list) > maxErrors {
				t.Fatalf("error %v is not a non-empty capped ErrorList", err)
			}
			for _, e := range list {
				checkPositioned(t, e, nil)
			}
			return
		}
		checkSchemaInvariants(t, s)
	})
}

func checkPositioned(t *testing.T, err error, sentinel error) {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not *Error", err, err)
	}
	if pe.Pos.Line < 1 || pe.Pos.Col < 1 || pe.Pos.File == "" || pe.Err == nil {
		t.Fatalf("error %v has no position or sentinel", err)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Fatalf("error %v is not %v", err, sentinel)
	}
}

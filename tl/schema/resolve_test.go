package schema

import (
	"errors"
	"strings"
	"testing"
)

func resolveSrc(t *testing.T, prelude bool, src string) (*Schema, error) {
	t.Helper()
	f, err := Parse("x.tl", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if prelude {
		return Resolve(Prelude(), f)
	}
	return Resolve(f)
}

func mustResolve(t *testing.T, src string) *Schema {
	t.Helper()
	s, err := resolveSrc(t, true, src)
	if err != nil {
		t.Fatal(err)
	}
	checkSchemaInvariants(t, s)
	return s
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		sentinel error
		wantErr  string
	}{
		{"unknown type", "x a:Foo = X;", ErrUnknownType, "x.tl:1:5: unknown type Foo"},
		{"unknown constructor", "x a:foo = X;", ErrUnknownType, "x.tl:1:5: unknown constructor foo"},
		{"function used as type", "---functions---\nf = Int;\n---types---\nx a:f = X;", ErrUnknownType, "x.tl:4:5: f is a function, not a constructor"},
		{"too few args", "x a:Vector = X;", ErrArity, "x.tl:1:5: Vector takes 1 template arguments, got 0"},
		{"too many args", "x a:(Maybe int int) = X;", ErrArity, "x.tl:1:5: Maybe takes 1 template arguments, got 2"},
		{"type where nat expected", "x a:(Tuple int int) = X;", ErrNatRef, "x.tl:1:16: unknown nat int"},
		{"expression where nat expected", "x a:(Tuple int (Maybe int)) = X;", ErrArity, "x.tl:1:16: expected a nat argument"},
		{"number where type expected", "x a:(Vector 3) = X;", ErrArity, "x.tl:1:13: number 3 where a type is expected"},
		{"nat param used as type", "x {n:#} a:n = X n;", ErrArity, "x.tl:1:11: nat parameter n used as a type"},
		{"type param with args", "x {t:Type} a:(t int) = X t;", ErrArity, "x.tl:1:14: type parameter t takes no arguments"},
		{"constructors disagree on params", "a {t:Type} = A t;\nb = A;", ErrArity, "x.tl:2:5: b declares A with no parameters, but a at x.tl:1:14 declared parameters (Type)"},
		{"bare union", "x a:%Bool = X;", ErrBareUnion, "x.tl:1:5: bare reference %Bool to a type with 2 constructors"},
		{"duplicate name", "x = X;\nx = Y;", ErrDuplicate, "x.tl:2:1: x already declared at x.tl:1:1"},
		{"duplicate tag", "x#12345678 = X;\ny#12345678 = Y;", ErrDuplicate, "x.tl:2:1: tag 12345678 of y already used by x at x.tl:1:1"},
		{"tag clashes with prelude", "x#a8509bda = X;", ErrDuplicate, "x.tl:1:1: tag a8509bda of x already used by int at prelude.tl:2:1"},
		{"duplicate field", "x a:int a:int = X;", ErrDuplicate, "x.tl:1:9: field a declared twice"},
		{"duplicate param", "x {t:Type} {t:Type} = X t t;", ErrDuplicate, "x.tl:1:13: template parameter t declared twice in x"},
		{"two default constructors", "_ {X:Type} a:X = R X;\n_ {X:Type} b:X = R X;", ErrDuplicate, "x.tl:2:1: type R already has a default constructor"},
		{"tag zero", "x#00000000 = X;", ErrInvalid, "x.tl:1:1: tag 0 is not allowed (x)"},
		{"default with tag", "_#12345678 = X;", ErrInvalid, "x.tl:1:1: the default constructor _ cannot have an explicit tag"},
		{"default function", "---functions---\n_ = X;", ErrInvalid, "x.tl:2:1: the default constructor _ cannot be a function"},
		{"mask to non-nat field", "x a:int b:a.0?int = X;", ErrNatRef, "x.tl:1:11: a is not of type #"},
		{"mask to later field", "x b:a.0?int a:# = X;", ErrNatRef, "x.tl:1:5: a refers to a later field"},
		{"mask unknown", "x b:a.0?int = X;", ErrNatRef, "x.tl:1:5: unknown nat a"},
		{"mask to Type param", "x {t:Type} b:t.0?int = X t;", ErrNatRef, "x.tl:1:14: template parameter t is a Type, not #"},
		{"mask bit above 31", "x f:# b:f.32?int = X;", ErrNatRef, "x.tl:1:9: fields-mask bit 32 of f.32 is above 31"},
		{"scale to later field", "x a:n*[int] n:# = X;", ErrNatRef, "x.tl:1:5: n refers to a later field"},
		{"nat arg to non-nat field", "x n:int a:(Tuple int n) = X;", ErrNatRef, "x.tl:1:22: n is not of type #"},
		{"implicit scale without nat param", "x [int] = X;", ErrNatRef, "x.tl:1:3: [...] as the first field needs the last template parameter to be #"},
		{"implicit scale after non-nat", "x a:int [int] = X;", ErrNatRef, "x.tl:1:9: [...] without a size must follow a field of type #"},
		{"nested implicit scale", "x n:# a:n*[[int]] = X;", ErrNatRef, "x.tl:1:12: brackets nested in brackets need an explicit size"},
		{"inner ref to outer field", "x n:# m:# a:n*[b:m.0?int] = X;", ErrNatRef, "x.tl:1:18: m is a field outside the brackets"},
		{"bare function result", "---functions---\nf = int;", ErrInvalid, "x.tl:2:5: function result of f cannot be bare"},
		{"excl not a param", "---functions---\nf q:!Int = Int;", ErrInvalid, "x.tl:2:6: !Int must name a Type template parameter"},
		{"function type param unbound", "---functions---\nf {X:Type} a:X = X;", ErrInvalid, "x.tl:2:4: type parameter X of function f must be bound by a !X field"},
		{"result param not declared", "x {t:Type} = X u;", ErrInvalid, "x.tl:1:16: result parameter u of x is not a template parameter"},
		{"unknown builtin", "uint32 ? = Uint32;", ErrInvalid, "x.tl:1:1: builtin '?' body is only allowed for"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := resolveSrc(t, true, tc.src)
			if err == nil {
				t.Fatalf("no error, want %q", tc.wantErr)
			}
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("error %v is not %v", err, tc.sentinel)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestResolveReportsAllErrorsCapped(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 80; i++ {
		b.WriteString("x")
		b.WriteString(strings.Repeat("a", i+1))
		b.WriteString(" f:Unknown = X;\n")
	}
	_, err := resolveSrc(t, false, b.String())
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error %v is not an ErrorList", err)
	}
	if len(list) != maxErrors {
		t.Errorf("%d errors, want %d", len(list), maxErrors)
	}
	if list[1].Pos.Line != 2 {
		t.Errorf("second error at %v, want line 2", list[1].Pos)
	}
}

func TestResolveModel(t *testing.T) {
	const src = `
@read @internal engine.getReadWriteMode#00000001 fields_mask:# => engine.ReadWriteMode fields_mask;
engine.mode {fields_mask:#} read_enabled:fields_mask.0?Bool write_enabled:fields_mask.1?Bool = engine.ReadWriteMode fields_mask;
reqError#b527877d {X:Type} error_code:int error:string = ReqResult X;
_ {X:Type} result:X = ReqResult X;
rpcInvokeReqExtra {flags:#} a:flags.0?%True b:flags.3?%(Vector long) = RpcInvokeReqExtra flags;
stat#9d56e6b2 %(Dictionary string) = Stat;
ids n:# a:n*[k:int v:%Int] c:(Tuple # 8) d:(vector Long) = Ids;
---functions---
rpcDestFlags#e352035e {X:Type} flags:# extra:%(RpcInvokeReqExtra flags) query:!X = X;
get key:string => Maybe (Pair int %String);
`
	s := mustResolve(t, src)
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"function result with nat arg from request field", func(t *testing.T) {
			f := s.Function("engine.getReadWriteMode")
			if f == nil || s.ByTag(1) != f || !f.ExplicitTag || f.Flags != AnnotRead|AnnotInternal {
				t.Fatalf("lookup: %+v", f)
			}
			r := f.Result
			if r.Kind != RefType || r.Type != s.Type("engine.ReadWriteMode") || len(r.Args) != 1 ||
				!r.Args[0].Nat || r.Args[0].NatVal != (NatRef{Kind: NatField, Index: 0}) {
				t.Errorf("result %+v", r)
			}
		}},
		{"template mask param", func(t *testing.T) {
			c := s.Constructor("engine.mode")
			fd := c.Fields[1]
			if fd.Cond == nil || fd.Cond.Mask != (NatRef{Kind: NatParam, Index: 0}) || fd.Cond.Bit != 1 || fd.Type.Kind != RefType || fd.Type.Type != s.Type("Bool") {
				t.Errorf("field %+v", fd)
			}
			if c.TypeParams[0] != 0 || c.Canonical != "engine.mode fields_mask:# read_enabled:fields_mask.0?Bool write_enabled:fields_mask.1?Bool = engine.ReadWriteMode fields_mask" {
				t.Errorf("canonical %q", c.Canonical)
			}
		}},
		{"default constructor", func(t *testing.T) {
			ty := s.Type("ReqResult")
			if ty.Default == nil || ty.Default.Name != "_" || !ty.Default.Default || len(ty.Constructors) != 2 {
				t.Fatalf("type %+v", ty)
			}
			if ty.ConstructorByTag(ty.Default.Tag) != nil || s.ByTag(ty.Default.Tag) != nil || ty.ConstructorByTag(0xb527877d) != ty.Constructors[0] {
				t.Errorf("default constructor reachable by tag")
			}
			if ty.Default.Tag != 0x840e0ecc {
				t.Errorf("default tag %08x", ty.Default.Tag)
			}
		}},
		{"vector is nat field plus array", func(t *testing.T) {
			v := s.Constructor("vector")
			if len(v.Fields) != 2 || v.Fields[0].Type.Kind != RefNat || v.Fields[1].Type.Kind != RefArray ||
				v.Fields[1].Type.Scale != (NatRef{Kind: NatField, Index: 0}) || v.Fields[1].Type.Elem[0].Type.Kind != RefParam {
				t.Errorf("vector %+v", v.Fields)
			}
			tu := s.Constructor("tuple")
			if tu.Fields[0].Type.Scale != (NatRef{Kind: NatParam, Index: 1}) {
				t.Errorf("tuple %+v", tu.Fields)
			}
		}},
		{"arrays, primitives, bare and boxed", func(t *testing.T) {
			c := s.Constructor("ids")
			a := c.Fields[1].Type
			if a.Kind != RefArray || a.Scale != (NatRef{Kind: NatField, Index: 0}) || len(a.Elem) != 2 ||
				a.Elem[0].Type.Kind != RefCtor || a.Elem[0].Type.Prim != PrimInt ||
				a.Elem[1].Type.Kind != RefCtor || a.Elem[1].Type.Ctor != s.Constructor("int") {
				t.Errorf("array %+v", a)
			}
			tu := c.Fields[2].Type
			if tu.Kind != RefType || tu.Args[0].Type.Kind != RefNat || tu.Args[1].NatVal != (NatRef{Kind: NatConst, Value: 8}) {
				t.Errorf("tuple %+v", tu)
			}
			v := c.Fields[3].Type
			if v.Kind != RefCtor || v.Ctor.Name != "vector" || v.Args[0].Type.Kind != RefType || v.Args[0].Type.Prim != PrimLong {
				t.Errorf("vector %+v", v)
			}
		}},
		{"excl field and nat arg to previous field", func(t *testing.T) {
			f := s.Function("rpcDestFlags")
			extra := f.Fields[1].Type
			if extra.Kind != RefCtor || extra.Ctor.Name != "rpcInvokeReqExtra" || extra.Args[0].NatVal != (NatRef{Kind: NatField, Index: 0}) {
				t.Errorf("extra %+v", extra)
			}
			q := f.Fields[2]
			if !q.Excl || q.Type.Kind != RefParam || q.Type.Param != 0 || f.Result.Kind != RefParam {
				t.Errorf("query %+v result %+v", q, f.Result)
			}
		}},
		{"nested type args keep boxing", func(t *testing.T) {
			r := s.Function("get").Result
			p := r.Args[0].Type
			if r.Type.Name != "Maybe" || p.Kind != RefType || p.Type.Name != "Pair" ||
				p.Args[0].Type.Kind != RefCtor || p.Args[0].Type.Prim != PrimInt ||
				p.Args[1].Type.Kind != RefCtor || p.Args[1].Type.Prim != PrimString {
				t.Errorf("result %+v", r)
			}
		}},
		{"prelude types and tags", func(t *testing.T) {
			for _, want := range []struct {
				name string
				tag  uint32
				prim PrimKind
			}{
				{"int", 0xa8509bda, PrimInt}, {"long", 0x22076cba, PrimLong}, {"float", 0x824dab22, PrimFloat},
				{"double", 0x2210c154, PrimDouble}, {"string", 0xb5286e24, PrimString},
				{"boolFalse", 0xbc799737, 0}, {"boolTrue", 0x997275b5, 0}, {"true", 0x3fedd339, 0},
				{"vector", 0x1cb5c415, 0}, {"tuple", 0x9770768a, 0}, {"vectorTotal", 0x10133f47, 0},
				{"dictionary", 0x1f4c618f, 0}, {"dictionaryField", 0x239c1b62, 0},
				{"intKeyDictionary", 0x07bafc42, 0}, {"intKeyDictionaryField", 0x721ea8b9, 0},
				{"longKeyDictionary", 0xb424d8f1, 0}, {"longKeyDictionaryField", 0x19701e0b, 0},
				{"resultFalse", 0x27930a7b, 0}, {"resultTrue", 0x3f9c8ef8, 0},
				{"pair", 0x0f3c47ab, 0}, {"left", 0x0a29cd5d, 0}, {"right", 0xdf3ecb3b, 0}, {"map", 0x79c473a4, 0},
			} {
				c := s.Constructor(want.name)
				if c == nil || c.Tag != want.tag || c.Prim != want.prim || s.ByTag(want.tag) != c {
					t.Errorf("%s: %+v, want tag %08x prim %v", want.name, c, want.tag, want.prim)
				}
			}
			if s.Type("Int").Prim != PrimInt || s.Type("Stat").Constructors[0].Fields[0].Type.Kind != RefCtor {
				t.Errorf("Int/Stat")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.check)
	}
}

// TestPreludeYieldsToFiles checks that a file's own declarations replace the
// prelude's type by type.
func TestPreludeYieldsToFiles(t *testing.T) {
	s := mustResolve(t, "int#a8509bda ? = Int;\ntrue#3fedd339 = MyTrue;\nx a:int = X;")
	if s.Constructor("true").Type.Name != "MyTrue" || s.Type("True") != nil {
		t.Errorf("prelude True kept despite a constructor of the same name")
	}
	if c := s.Constructor("int"); c == nil || c.Pos.File != "x.tl" {
		t.Errorf("int from %v, want x.tl", c)
	}
	if s.Type("Vector") == nil || s.Type("Long") == nil {
		t.Errorf("prelude types missing")
	}
}

func TestTelegramPrimitives(t *testing.T) {
	f, err := ParseDialect("tg.tl", []byte("int ? = Int;\nbytes = Bytes;\nint256 = Int256;\nx#1 a:bytes b:int256 c:Bytes = X;"), Telegram)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Resolve(f)
	if err != nil {
		t.Fatal(err)
	}
	x := s.Constructor("x")
	if x.Tag != 1 || x.Fields[0].Type.Prim != PrimBytes || x.Fields[1].Type.Prim != PrimInt256 || x.Fields[2].Type.Kind != RefType || x.Fields[2].Type.Prim != PrimBytes {
		t.Errorf("x %+v", x.Fields)
	}
}

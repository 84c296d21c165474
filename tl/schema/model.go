package schema

// PrimKind identifies the primitive types a walker reads and writes
// directly. It is set on a Type, on the builtin Combinator that declares it,
// and copied onto every TypeRef that refers to either, so a walker can
// switch on TypeRef.Prim without chasing pointers.
type PrimKind uint8

const (
	PrimNone   PrimKind = iota // not a primitive
	PrimNat                    // '#': 4 bytes, uint32
	PrimInt                    // int: 4 bytes, int32
	PrimLong                   // long: 8 bytes, int64
	PrimFloat                  // float (VK): 4 bytes, IEEE-754 binary32
	PrimDouble                 // double: 8 bytes, IEEE-754 binary64
	PrimString                 // string: TL string encoding
	PrimBytes                  // bytes (Telegram): same encoding as string
	PrimInt128                 // int128 (Telegram): 16 raw bytes
	PrimInt256                 // int256 (Telegram): 32 raw bytes
)

func (k PrimKind) String() string {
	switch k {
	case PrimNone:
		return "none"
	case PrimNat:
		return "#"
	}
	for _, name := range [...]string{"int", "long", "float", "double", "string", "bytes", "int128", "int256"} {
		if primByCtor(name) == k {
			return name
		}
	}
	return "prim?"
}

// primByCtor maps a constructor name to its primitive kind. A constructor
// with one of these names that is the only constructor of its type makes
// that type primitive, whatever its body ('?' in VK, empty or "4*[ int ]" in
// Telegram files).
func primByCtor(name string) PrimKind {
	switch name {
	case "int":
		return PrimInt
	case "long":
		return PrimLong
	case "float":
		return PrimFloat
	case "double":
		return PrimDouble
	case "string":
		return PrimString
	case "bytes":
		return PrimBytes
	case "int128":
		return PrimInt128
	case "int256":
		return PrimInt256
	}
	return PrimNone
}

// Annotation bits as VK's TLO combinator flags define them (tl.md §3.5).
// @any sets no bit; unknown annotations set none either but are kept in
// Combinator.Annotations.
const (
	AnnotRead     uint32 = 1
	AnnotWrite    uint32 = 2
	AnnotInternal uint32 = 4
	AnnotKphp     uint32 = 8
)

func annotationBits(name string) uint32 {
	switch name {
	case "read":
		return AnnotRead
	case "write":
		return AnnotWrite
	case "readwrite":
		return AnnotRead | AnnotWrite
	case "internal":
		return AnnotInternal
	case "kphp":
		return AnnotKphp
	}
	return 0
}

// Param is a template parameter of a combinator or a type.
type Param struct {
	Name string
	Nat  bool // {n:#}; otherwise {t:Type}
	Pos  Pos
}

// NatKind says where a nat value (fields mask, array size, nat argument)
// comes from.
type NatKind uint8

const (
	NatNone  NatKind = iota
	NatConst         // Value is the constant
	NatField         // Index is a previous field of the same field list
	NatParam         // Index is a template nat param of the enclosing combinator
)

// NatRef is a nat value: a constant, a previous field (its index in the
// field list that contains the reference) or a nat template parameter (its
// index in Combinator.Params).
type NatRef struct {
	Kind  NatKind
	Value uint32
	Index int
}

// Cond is the condition of an optional field: present iff bit Bit of the
// nat Mask is set. Mask.Kind is NatField or NatParam, never NatConst.
type Cond struct {
	Mask NatRef
	Bit  uint8 // 0..31
}

// Field is one field of a combinator or of an array element.
type Field struct {
	Name string // empty for anonymous fields
	Cond *Cond  // nil: always present
	// Excl marks "!X": the value is a whole serialized function call whose
	// result type becomes the template argument X. Type is then a RefParam.
	Excl bool
	Type TypeRef
	Pos  Pos
}

// RefKind classifies a resolved type expression.
type RefKind uint8

const (
	RefInvalid RefKind = iota
	RefNat             // '#': a bare uint32
	RefType            // boxed: a tag, then the chosen constructor's fields
	RefCtor            // bare: the fields of one constructor, no tag
	RefParam           // a template Type parameter, substituted at walk time
	RefArray           // Scale copies of the element fields, no count
)

// TypeRef is a fully resolved type expression.
//
//   - RefNat: Prim == PrimNat.
//   - RefType: Type is set; Prim is Type.Prim. The walker reads a tag and
//     picks Type's constructor (or Type.Default); for a primitive type the
//     value follows the tag.
//   - RefCtor: Ctor and Type (== Ctor.Type) are set; Prim is Type.Prim.
//     Spelled "int", "vector t", "%Vector t", "%(Pair X Y)".
//   - RefParam: Param indexes the enclosing combinator's Params (always a
//     Type param). Bare keeps a '%' spelling ("%X"); otherwise boxing comes
//     from the substituted argument.
//   - RefArray: Scale gives the element count, Elem the element's fields
//     (references inside Elem index Elem itself, or the combinator's params).
//
// Args are the template arguments in the order of Type.Params; Arg.Nat tells
// which of Arg.Type / Arg.NatVal is meaningful, and it always agrees with
// the kind of the corresponding Type.Params entry.
type TypeRef struct {
	Kind  RefKind
	Prim  PrimKind
	Type  *Type
	Ctor  *Combinator
	Param int
	Bare  bool // spelled bare: RefCtor always; RefParam only with '%'
	Args  []Arg
	Scale NatRef
	Elem  []Field
	Pos   Pos
}

// Arg is one template argument: a type (for a {t:Type} param) or a nat
// value (for a {n:#} param).
type Arg struct {
	Nat    bool
	Type   *TypeRef // when !Nat
	NatVal NatRef   // when Nat
}

// Combinator is a resolved constructor or function.
type Combinator struct {
	Name        string
	Tag         uint32 // explicit or computed; never on the wire if Default
	ExplicitTag bool
	Canonical   string // VK canonical text (Telegram rule for Telegram files)
	Function    bool
	// Default marks VK's tag-less "_" constructor: it is never written with
	// a tag and is chosen when no other constructor's tag matches. ByTag
	// never returns it.
	Default     bool
	Builtin     bool     // body was '?'
	Annotations []string // without '@', in source order
	Flags       uint32   // OR of Annot* bits of Annotations
	Params      []Param
	Fields      []Field
	// Result is the function's result type (boxed by definition; nat
	// arguments may refer to the function's own fields). Nil for
	// constructors.
	Result *TypeRef
	// Type is the constructor's type. Nil for functions.
	Type *Type
	// TypeParams maps the owning type's params to this constructor's:
	// Type.Params[i] is bound to Params[TypeParams[i]]. Constructor params
	// missing from it are bound by a "!X" field.
	TypeParams []int
	Prim       PrimKind // for builtin constructors such as int, string
	Pos        Pos
}

// Type is a boxed type: the set of constructors with the same right side.
type Type struct {
	Name   string
	Params []Param // from the first constructor's right side
	// Constructors are in declaration order, Default included.
	Constructors []*Combinator
	Default      *Combinator // VK's "_" constructor, if any
	Prim         PrimKind
	Pos          Pos
}

// ConstructorByTag returns the type's constructor with that wire tag, or
// nil. The Default constructor is never matched; the caller falls back to
// it explicitly.
func (t *Type) ConstructorByTag(tag uint32) *Combinator {
	for _, c := range t.Constructors {
		if c.Tag == tag && !c.Default {
			return c
		}
	}
	return nil
}

// Schema is a resolved, immutable set of types, constructors and functions.
// It is safe for concurrent use.
type Schema struct {
	Types       []*Type       // declaration order
	Combinators []*Combinator // constructors and functions, declaration order
	types       map[string]*Type
	combinators map[string]*Combinator
	tags        map[uint32]*Combinator
}

// Type returns the type with that name (e.g. "Vector", "engine.Query").
func (s *Schema) Type(name string) *Type { return s.types[name] }

// Combinator returns the constructor or function with that name.
func (s *Schema) Combinator(name string) *Combinator { return s.combinators[name] }

// Constructor returns the constructor with that name, or nil.
func (s *Schema) Constructor(name string) *Combinator {
	if c := s.combinators[name]; c != nil && !c.Function {
		return c
	}
	return nil
}

// Function returns the function with that name, or nil.
func (s *Schema) Function(name string) *Combinator {
	if c := s.combinators[name]; c != nil && c.Function {
		return c
	}
	return nil
}

// ByTag returns the constructor or function with that wire tag, or nil.
// Constructors and functions share one tag space.
func (s *Schema) ByTag(tag uint32) *Combinator { return s.tags[tag] }

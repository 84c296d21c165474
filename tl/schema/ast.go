package schema

// Dialect selects the lexical rules a file is parsed with.
type Dialect uint8

const (
	// VK is the strict VK dialect: explicit tags have exactly eight
	// lower-case hex digits and only // comments exist.
	VK Dialect = iota
	// Telegram accepts 1-8 hex digit tags (zero-extended), /* */ comments
	// and section marks with inner spaces (--- functions ---).
	Telegram
)

func (d Dialect) String() string {
	if d == Telegram {
		return "telegram"
	}
	return "vk"
}

// File is the syntax tree of one schema file, before name resolution.
type File struct {
	Name    string
	Dialect Dialect
	Decls   []*Decl
	// prelude marks the file returned by Prelude: Resolve takes its
	// declarations only where the other files do not declare the same type.
	prelude bool
}

// Decl is one declaration (constructor or function) as written.
type Decl struct {
	Pos         Pos
	Annotations []string // without '@', in source order
	Name        string   // with namespace; "_" for VK's default constructor
	Tag         uint32   // explicit tag, valid when HasTag
	HasTag      bool
	Params      []*ParamDecl
	Builtin     bool // body is '?'
	Fields      []*FieldDecl
	Function    bool // declared in a functions section or with '=>'
	// Result is the right-hand side. For a constructor it is a type name
	// whose Args are plain names of template params.
	Result *Term
}

// ParamDecl is a template parameter {name:Type} or {name:#}.
type ParamDecl struct {
	Pos  Pos
	Name string
	Nat  bool
}

// FieldDecl is one field as written.
type FieldDecl struct {
	Pos     Pos
	Name    string // empty for anonymous fields
	HasMask bool
	Mask    string // fields-mask name in name.Bit?
	MaskPos Pos
	Bit     uint32
	Excl    bool // !X
	Type    *Term
}

// TermKind classifies a syntactic type term.
type TermKind uint8

const (
	TermName  TermKind = iota + 1 // a name applied to Args (maybe none)
	TermNat                       // '#'
	TermNum                       // a nat constant (sums already folded)
	TermArray                     // [scale '*'] '[' fields ']'
)

// Term is a type expression as written. Parentheses and angle brackets are
// gone; '%' outside or inside parentheses sets Bare.
type Term struct {
	Pos    Pos
	Kind   TermKind
	Bare   bool
	Name   string
	Args   []*Term
	Num    uint32
	Scale  *Term // TermArray: nil (implicit), TermName or TermNum
	Fields []*FieldDecl
}

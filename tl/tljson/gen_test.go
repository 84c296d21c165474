package tljson

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// errRetry means the generator drew a value it cannot or should not emit
// (over budget, an unbound nat, a default constructor whose first word
// looks like a sibling's tag); the caller tries another seed.
var errRetry = errors.New("gen: retry")

// gen writes random valid TL1 values of any schema type. Choices are
// seeded; depth, element counts and total size are bounded. Past maxDepth
// it picks the cheapest constructor or function and clears masks and
// counts, so every type with a finite value terminates.
type gen struct {
	c        *Codec
	r        *rand.Rand
	out      []byte
	depth    int
	maxDepth int
	maxBytes int
	cost     *costs
}

// costs is the least nesting a value of each type or function needs,
// computed once per schema by fixpoint.
type costs struct {
	types map[*schema.Type]int
	funcs map[*schema.Combinator]int
}

const infCost = 1 << 20

func newCosts(s *schema.Schema) *costs {
	cs := &costs{types: map[*schema.Type]int{}, funcs: map[*schema.Combinator]int{}}
	for _, t := range s.Types {
		cs.types[t] = infCost
	}
	for _, c := range s.Combinators {
		if c.Function {
			cs.funcs[c] = infCost
		}
	}
	for iter := 0; iter < 1000; iter++ {
		changed := false
		for _, t := range s.Types {
			best := infCost
			for _, c := range t.Constructors {
				best = min(best, cs.fields(c.Fields))
			}
			if best < cs.types[t] {
				cs.types[t], changed = best, true
			}
		}
		for fn := range cs.funcs {
			if v := cs.fields(fn.Fields); v < cs.funcs[fn] {
				cs.funcs[fn], changed = v, true
			}
		}
		if !changed {
			break
		}
	}
	return cs
}

func (cs *costs) minFunc() int {
	best := infCost
	for _, v := range cs.funcs {
		best = min(best, v)
	}
	return best
}

func (cs *costs) fields(fields []schema.Field) int {
	worst := 0
	for i := range fields {
		f := &fields[i]
		if f.Cond != nil {
			continue
		}
		v := 0
		switch {
		case f.Excl:
			v = cs.minFunc()
		case f.Type.Kind == schema.RefType || f.Type.Kind == schema.RefCtor:
			if f.Type.Prim == schema.PrimNone && !isTrue(f.Type.Type) {
				v = cs.types[f.Type.Type]
			}
		case f.Type.Kind == schema.RefArray && f.Type.Scale.Kind != schema.NatField:
			v = cs.fields(f.Type.Elem)
		}
		worst = max(worst, v)
	}
	return min(infCost, 1+worst)
}

func (g *gen) limit() bool { return g.depth >= g.maxDepth }

func (g *gen) check() error {
	if len(g.out) > g.maxBytes || g.depth > g.maxDepth+60 {
		return errRetry
	}
	return nil
}

// value appends a random value of type t.
func (g *gen) value(t *Type) error {
	g.depth++
	defer func() { g.depth-- }()
	if err := g.check(); err != nil {
		return err
	}
	if t.nat {
		g.out = tl.AppendUint32(g.out, g.r.Uint32())
		return nil
	}
	typ := t.typ
	if typ.Prim != schema.PrimNone || isTrue(typ) {
		if t.boxed() {
			g.out = tl.AppendUint32(g.out, typ.Constructors[0].Tag)
		}
		g.prim(typ.Prim)
		return nil
	}
	c := t.ctor
	if t.boxed() {
		c = g.pickCtor(typ)
		if !c.Default {
			g.out = tl.AppendUint32(g.out, c.Tag)
		}
	}
	start := len(g.out)
	if err := g.fields(bind(c, t), newFrame(c.Fields)); err != nil {
		return err
	}
	if t.boxed() && c.Default {
		// A reader picks the default constructor only when the next word
		// is no other constructor's tag.
		if len(g.out)-start < 4 || typ.ConstructorByTag(uint32(g.out[start])|uint32(g.out[start+1])<<8|uint32(g.out[start+2])<<16|uint32(g.out[start+3])<<24) != nil {
			return errRetry
		}
	}
	return nil
}

func (g *gen) pickCtor(typ *schema.Type) *schema.Combinator {
	if !g.limit() {
		return typ.Constructors[g.r.IntN(len(typ.Constructors))]
	}
	best := typ.Constructors[0]
	for _, c := range typ.Constructors[1:] {
		if g.cost.fields(c.Fields) < g.cost.fields(best.Fields) {
			best = c
		}
	}
	return best
}

// natUse says how later fields of a list use '#' field i.
func natUse(fields []schema.Field, i int) (scale, mask, arg bool) {
	isI := func(r schema.NatRef) bool { return r.Kind == schema.NatField && r.Index == i }
	var inArgs func(args []schema.Arg) bool
	inArgs = func(args []schema.Arg) bool {
		for _, a := range args {
			if a.Nat && isI(a.NatVal) || !a.Nat && a.Type != nil && inArgs(a.Type.Args) {
				return true
			}
		}
		return false
	}
	for k := i + 1; k < len(fields); k++ {
		f := &fields[k]
		if f.Cond != nil && isI(f.Cond.Mask) {
			mask = true
		}
		if f.Type.Kind == schema.RefArray && isI(f.Type.Scale) {
			scale = true
		}
		if inArgs(f.Type.Args) {
			arg = true
		}
	}
	return
}

func (g *gen) fields(e *env, fr *frame) error {
	for i := range fr.fields {
		f := &fr.fields[i]
		if f.Cond != nil {
			m, err := e.nat(f.Cond.Mask, fr)
			if err != nil {
				return errRetry
			}
			if m>>f.Cond.Bit&1 == 0 {
				continue
			}
		}
		if err := g.check(); err != nil {
			return err
		}
		switch {
		case f.Excl:
			fn, fe, ffr, err := g.call(nil)
			if err != nil {
				return err
			}
			res, err := fe.resolve(fn.Result, ffr, g.c.nat)
			if err != nil {
				return errRetry
			}
			e.args[f.Type.Param] = arg{t: res, ok: true}
		case f.Type.Kind == schema.RefNat:
			v := g.nat(fr.fields, i)
			fr.vals[i], fr.has[i] = v, true
			g.out = tl.AppendUint32(g.out, v)
		case f.Type.Kind == schema.RefArray:
			n, err := e.nat(f.Type.Scale, fr)
			if err != nil || n > 16 {
				return errRetry
			}
			for k := uint32(0); k < n; k++ {
				g.depth++
				err := g.fields(e, newFrame(f.Type.Elem))
				g.depth--
				if err != nil {
					return err
				}
			}
		default:
			t, err := e.resolve(&f.Type, fr, g.c.nat)
			if err != nil {
				return errRetry
			}
			if err := g.value(t); err != nil {
				return err
			}
		}
	}
	return nil
}

// nat draws a '#' field: a small count when it sizes an array or is passed
// as a nat argument (which may be a size), sparse bits when it is a mask,
// anything otherwise; zero past the depth limit.
func (g *gen) nat(fields []schema.Field, i int) uint32 {
	scale, mask, arg := natUse(fields, i)
	switch {
	case (scale || mask || arg) && g.limit():
		return 0
	case scale:
		return uint32(g.r.IntN(4))
	case arg && g.r.IntN(2) == 0:
		return uint32(g.r.IntN(4))
	case mask || arg:
		return g.r.Uint32() & g.r.Uint32()
	}
	return g.r.Uint32()
}

// call appends a random boxed call of fn, or of a random function.
func (g *gen) call(fn *schema.Combinator) (*schema.Combinator, *env, *frame, error) {
	g.depth++
	defer func() { g.depth-- }()
	if fn == nil {
		fns := g.functions()
		fn = fns[g.r.IntN(len(fns))]
		if g.limit() {
			for _, f := range fns {
				if g.cost.funcs[f] < g.cost.funcs[fn] {
					fn = f
				}
			}
		}
	}
	g.out = tl.AppendUint32(g.out, fn.Tag)
	e, fr := bind(fn, nil), newFrame(fn.Fields)
	if err := g.fields(e, fr); err != nil {
		return nil, nil, nil, err
	}
	return fn, e, fr, nil
}

func (g *gen) functions() []*schema.Combinator {
	var fns []*schema.Combinator
	for _, c := range g.c.s.Combinators {
		if c.Function {
			fns = append(fns, c)
		}
	}
	return fns
}

func (g *gen) prim(p schema.PrimKind) {
	switch p {
	case schema.PrimNone: // True: nothing after the tag
	case schema.PrimNat:
		g.out = tl.AppendUint32(g.out, g.r.Uint32())
	case schema.PrimInt:
		g.out = tl.AppendInt32(g.out, []int32{0, 1, -1, math.MaxInt32, math.MinInt32, g.r.Int32()}[g.r.IntN(6)])
	case schema.PrimLong:
		g.out = tl.AppendInt64(g.out, []int64{0, -1, 1 << 53, 1<<53 + 1, math.MaxInt64, math.MinInt64, g.r.Int64()}[g.r.IntN(7)])
	case schema.PrimFloat:
		bits := []uint32{0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7fc00001, 0x00000001, 0x40490fdb, g.r.Uint32()}
		g.out = tl.AppendUint32(g.out, bits[g.r.IntN(len(bits))])
	case schema.PrimDouble:
		bits := []uint64{0, 1 << 63, 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000, 0x7ff8000000000001,
			1, math.Float64bits(1e21), math.Float64bits(1e-7), math.Float64bits(0.1), g.r.Uint64()}
		g.out = tl.AppendUint64(g.out, bits[g.r.IntN(len(bits))])
	case schema.PrimString, schema.PrimBytes:
		g.out = tl.AppendBytes(g.out, g.str())
	case schema.PrimInt128, schema.PrimInt256:
		n := 16
		if p == schema.PrimInt256 {
			n = 32
		}
		for range n {
			g.out = append(g.out, byte(g.r.Uint32()))
		}
	default:
		panic(fmt.Sprintf("gen: primitive %v", p))
	}
}

// str draws a string: fixed samples (UTF-8, escapes, invalid UTF-8) or
// random bytes at the length-form boundaries 253/254/255 and beyond.
func (g *gen) str() []byte {
	if g.r.IntN(2) == 0 {
		samples := [...]string{"", "a", "abc", "abcd", "héllo", "\x00\x01\"\\\n\t", "\xff\xfe", "ok\x80"}
		return []byte(samples[g.r.IntN(len(samples))])
	}
	n := []int{0, 5, 252, 253, 254, 255, 256, 300}[g.r.IntN(8)]
	b := make([]byte, n)
	ascii := g.r.IntN(2) == 0
	for i := range b {
		if ascii {
			b[i] = byte('a' + g.r.IntN(26))
		} else {
			b[i] = byte(g.r.Uint32())
		}
	}
	return b
}

// randomArgs binds random arguments for the params of typ: nat params get
// small values when a constructor uses them as a size, sparse bits
// otherwise; type params get a random parameterless type of the schema or
// a bare primitive.
func (g *gen) randomArgs(typ *schema.Type, pool []*Type) []arg {
	args := make([]arg, len(typ.Params))
	for i, p := range typ.Params {
		if !p.Nat {
			args[i] = arg{t: pool[g.r.IntN(len(pool))], ok: true}
			continue
		}
		small := false
		for _, c := range typ.Constructors {
			if i < len(c.TypeParams) && usesScale(c.Fields, c.TypeParams[i]) {
				small = true
			}
		}
		v := g.r.Uint32() & g.r.Uint32()
		if small {
			v = uint32(g.r.IntN(4))
		}
		args[i] = arg{n: v, ok: true}
	}
	return args
}

func usesScale(fields []schema.Field, param int) bool {
	for i := range fields {
		t := &fields[i].Type
		if t.Kind == schema.RefArray && (t.Scale.Kind == schema.NatParam && t.Scale.Index == param || usesScale(t.Elem, param)) {
			return true
		}
	}
	return false
}

// argPool lists the types randomArgs picks from.
func argPool(c *Codec) []*Type {
	var pool []*Type
	for _, t := range c.s.Types {
		if len(t.Params) > 0 {
			continue
		}
		pool = append(pool, &Type{typ: t})
		if t.Prim != schema.PrimNone && len(t.Constructors) == 1 {
			pool = append(pool, &Type{typ: t, ctor: t.Constructors[0]})
		}
	}
	return pool
}

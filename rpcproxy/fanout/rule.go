package fanout

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
	"github.com/rpcproxy/rpcproxy/tl/walk"
)

// Kind says how a function leaves the proxy.
type Kind uint8

const (
	// KindSplit: one sub-call per shard with that shard's keys.
	KindSplit Kind = iota + 1
	// KindMerge: the same call to every shard, the answers merged.
	KindMerge
)

// Strategy is a merge strategy of a KindMerge rule.
type Strategy uint8

const (
	Concat Strategy = iota + 1
	Sum
	Min
	Max
	And
	Or
	Sorted
	First
)

var strategies = [...]string{Concat: configs.MergeConcat, Sum: configs.MergeSum, Min: configs.MergeMin, Max: configs.MergeMax,
	And: configs.MergeAnd, Or: configs.MergeOr, Sorted: configs.MergeSorted, First: configs.MergeFirst}

func (s Strategy) String() string {
	if int(s) < len(strategies) && strategies[s] != "" {
		return strategies[s]
	}
	return "none"
}

// Rule is one function's fan-out, compiled against the schema at config
// time and immutable afterwards.
type Rule struct {
	Function string
	Tag      uint32
	Kind     Kind
	// Arg is a split's vector argument holding the keys.
	Arg string
	// Dictionary: a split's answer is a dictionary keyed by key, whose
	// entries are concatenated; otherwise element i answers key i.
	Dictionary bool
	Strategy   Strategy
	// Partial answers from the shards that answered; otherwise the first
	// failed shard's error (by shard order) is the answer.
	Partial bool
	// Missing is the element answered for the keys of failed shards in a
	// positional partial split (a field-less constructor's boxed tag).
	Missing []byte
	// Coalesce: a positional split whose sub-requests to one engine at one
	// moment may be joined into one call (Plan.Layout, CutAnswer).
	Coalesce bool

	// Sorted merges.
	SortField string
	sortPrim  schema.PrimKind
	sortBoxed bool
	// sortAt is the sort field's offset in an element when every field
	// before it has a fixed size, so the key is read without walking the
	// element again; -1 otherwise (walk.Elems.Field).
	sortAt     int
	Descending bool
	LimitArg   string
	limitBoxed bool
	// DefaultLimit is the limit when the request's limit argument is <= 0.
	DefaultLimit int

	// direct: a split's sub-calls may be cut from the key ranges Split
	// recorded while placing the keys, without walking the call again
	// (walk.SplitBy would refuse a function of more than MaxTopFields
	// fields). Rules not made by Compile leave it false.
	direct bool
}

// Compile builds fn's rule from its config. splitArg is the vector
// argument holding fn's keys for a split ("" when r is a merge). Every
// schema question (is the result a vector, does the element have the sort
// field, is missing a constructor of the element type) is answered here,
// so a config that cannot work is refused at load time.
func Compile(fn *schema.Combinator, r configs.FunctionRule, splitArg string) (*Rule, error) {
	rule := &Rule{Function: fn.Name, Tag: fn.Tag, Partial: r.OnError == configs.OnErrorPartial}
	if r.Merge == "" {
		if splitArg == "" {
			return nil, fmt.Errorf("fanout: %s: no vector key argument to split by", fn.Name)
		}
		rule.Kind, rule.Arg = KindSplit, splitArg
		rule.direct = len(fn.Fields) <= walk.MaxTopFields
		rule.Dictionary = r.Align == configs.AlignDictionary
		elem, ok := vectorElem(fn.Result)
		if !rule.Dictionary && !ok {
			return nil, fmt.Errorf("fanout: %s answers %s, not a vector: align = %q needs element i to answer key i", fn.Name, refName(fn.Result), configs.AlignPositional)
		}
		if rule.Dictionary && !isDictionary(fn.Result) {
			return nil, fmt.Errorf("fanout: %s answers %s, not a dictionary (align = %q)", fn.Name, refName(fn.Result), configs.AlignDictionary)
		}
		rule.Coalesce = r.Coalesce && !rule.Dictionary
		if !rule.Dictionary && rule.Partial {
			if r.Missing == "" {
				return nil, fmt.Errorf("fanout: %s: a positional split with on_error = %q needs missing = the constructor answered for the keys of failed shards (such as memcache.not_found): the proxy cannot invent a value", fn.Name, configs.OnErrorPartial)
			}
			m, err := missingCtor(elem, r.Missing)
			if err != nil {
				return nil, fmt.Errorf("fanout: %s: %w", fn.Name, err)
			}
			rule.Missing = m
		}
		return rule, nil
	}
	rule.Kind = KindMerge
	for s, name := range strategies {
		if name == r.Merge && name != "" {
			rule.Strategy = Strategy(s)
		}
	}
	switch rule.Strategy {
	case 0:
		return nil, fmt.Errorf("fanout: %s: unknown merge %q", fn.Name, r.Merge)
	case Concat:
		if _, ok := vectorElem(fn.Result); !ok && !isDictionary(fn.Result) {
			return nil, fmt.Errorf("fanout: %s answers %s: concat needs a vector or dictionary", fn.Name, refName(fn.Result))
		}
	case Sum, Min, Max:
		if p := fn.Result.Prim; fn.Result.Kind != schema.RefType || (p != schema.PrimInt && p != schema.PrimLong) {
			return nil, fmt.Errorf("fanout: %s answers %s: %s needs Int or Long", fn.Name, refName(fn.Result), r.Merge)
		}
	case And, Or:
		if fn.Result.Kind != schema.RefType || fn.Result.Type.Name != "Bool" {
			return nil, fmt.Errorf("fanout: %s answers %s: %s needs Bool", fn.Name, refName(fn.Result), r.Merge)
		}
	case Sorted:
		elem, ok := vectorElem(fn.Result)
		if !ok {
			return nil, fmt.Errorf("fanout: %s answers %s: sorted needs a vector", fn.Name, refName(fn.Result))
		}
		f, err := elemField(elem, r.SortField)
		if err != nil {
			return nil, fmt.Errorf("fanout: %s: sort_field: %w", fn.Name, err)
		}
		switch f.Type.Prim {
		case schema.PrimInt, schema.PrimLong, schema.PrimString, schema.PrimBytes:
		default:
			return nil, fmt.Errorf("fanout: %s: sort_field %q is %s: want int, long or string", fn.Name, r.SortField, refName(&f.Type))
		}
		if f.Cond != nil {
			return nil, fmt.Errorf("fanout: %s: sort_field %q is optional (fields mask)", fn.Name, r.SortField)
		}
		rule.SortField, rule.sortPrim, rule.sortBoxed = r.SortField, f.Type.Prim, f.Type.Kind == schema.RefType
		rule.sortAt = fixedOffset(elem, r.SortField)
		rule.Descending, rule.DefaultLimit = r.Descending, r.DefaultLimit
		if r.LimitArg != "" {
			a := argField(fn, r.LimitArg)
			if a == nil || a.Cond != nil || a.Type.Prim != schema.PrimInt {
				return nil, fmt.Errorf("fanout: %s: limit_arg %q is not an unconditional int argument", fn.Name, r.LimitArg)
			}
			rule.LimitArg, rule.limitBoxed = r.LimitArg, a.Type.Kind == schema.RefType
		}
	}
	return rule, nil
}

func refName(ref *schema.TypeRef) string {
	switch {
	case ref == nil:
		return "nothing"
	case ref.Ctor != nil:
		return ref.Ctor.Name
	case ref.Type != nil:
		return ref.Type.Name
	case ref.Kind == schema.RefParam:
		return "a template parameter"
	}
	return "an array"
}

// vectorElem returns the element type of a Vector t / vector t result.
func vectorElem(ref *schema.TypeRef) (*schema.TypeRef, bool) {
	if ref == nil || (ref.Kind != schema.RefType && ref.Kind != schema.RefCtor) || ref.Type == nil {
		return nil, false
	}
	if ref.Type.Name != "Vector" || len(ref.Args) != 1 || ref.Args[0].Nat {
		return nil, false
	}
	return ref.Args[0].Type, true
}

func isDictionary(ref *schema.TypeRef) bool {
	if ref == nil || ref.Type == nil {
		return false
	}
	switch ref.Type.Name {
	case "Dictionary", "IntKeyDictionary", "LongKeyDictionary":
		return true
	}
	return false
}

// elemCtor returns the constructor of a vector's element type when it has
// exactly one (events.Event), which sorted merges need to find the field.
func elemField(elem *schema.TypeRef, name string) (*schema.Field, error) {
	var c *schema.Combinator
	switch {
	case elem.Kind == schema.RefCtor:
		c = elem.Ctor
	case elem.Kind == schema.RefType && elem.Type != nil && len(elem.Type.Constructors) == 1:
		c = elem.Type.Constructors[0]
	default:
		return nil, fmt.Errorf("the elements (%s) are not of a one-constructor type", refName(elem))
	}
	for i := range c.Fields {
		if c.Fields[i].Name == name {
			return &c.Fields[i], nil
		}
	}
	return nil, fmt.Errorf("%s has no field %q", c.Name, name)
}

// fixedOffset returns the offset of field name in an element of type
// elem when every field before it is an unconditional fixed-size
// primitive, else -1.
func fixedOffset(elem *schema.TypeRef, name string) int {
	var c *schema.Combinator
	off := 0
	switch {
	case elem.Kind == schema.RefCtor:
		c = elem.Ctor
	case elem.Kind == schema.RefType && elem.Type != nil && len(elem.Type.Constructors) == 1:
		c, off = elem.Type.Constructors[0], 4
		if c.Default {
			off = 0 // "_": written without a tag
		}
	default:
		return -1
	}
	for i := range c.Fields {
		f := &c.Fields[i]
		if f.Name == name {
			return off
		}
		if f.Cond != nil || f.Excl {
			return -1
		}
		if f.Type.Kind == schema.RefType {
			off += 4 // a boxed primitive's tag
		} else if f.Type.Kind != schema.RefCtor && f.Type.Kind != schema.RefNat {
			return -1
		}
		switch f.Type.Prim {
		case schema.PrimNat, schema.PrimInt, schema.PrimFloat:
			off += 4
		case schema.PrimLong, schema.PrimDouble:
			off += 8
		default:
			return -1
		}
	}
	return -1
}

func argField(fn *schema.Combinator, name string) *schema.Field {
	for i := range fn.Fields {
		if fn.Fields[i].Name == name {
			return &fn.Fields[i]
		}
	}
	return nil
}

// missingCtor encodes the element answered for a failed shard's keys: a
// field-less constructor of the (boxed) element type, written as its tag.
func missingCtor(elem *schema.TypeRef, name string) ([]byte, error) {
	if elem.Kind != schema.RefType || elem.Type == nil || elem.Prim != schema.PrimNone {
		return nil, fmt.Errorf("missing = %q: the elements (%s) are not a boxed type with constructors", name, refName(elem))
	}
	for _, c := range elem.Type.Constructors {
		if c.Name != name {
			continue
		}
		if len(c.Fields) != 0 || c.Default {
			return nil, fmt.Errorf("missing = %q has fields: the proxy cannot invent their values", name)
		}
		return tl.AppendUint32(nil, c.Tag), nil
	}
	return nil, fmt.Errorf("missing = %q is not a constructor of %s", name, elem.Type.Name)
}

package tljson

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// Limits on hostile input.
const (
	// MaxDepth bounds how deeply values nest (each constructor, array and
	// nested call is one level), on both sides of the conversion.
	MaxDepth = 64
	// MaxZeroSize bounds the array elements that occupy no bytes (bare
	// true, empty tuples) in one decoded value: they cost no input, so the
	// input length alone cannot bound the output.
	MaxZeroSize = tl.MaxZeroSizeCount
)

// maxJSONDepth bounds the parsed JSON tree; a TL level takes at most two
// JSON levels (an object holding an array).
const maxJSONDepth = 2*MaxDepth + 2

// errNoType reports a nil or zero Type given to EncodeValue or DecodeValue.
func errNoType() error {
	return &Error{Offset: -1, Err: ErrTypeExpr, Msg: "no type (use ParseType, TypeOf or ResultType)"}
}

// Codec converts values of one schema between TL1 binary and JSON. It
// holds no mutable state and is safe for concurrent use.
type Codec struct {
	s   *schema.Schema
	nat *Type
}

// New returns a codec for s.
func New(s *schema.Schema) *Codec {
	return &Codec{s: s, nat: &Type{nat: true}}
}

// Schema returns the codec's schema.
func (c *Codec) Schema() *schema.Schema { return c.s }

// Function returns the function named name or an ErrUnknown error that
// lists close names.
func (c *Codec) Function(name string) (*schema.Combinator, error) {
	if fn := c.s.Function(name); fn != nil {
		return fn, nil
	}
	return nil, &Error{Offset: -1, Err: ErrUnknown, Msg: fmt.Sprintf("unknown function %q%s", name, c.suggest(name, true))}
}

// TypeOf closes a type reference taken from the schema (a field's or a
// function result's type) that refers to no template parameter and no
// field: "Vector memcache.Value" yes, "Tuple t n" no (use ResultType for
// results).
func (c *Codec) TypeOf(ref *schema.TypeRef) (*Type, error) {
	e := &env{c: &schema.Combinator{Name: "a free type reference"}}
	if ref.Kind == schema.RefArray {
		return nil, &Error{Offset: -1, Err: ErrTypeExpr, Msg: "an array is not a type"}
	}
	t, err := e.resolve(ref, nil, c.nat)
	if err != nil {
		return nil, &Error{Offset: -1, Err: ErrTypeExpr, Msg: err.Error()}
	}
	return t, nil
}

// EncodeCall appends the boxed call of fn (its tag, then its arguments)
// given its arguments as a JSON object. A "_" member is optional and must
// name fn.
func (c *Codec) EncodeCall(dst []byte, fn *schema.Combinator, args []byte) ([]byte, error) {
	if fn == nil || !fn.Function {
		return dst, &Error{Offset: -1, Err: ErrUnknown, Msg: "not a function"}
	}
	j, err := parseJSON(args, maxJSONDepth)
	if err != nil {
		return dst, err
	}
	en := &encoder{c: c, out: dst}
	if _, _, _, err := en.call(j, fn); err != nil {
		return dst, err
	}
	return en.out, nil
}

// DecodeCall returns a boxed function call as JSON:
// {"_":"function", "arg": value, ...}.
func (c *Codec) DecodeCall(call []byte) ([]byte, error) {
	d := c.newDecoder(nil, call)
	if _, _, _, err := d.call(); err != nil {
		return nil, err
	}
	return d.out, d.finish()
}

// EncodeValue appends the TL1 form of the JSON value js of type t.
func (c *Codec) EncodeValue(dst []byte, t *Type, js []byte) ([]byte, error) {
	if !t.valid() {
		return dst, errNoType()
	}
	j, err := parseJSON(js, maxJSONDepth)
	if err != nil {
		return dst, err
	}
	en := &encoder{c: c, out: dst}
	if err := en.value(t, j); err != nil {
		return dst, err
	}
	return en.out, nil
}

// DecodeValue returns the JSON form of bin, which must hold exactly one
// value of type t.
func (c *Codec) DecodeValue(t *Type, bin []byte) ([]byte, error) {
	if !t.valid() {
		return nil, errNoType()
	}
	d := c.newDecoder(nil, bin)
	if err := d.value(t); err != nil {
		return nil, err
	}
	return d.out, d.finish()
}

// ResultType returns the type of the answer to request, a boxed call: the
// function's result with the request's '#' fields and !X results bound
// (tl.md §3.4, §5.7). fn may be nil; otherwise the request must call fn.
func (c *Codec) ResultType(fn *schema.Combinator, request []byte) (*Type, error) {
	d := c.newDecoder(nil, request)
	got, e, fr, err := d.call()
	if err != nil {
		return nil, err
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	if fn != nil && got != fn {
		return nil, &Error{Offset: 0, Err: ErrUnknown, Msg: fmt.Sprintf("request calls %s, not %s", got.Name, fn.Name)}
	}
	t, err := e.resolve(got.Result, fr, c.nat)
	if err != nil {
		return nil, &Error{Offset: -1, Err: ErrSchema, Msg: fmt.Sprintf("result of %s: %v", got.Name, err)}
	}
	return t, nil
}

// DecodeResult returns the JSON form of response, the answer of fn to
// request (see ResultType).
func (c *Codec) DecodeResult(fn *schema.Combinator, request, response []byte) ([]byte, error) {
	t, err := c.ResultType(fn, request)
	if err != nil {
		return nil, err
	}
	return c.DecodeValue(t, response)
}

// suggest lists up to five declared names close to name (sharing its
// namespace or a prefix, or within a small edit distance), formatted as
// " (did you mean a, b?)", or "" when none is close.
func (c *Codec) suggest(name string, functions bool) string {
	type cand struct {
		name string
		dist int
	}
	var cands []cand
	lname := strings.ToLower(name)
	for _, cb := range c.s.Combinators {
		if cb.Function != functions || cb.Default {
			continue
		}
		ln := strings.ToLower(cb.Name)
		dist := editDistance(lname, ln)
		if dist <= 1+len(name)/10 || strings.Contains(ln, lname) || strings.Contains(lname, ln) {
			cands = append(cands, cand{cb.Name, dist})
		}
	}
	if len(cands) == 0 {
		return ""
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].dist < cands[j].dist })
	if len(cands) > 5 {
		cands = cands[:5]
	}
	names := make([]string, len(cands))
	for i, cd := range cands {
		names[i] = cd.name
	}
	return " (did you mean " + strings.Join(names, ", ") + "?)"
}

// editDistance is the Levenshtein distance of a and b, in bytes. Names are
// short, so the quadratic cost does not matter; inputs are capped to keep
// it that way for hostile names.
func editDistance(a, b string) int {
	const maxLen = 64
	if len(a) > maxLen {
		a = a[:maxLen]
	}
	if len(b) > maxLen {
		b = b[:maxLen]
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

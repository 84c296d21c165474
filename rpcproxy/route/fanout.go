package route

import (
	"encoding/binary"
	"fmt"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/rpcproxy/fanout"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// Spread says whether a request goes to one shard or to several.
type Spread uint8

const (
	// One: a single shard, chosen by Shard.
	One Spread = iota
	// Diagonal: rpcProxy.diagonal: the inner call to every shard, one
	// Maybe per shard back.
	Diagonal
	// Split: a vector key argument: each shard gets its keys only.
	Split
	// Merge: a scatter function: the call to every shard, answers merged.
	Merge
)

func (s Spread) String() string {
	switch s {
	case Diagonal:
		return "diagonal"
	case Split:
		return "split"
	case Merge:
		return "merge"
	}
	return "one shard"
}

// Spread decides how req leaves cluster c. For Diagonal, call is the inner
// call every shard gets; for Split and Merge, rule is the function's
// fan-out and call is req.Body. A request with forward keys in its extra
// goes to the one shard they name (One), as does anything in a cluster of
// one shard (there a split or merge would answer what the shard answers),
// except a diagonal, whose answer is a vector of per-shard Maybes.
func (t *Table) Spread(c *Cluster, req *rpc.InvokeReq) (s Spread, rule *fanout.Rule, call []byte) {
	if req.TL2 {
		return One, nil, nil
	}
	tag, ok := req.FunctionTag()
	if !ok {
		return One, nil, nil
	}
	if tag == rpc.TagProxyDiagonal { // checked first: UnwrapDiagonal's miss allocates an error
		if inner, ok := rpc.UnwrapDiagonal(req.Body); ok {
			return Diagonal, nil, inner
		}
	}
	const forward = rpc.FlagStringForwardKeys | rpc.FlagIntForwardKeys | rpc.FlagStringForward | rpc.FlagIntForward
	if len(c.Shards) < 2 || req.Extra.Flags&forward != 0 || t.fan == nil {
		return One, nil, nil
	}
	rule = c.fanout[tag]
	if rule == nil {
		if _, named := c.rules[tag]; named {
			return One, nil, nil // a rule naming a scalar key
		}
		rule = t.splits[tag]
	}
	switch {
	case rule == nil:
		return One, nil, nil
	case rule.Kind == fanout.KindSplit:
		return Split, rule, req.Body
	}
	return Merge, rule, req.Body
}

// Coalescing returns c's split rules whose sub-requests may be joined
// (coalesce = true).
func (c *Cluster) Coalescing() []*fanout.Rule {
	var out []*fanout.Rule
	for _, r := range c.fanout {
		if r.Coalesce {
			out = append(out, r)
		}
	}
	return out
}

// Fanout returns the table's split and merge logic (nil without a schema).
func (t *Table) Fanout() *fanout.Fanout { return t.fan }

// FanoutRule returns cluster c's fan-out rule for function name, or nil;
// for `rpcproxy route` and tests.
func (t *Table) FanoutRule(c *Cluster, name string) *fanout.Rule {
	if t.schema == nil {
		return nil
	}
	fn := t.schema.Function(name)
	if fn == nil {
		return nil
	}
	if r := c.fanout[fn.Tag]; r != nil {
		return r
	}
	if _, named := c.rules[fn.Tag]; named {
		return nil
	}
	return t.splits[fn.Tag]
}

// lookupTag is the function tag a request is routed by: the inner call's
// for rpcProxy.diagonal.
func lookupTag(req *rpc.InvokeReq) (uint32, bool) {
	tag, ok := req.FunctionTag()
	if ok && tag == rpc.TagProxyDiagonal && !req.TL2 {
		if inner, ok := rpc.UnwrapDiagonal(req.Body); ok {
			return binary.LittleEndian.Uint32(inner), true
		}
	}
	return tag, ok
}

// buildFanout compiles cluster c's fan-out rules, and (once, c == nil) the
// default split of every function whose key is a vector argument.
func (t *Table) buildFanout(c *Cluster, cc *configs.Cluster) error {
	if c == nil {
		for _, fn := range t.schema.Combinators {
			if !fn.Function {
				continue
			}
			if arg := splitArg(fn, ""); arg != "" {
				r, err := fanout.Compile(fn, configs.FunctionRule{Name: fn.Name, OnError: configs.OnErrorFail}, arg)
				if err != nil {
					continue // no positional answer: such a call stays single-shard (no key)
				}
				t.splits[fn.Tag] = r
			}
		}
		return nil
	}
	for _, r := range cc.Rules {
		fn := t.schema.Function(r.Name)
		if fn == nil {
			continue // reported by Build
		}
		arg := ""
		if r.Merge == "" {
			arg = splitArg(fn, r.Key)
			if arg == "" {
				if r.Align != "" || r.OnError == configs.OnErrorPartial && r.Key != "" || r.Missing != "" || r.Coalesce {
					return fmt.Errorf("route: cluster %q: function %s: align, on_error, missing and coalesce need a vector key argument (key = the vector of keys)", cc.Name, r.Name)
				}
				continue // a scalar key: one shard
			}
		}
		rule, err := fanout.Compile(fn, r, arg)
		if err != nil {
			return fmt.Errorf("route: cluster %q: %w", cc.Name, err)
		}
		c.fanout[fn.Tag] = rule
	}
	return nil
}

// splitArg returns the vector argument a split of fn cuts: the argument
// key names if it is a vector, or with key "", the first unconditional
// vector argument of a function with no int, long or string argument (the
// tl/walk default key). "" means fn has a scalar key or none.
func splitArg(fn *schema.Combinator, key string) string {
	if key != "" {
		for i := range fn.Fields {
			f := &fn.Fields[i]
			if f.Name == key && f.Cond == nil && isVector(&f.Type) {
				return key
			}
		}
		return ""
	}
	for i := range fn.Fields {
		f := &fn.Fields[i]
		if f.Cond == nil && keyPrim(f.Type.Prim) && f.Type.Kind != schema.RefNat {
			return ""
		}
	}
	for i := range fn.Fields {
		f := &fn.Fields[i]
		if f.Cond == nil && isVector(&f.Type) {
			return f.Name
		}
	}
	return ""
}

// isVector reports whether ref is Vector t, vector t or %(Vector t), the
// shapes the tl/walk key finder yields KindVector for.
func isVector(ref *schema.TypeRef) bool {
	if ref.Kind != schema.RefType && ref.Kind != schema.RefCtor || ref.Prim != schema.PrimNone || ref.Type == nil {
		return false
	}
	return ref.Type.Name == "Vector" && len(ref.Args) == 1 && !ref.Args[0].Nat
}

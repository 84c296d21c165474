package route

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/walk"
)

func noTarget(format string, args ...any) *rpc.Error {
	return &rpc.Error{Code: rpc.CodeProxyNoTarget, Description: "rpcproxy: " + fmt.Sprintf(format, args...)}
}

// Lookup finds the cluster of req received on the listener configured at
// listen (the proxy's main listen address or a cluster's own). Errors are
// *rpc.Error with CodeProxyNoTarget.
func (t *Table) Lookup(listen netip.AddrPort, req *rpc.InvokeReq) (*Cluster, error) {
	if req.ActorID != 0 {
		if c := t.byActor[req.ActorID]; c != nil {
			return c, nil
		}
		return nil, noTarget("no cluster has actor id %d", req.ActorID)
	}
	if c := t.byListen[listen]; c != nil {
		return c, nil
	}
	tag, ok := lookupTag(req)
	if !ok {
		return nil, noTarget("request on %s has no function tag", listen)
	}
	if c := t.byTag[tag]; c != nil {
		return c, nil
	}
	return nil, noTarget("no cluster for function %s: no actor id, %s is not a cluster's port, and no cluster's functions match", t.FunctionName(tag), listen)
}

// Key finds req's routing key for cluster c. Forward keys come first; a
// *_forward_keys element used as the key is removed from req.Extra, so the
// caller must re-encode the envelope. A Key of kind KeyNone means the
// request carries no key at all.
func (t *Table) Key(c *Cluster, req *rpc.InvokeReq) (Key, error) {
	e := &req.Extra
	if s, ok := e.DropFirstStringForwardKey(); ok {
		return Key{Kind: KeyString, Str: s}, nil
	}
	if v, ok := e.DropFirstIntForwardKey(); ok {
		return Key{Kind: KeyInt, Int: v}, nil
	}
	if e.Flags&rpc.FlagStringForward != 0 {
		return Key{Kind: KeyString, Str: e.StringForward}, nil
	}
	if e.Flags&rpc.FlagIntForward != 0 {
		return Key{Kind: KeyInt, Int: e.IntForward}, nil
	}
	if req.TL2 {
		return Key{}, nil // TL2 bodies have another layout; only forward keys route them
	}
	tag, ok := req.FunctionTag()
	if !ok {
		return Key{}, nil
	}
	p := c.rules[tag]
	if p == nil {
		p = t.keys[tag]
	}
	if p != nil && p.ok {
		k, err := p.extract(req.Body)
		if err != nil {
			return Key{}, noTarget("cluster %s: cannot read the key of %s: %v", c.Name, t.FunctionName(tag), err)
		}
		return k, nil
	}
	if c.keys == nil || p == nil {
		return Key{}, nil
	}
	// The walker validates the whole call and reaches keys behind
	// optional or composite fields.
	v, err := c.keys.Key(req.Body)
	switch {
	case errors.Is(err, walk.ErrNoKey):
		return Key{}, nil
	case err != nil:
		return Key{}, noTarget("cluster %s: cannot read the key of %s: %v", c.Name, t.FunctionName(tag), err)
	}
	switch v.Kind {
	case walk.KindInt, walk.KindLong:
		return Key{Kind: KeyInt, Int: v.Int}, nil
	case walk.KindString:
		return Key{Kind: KeyString, Str: v.Bytes}, nil
	}
	return Key{}, nil // a vector key: the function is a split (Spread), placed per key
}

// Shard returns the shard of req in cluster c, consuming a forward key as
// Key does.
func (t *Table) Shard(c *Cluster, req *rpc.InvokeReq) (int, error) {
	i, _, err := t.ShardKey(c, req)
	return i, err
}

// ShardKey is Shard, also returning the key that placed the request
// (KeyNone when it has none and the cluster one shard). The key aliases
// req; Key has dropped any forward key it used from req.Extra.
func (t *Table) ShardKey(c *Cluster, req *rpc.InvokeReq) (int, Key, error) {
	k, err := t.Key(c, req)
	if err != nil {
		return 0, k, err
	}
	switch k.Kind {
	case KeyInt:
		return c.Picker.PickInt(k.Int), k, nil
	case KeyString:
		i, err := c.Picker.Pick(k.Str)
		if err != nil {
			return 0, k, noTarget("cluster %s: %v", c.Name, err)
		}
		return i, k, nil
	}
	if len(c.Shards) == 1 {
		return 0, k, nil
	}
	return 0, k, t.noKey(c, req)
}

func (t *Table) noKey(c *Cluster, req *rpc.InvokeReq) error {
	tag, _ := req.FunctionTag()
	why := "no key argument"
	switch {
	case req.TL2:
		why = "a TL2 request carries its key only in forward keys"
	case c.rules[tag] != nil && c.rules[tag].ok:
	case c.rules[tag] != nil:
		why = c.rules[tag].why
	case t.keys[tag] != nil:
		why = t.keys[tag].why
	case t.schema == nil:
		why = "no schema is loaded (proxy.schemas) to find its key argument"
	default:
		why = "the function is not in the schemas"
	}
	return noTarget("no key for %s in cluster %s (%d shards): %s, and the request has no forward keys; the proxy never guesses a shard",
		t.FunctionName(tag), c.Name, len(c.Shards), why)
}

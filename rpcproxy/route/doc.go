// Package route is the proxy's routing table: which cluster a request goes
// to, which key it carries, which shard owns the key and which engines hold
// the shard. A Table is built from a validated config and the TL schema off
// the request path, is immutable afterwards, and is published by the proxy
// with an atomic pointer swap (grpc-go's picker snapshot, VK's validate ->
// copy -> build -> swap); requests in flight keep the Table they started with.
//
// # Lookup order (wire.md §4.2, sharding.md §2)
//
//	cluster: actor id (rpcDestActor*) -> the listener's own cluster -> the
//	         function tag (precomputed tag -> cluster map from the schema and
//	         the clusters' functions patterns) -> PROXY_NO_TARGET
//	key:     string_forward_keys[0], int_forward_keys[0] (both removed from
//	         the request: one element per proxy hop), string_forward,
//	         int_forward (kept), then the function's key argument: the
//	         cluster's [[cluster.function]] key, else the first int, long or
//	         string argument
//	shard:   the cluster's sharding.Picker; no key with more than one shard
//	         is PROXY_NO_TARGET naming the function and the cluster
//
// # Spread (fan-out, package fanout)
//
// Before the key, Spread says whether a request leaves for several shards:
//
//	rpcProxy.diagonal query:!X   Diagonal: the inner call to every shard; the
//	                             cluster is looked up by the inner function
//	forward keys in the extra    One: they name the shard (they win)
//	cluster of one shard         One: a split or merge would change nothing
//	[[cluster.function]] merge   Merge: the call to every shard
//	a vector key argument        Split (memcache.getMulti keys:%(Vector
//	                             string), or key = a vector argument):
//	                             positional, on_error = "fail" by default
//	anything else                One
//
// Everything the request path needs per function of a cluster (its
// counters, retry, rate limit, whether the shadow copies it) is one
// Function, found once per request by Cluster.Function from a
// copy-on-write map filled on a function's first request.
//
// After the shard, a cluster with a Shadow may copy the request:
// ShadowShard takes the key that placed it, keeps it when the top 32 bits
// of its xxhash fall below share × 2^32 and the function is among those
// copied, and places it with the shadow cluster's own Picker.
//
// Fan-out rules are compiled against the schema by fanout.Compile in
// Build, so a rule that cannot work (a positional partial split without
// missing, a sort field the elements lack) refuses the whole config. So
// does a functions pattern that can route nothing: one without schemas
// (a request names its function by tag, and only the schemas name tags),
// or one that matches none of their functions.
//
// A non-zero actor id that names no cluster is refused (PROXY_NO_TARGET),
// never routed by port or function instead: an app that says which cluster
// it means must not be sent elsewhere.
//
// # Invariants
//
//   - Lookups take no lock and do not allocate when a target is found; the
//     PROXY_NO_TARGET errors (*rpc.Error) name what was looked up: actor
//     id, listen address, function name or tag in hex, cluster.
//   - Keys never move because of health: a shard's engines are a fixed list.
//   - Key extraction has two tiers. Functions whose key follows only
//     unconditional primitives (memcache.get, set, incr...) use a flat
//     plan that reads just the bytes up to the key. Every other function
//     goes to the schema walker (tl/walk Keys, with the cluster's rules),
//     which validates the whole call and reaches keys behind optional or
//     composite fields. A vector key (getMulti) counts as no key here: Spread
//     sends such calls to the proxy's split instead.
//   - Build acquires every engine from the Engines it is given and Release
//     gives them back; a Build that fails has acquired nothing.
package route

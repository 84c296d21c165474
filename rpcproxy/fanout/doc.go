// Package fanout is the proxy's fan-out logic on bytes, with no I/O: it
// plans how one request becomes several shard requests and merges their
// answers into one. The proxy (package rpcproxy) sends the sub-requests
// and fills in each shard's Answer; everything here is pure and is tested
// with fakes that log every sub-request.
//
// # Three shapes
//
//	split     memcache.getMulti keys:%(Vector string)  (a vector key argument)
//	          Split: each key -> its shard (Placer); shard s gets the call
//	          with only its keys (element byte ranges copied, count
//	          rewritten; cut from the key ranges recorded while placing
//	          the keys, so the call is walked once; walk.SplitBy for
//	          n*[...] arrays); shards without keys are not asked.
//	          MergeSplit, positional: element i of the answer answers key i:
//	            out = prefix | n | for each key i: next element of shard
//	                  ShardOf[i]'s answer (or Missing when it failed)
//	          MergeSplit, dictionary: the shards' entries are joined.
//	merge     a function configured with merge = ...: the same call to every
//	          shard; Merge joins the answers by strategy:
//	            concat  counts summed, element byte ranges copied in shard order
//	            sum/min/max  Int or Long (walk.ResultValue); and/or  Bool
//	            sorted  k-way merge by the elements' sort field: a heap of one
//	                    cursor per shard (ties: lower shard first), stopping
//	                    at the request's limit (<= 0: the rule's default)
//	            first   the first answer by shard order that is not empty
//	                    (empty: resultFalse, or a vector with no elements);
//	                    the first answer when all are empty
//	diagonal  rpcProxy.diagonal query:!X = Vector (Maybe X): the inner call
//	          to every shard; Diagonal answers one Maybe per shard in shard
//	          order: resultTrue + the answer as it came, resultFalse for a
//	          shard that failed.
//
// # Partial failure (vitess' scatter: the caller decides)
//
// Each shard's outcome is an Answer (OK with its body, Failed with its
// *rpc.Error, or Idle when not asked). With on_error = "fail" any failed
// shard makes the request fail with the first failed shard's error by
// shard order, code and text unchanged. With "partial" the answer is built
// from the shards that answered and the number of failed shards is
// returned (the proxy puts it in failed_subqueries); if no shard answered,
// the first error is the answer. A positional split cannot leave a key
// out, so in partial mode the keys of failed shards get the rule's Missing
// constructor (memcache.not_found); Compile refuses a positional partial
// rule without one. A shard whose answer is malformed for the merge (wrong
// type, wrong element count, a different vector shape) counts as failed
// with PROXY_INVALID_RESPONSE. Sub-answers' result extras are dropped.
//
// # Invariants
//
//   - Bytes are copied, never re-encoded: elements, boxing tags and the
//     shards' answers reach the app as the engines wrote them; only counts
//     (and folded scalars) are written by the proxy.
//   - Every answer is validated by the walker before any of it is used.
//   - No allocation per key or per element in steady state: plans (key ->
//     shard, sub-calls) and merge scratch (iterators, heap) are pooled per
//     Fanout; the output is appended to the caller's buffer.
//   - No package-level mutable state.
package fanout

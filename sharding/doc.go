// Package sharding places keys on shards and requests on replicas. It does
// placement only: no I/O, no clocks, no logging, and it imports no other
// package of this project.
//
// A cluster has N shards numbered 0..N-1 in config order. A [Picker] maps a
// request key to a shard index with one of four modes (see
// sharding.md §3 in the project docs):
//
//   - firstint: the first run of decimal digits of a string key (or an int key
//     itself), Euclidean remainder mod N. Keeps one entity's data together.
//   - hash: CRC32-IEEE (or XXH64) of the key bytes mod N.
//   - ketama: the libketama/libmemcached/twemproxy continuum, point for point
//     (float32 point counts, 4 points per MD5 digest, ties to the lower shard).
//   - bounded: github.com/buraksezer/consistent v1.0.0 (consistent hashing with
//     bounded loads), precomputed into a partition table.
//
// A Spec's optional hash tag (twemproxy's hash_tag, like "{}") places only
// the part of a string key between its first opening character and the
// next closing one, in every mode, so keys that share a tag share a shard.
//
// A [Balancer] chooses one replica of one shard with a policy (round_robin,
// weighted, least_outstanding, least_latency), fed by the Start/Finish/SetDown
// observations the upstream side reports.
//
// Invariants:
//
//   - A Picker is immutable once NewPicker returns. Pick and PickInt take no
//     lock, do not allocate on success and do not retain the key, so any number
//     of goroutines may share one Picker; a config reload builds a new one.
//   - Placement is a pure function of the Spec: the same Spec places every key
//     on the same shard in every process and every release. Ketama placement
//     equals twemproxy 0.5.0's for the same names, weights and key hash.
//   - An int key and its decimal text land on the same shard in every hashing
//     mode (42 and "42" agree), with or without a hash tag (tags cannot be
//     digits or '-').
//   - A shard's health never moves its keys: choosing another replica of the
//     same shard is the Balancer's job; the Picker never skips a shard.
//   - Balancer.Pick takes no lock and does not allocate; it never returns a
//     replica marked down.
package sharding

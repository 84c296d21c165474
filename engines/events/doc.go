// Package events is the second sample engine: timestamped events stored
// per key in memory, with one read function for each merge strategy of
// the proxy's fan-out (concat, sum, min, max, and, or, sorted, first), so
// that every strategy runs end to end against a real engine. It is served
// by engines.Server like engines/memcache; events.tl is its schema.
//
// # Functions, answers and the merge each is meant for
//
//	events.add        fa2d5000 key ts:long text  -> Long (new id)          single shard (key)
//	events.delete     be3dac7c key               -> Int (events removed)   single shard (key)
//	events.list       fdec8e88 key limit:int     -> Vector events.Event    single shard (key), oldest first
//	events.search     5412c1eb query limit:int   -> Vector events.Event    sorted by ts desc, limit from limit
//	events.listAll    1e9d46f6 limit:int         -> Vector events.Event    concat
//	events.count      8b473f4f query             -> Int                    sum
//	events.textBytes  dba5c38a query             -> Long                   sum
//	events.minTs      3e5280da query             -> Long (none: 2^63-1)    min
//	events.maxTs      00e74852 query             -> Long (none: -2^63)     max
//	events.has        4671ad27 query             -> Bool                   or
//	events.allMatch   ef52cdfc query             -> Bool (empty: true)     and
//	events.firstMatch 511e7d91 query             -> Maybe events.Event     first
//
//	events.Event = events.event 1df43c66 id:long ts:long key:string text:string
//
// Merges returns the same table in Go (a test keeps it in step with the
// "Merge:" comments of events.tl).
//
// An event matches query when its text contains it (bytes.Contains; the
// empty query matches everything).
//
// minTs and maxTs answer a plain Long, not Maybe long: when nothing
// matches they answer the identity of their merge (MaxInt64 for min,
// MinInt64 for max), so the proxy's generic min/max over Int/Long answers
// (walk.ResultValue) is right without knowing about absence, and add
// refuses those two values as timestamps so they never mean a real event.
// Likewise allMatch on an empty shard is true, the identity of and.
//
// Limits (limit:int of list, search, listAll): 1..MaxLimit is used as
// given, <= 0 means DefaultLimit, above MaxLimit is VALUE_NOT_IN_RANGE.
// A sorted merge must apply the same rule to the limit it reads from the
// request (<= 0 means DefaultLimit = 100).
//
// Orders are total on one engine: search is ts descending then id
// descending; list, listAll and firstMatch are ts ascending then id
// ascending. ids come from one counter per Store, so they increase with
// every add; across shards they repeat.
//
// # Errors
//
//	key > MaxKeyLen, text > MaxTextLen             TOO_LONG_STRING (-2003)
//	ts < 0 or ts = MaxInt64, limit > MaxLimit      VALUE_NOT_IN_RANGE (-2004)
//	MaxEvents events or MaxBytes bytes stored      OUT_OF_MEMORY (-3009), nothing evicted
//	malformed arguments / trailing bytes           TL_ERROR_SYNTAX / EXTRA_DATA (engines.End)
//
// # Invariants
//
//   - Events are immutable once stored: key and text are copied out of the
//     request buffer on add, so readers keep *event pointers after
//     unlocking and write answers without holding any lock.
//   - Keys map to one of Shards lock stripes by maphash; a write holds one
//     stripe, a fan-out read holds one stripe's read lock at a time, so a
//     read across stripes is not a snapshot (a concurrent add may or may
//     not be seen), which a fan-out across engines is not either.
//   - Memory is bounded: at most MaxEvents events and MaxBytes bytes (key
//     plus text plus a fixed overhead per event), reserved before the
//     event is stored; answers are bounded by MaxLimit events of at most
//     MaxKeyLen plus MaxTextLen bytes, which New keeps below one packet.
//   - Time comes only from the injected engines.Clock (ts = 0 on add).
//   - Reads scan every event of the store (O(events)): this is a test
//     engine for merges, not an index.
package events

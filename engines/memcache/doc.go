// Package memcache is the sample memcache engine: an in-memory store that
// answers VK's memcache.* functions byte for byte (memcache.tl, tl.md
// §8.1), plus memcache.getMulti, served by engines.Server.
//
// # Functions and answers
//
//	memcache.get      d33b13ae key                       -> Value
//	memcache.set      eeeb54c4 key flags delay value     -> Bool (true)
//	memcache.add      a358f31c key flags delay value     -> Bool (false if the key is live)
//	memcache.replace  2ecdfaa2 key flags delay value     -> Bool (false unless the key is live)
//	memcache.incr     80e6c950 key value:long            -> longvalue (new value) | not_found
//	memcache.decr     6467e0d9 key value:long            -> longvalue (new value) | not_found
//	memcache.delete   ab505c0a key                       -> Bool (false if missing or expired)
//	memcache.getMulti 9b4978d9 keys:%(Vector string)     -> Vector Value, one per key, in order
//
//	Value = not_found            32c42422
//	      | strvalue value flags a6bebb1a string int
//	      | longvalue value flags 09729c42 long int
//
// get answers strvalue for values written by set/add/replace and
// longvalue for values last written by incr/decr: a counter reads back as
// the long it counts with (VK's C client reads both). incr on a string
// that is a decimal int64 converts it; on anything else it is BAD_VALUE
// (-2006, "cannot increment or decrement non-numeric value", memcached's
// words). Sums wrap around as signed 64-bit numbers (decr may go below 0:
// TL's long is signed, unlike memcached's counters). Flags are opaque and
// stored with the value; incr/decr keep flags and expiry.
//
// # Expiry
//
// delay as in memcached: 0 never expires, 1..2592000 (30 days) is seconds
// from now, larger is an absolute unix time, negative is already expired.
// Expired items are invisible at once (checked on every access and
// removed by the accessing write or a lazy delete) and reclaimed by a
// periodic sweep that looks at no more than SweepBudget items per run.
// Time comes from the injected engines.Clock.
//
// # Invariants
//
//   - Arguments are decoded by hand with the tl readers, strictly:
//     malformed is TL_ERROR_SYNTAX, trailing bytes EXTRA_DATA (via
//     engines.End).
//   - get on a hit allocates nothing; values are copied on write because
//     the request buffer is reused.
//   - Keys map to one of Shards lock stripes by maphash, so cores do not
//     serialize on one lock; no operation holds two stripes.
//   - Memory is bounded: keys <= MaxKeyLen, values <= MaxValueLen
//     (TOO_LONG_STRING), total <= MaxBytes (OUT_OF_MEMORY, no eviction).
package memcache

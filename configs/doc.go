// Package configs loads the proxy's TOML config: one file describing the
// proxy's own listeners and limits and every cluster behind it. Load and
// Parse decode, apply defaults and validate in one pass, so a *Config that
// comes back is complete and internally consistent; the proxy applies no
// defaults of its own.
//
// The example files beside this package (*.toml) are loaded by a test, so
// every example stays valid. production.toml documents every key, its
// default and its limits.
//
// # Invariants
//
//   - Strict: an unknown key, a value of the wrong type, an out-of-range number
//     or a name the sharding package does not know is an error, never ignored
//     or clamped. A typo must not silently become a default.
//   - Every problem at once: Load and Parse return an *Error listing every
//     problem in the file, each with file, line, key path
//     ("cluster[1].shards[0].replicas[2]"), the bad value and what is allowed.
//     A TOML syntax error is the one exception: nothing after it can be read,
//     so it is reported alone, with line and column.
//   - Durations are strings for time.ParseDuration ("250ms") and are > 0.
//   - Listen addresses are IP literals with a port 1..65535; engine (replica)
//     addresses may use host names. No two listeners (proxy.listen,
//     proxy.admin, any cluster's listen) share a port on overlapping
//     addresses; 0.0.0.0 and :: overlap every address.
//   - Cluster names, actor ids and listen addresses are unique. Shard names are
//     unique within a cluster (two ketama shards of one name would share ring
//     points), and an engine address appears once per cluster.
//   - Keys never move because of health: Health only controls fail-fast and
//     failover between replicas of the same shard. A rule's retry = true
//     needs failover; health.retry_budget (0..1, default 0.1) caps the
//     retries per second at that share of the cluster's requests plus
//     RetryFloor.
//   - No schema file is opened here: schema paths are only made absolute
//     (relative to the config file's directory). The proxy reports a missing
//     schema when it loads them, so checking a config needs no schema files.
//   - UDP needs a key: [proxy] key_file (made absolute against the config
//     file's directory, read by ReadKey when the proxy starts: the file's
//     bytes as is, 32..4096) turns on UDP listening (udp, default true
//     with a key) and allows transport = "udp" for clusters; udp = true or
//     transport = "udp" without it is an error. An engine address has one
//     transport in every cluster that lists it. udp_idle_after ("1s" to
//     "24h" or "off", default 1m) is when idle UDP app peers are parked.
//
// # Decoding
//
// The file is parsed by github.com/BurntSushi/toml into generic maps and read
// from those by hand (table.go). Decoding into structs would stop at the first
// type error, and MetaData.Undecoded names unknown keys without array indexes
// ("cluster.shards.nmae" rather than "cluster[2].shards[0].nmae"), so the
// unknown-key check is done by the same reader: each table lists the keys it
// asked for, and everything else is rejected with that list. The TOML library
// keeps key positions private, so positions.go finds every key's line with a
// second, structural scan of the (already valid) source.
//
// # Function routing
//
// A cluster's functions entries are TL function names with at most one '*',
// at the very end:
//
//	memcache.get   that function only
//	memcache.*     every function of namespace memcache
//	memcache.get*  memcache.get, memcache.getMulti, ...
//	*              every function
//
// There is no precedence between clusters: if any function name could match
// patterns of two clusters (memcache.* and memcache.get, or * and anything),
// the file is rejected. A request's cluster therefore never depends on
// pattern order or specificity, and adding a cluster cannot quietly take
// functions from another. Within one cluster overlapping patterns are
// harmless. Requests also reach a cluster through its own listen port or its
// actor_id, whatever their function; a cluster with none of the three is
// rejected as unreachable.
//
// # Fan-out ([[cluster.function]])
//
// A function whose key argument is a vector (memcache.getMulti keys, or any
// key = "a vector argument") is split by shard; align says how the answer
// lines up with the keys ("positional": element i answers key i, the
// default; "dictionary": the shards' entries are joined). merge = "concat"
// | "sum" | "min" | "max" | "and" | "or" | "sorted" | "first" makes a
// function a scatter to every shard instead; sorted takes sort_field,
// descending, limit_arg and default_limit (100). on_error = "fail" (the
// default) or "partial" applies to both; a positional partial split needs
// missing, the field-less constructor answered for the keys of failed
// shards (memcache.not_found). coalesce = true (positional splits only)
// lets sub-requests of several requests to one engine leave as one call.
// These keys are checked against each other here, and against the schema
// when the proxy builds its table.
package configs

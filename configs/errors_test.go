package configs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// want is one expected problem: its line and a substring of its text
// ("path: message").
type want struct {
	line int
	sub  string
}

// minimal is a valid cluster that cases append to or replace.
const minimal = `
[[cluster]]
name = "a"
functions = ["a.*"]
shards = [{ replicas = ["127.0.0.1:7001"] }]
`

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name        string
		src         string
		expectedErr []want
	}{
		{
			name:        "syntax error gives line and column",
			src:         "[proxy]\nlisten = \"127.0.0.1:9300\"\ntimeout = 300ms\n",
			expectedErr: []want{{3, "TOML syntax"}},
		},
		{
			name:        "no clusters at all",
			src:         "[proxy]\nlisten = \"127.0.0.1:9300\"\n",
			expectedErr: []want{{0, "cluster: no clusters"}},
		},
		{
			name:        "empty file",
			src:         "",
			expectedErr: []want{{0, "no clusters"}},
		},
		{
			name: "unknown keys everywhere, with exact paths",
			src: `[proxi]
listen = "127.0.0.1:1"

[proxy.shutdown]
drain = "1s"
` + minimal + `
[[cluster]]
name = "b"
actor_id = 7
shards = [
  { replicas = ["127.0.0.1:7002"] },
  { replicas = ["127.0.0.1:7003"], wieght = 2 },
]
sharding = "hash"

[cluster.health]
consecutive_timeout = 3
`,
			expectedErr: []want{
				{1, "proxi: unknown key; allowed here: cluster, proxy"},
				{5, "proxy.shutdown.drain: unknown key; allowed here: drain_timeout"},
				{17, "cluster[1].shards[1].wieght: unknown key; allowed here: name, replicas, weight"},
				{22, "cluster[1].health.consecutive_timeout: unknown key"},
			},
		},
		{
			name: "wrong types are all reported",
			src: `[proxy]
timeout = 5
max_connections = "many"
[[cluster]]
name = "a"
actor_id = "x"
functions = "a.*"
shards = [{ replicas = ["127.0.0.1:7001", 7] }]
[cluster.health]
failover = "yes"
`,
			expectedErr: []want{
				{2, `proxy.timeout: integer 5: want a duration string`},
				{3, `proxy.max_connections: "many": want an integer`},
				{6, `cluster[0].actor_id: "x": want an integer`},
				{7, `cluster[0].functions: "a.*": want an array of strings`},
				{8, `cluster[0].shards[0].replicas[1]: integer 7: want "host:port"`},
				{10, `cluster[0].health.failover: "yes": want true or false`},
			},
		},
		{
			name: "duplicate names, actor ids and listeners",
			src: `[proxy]
listen = "127.0.0.1:9300"
admin = "127.0.0.1:9300"
[[cluster]]
name = "a"
actor_id = 5
listen = "0.0.0.0:9300"
shards = [{ replicas = ["127.0.0.1:7001"] }]
[[cluster]]
name = "a"
actor_id = 5
listen = "127.0.0.1:9400"
shards = [{ replicas = ["127.0.0.1:7002"] }]
[[cluster]]
name = "c"
listen = "127.0.0.1:9400"
shards = [{ replicas = ["127.0.0.1:7003"] }]
`,
			expectedErr: []want{
				{3, `proxy.admin: 127.0.0.1:9300: overlaps listen`},
				{7, `cluster[0].listen: 0.0.0.0:9300: overlaps proxy.listen = 127.0.0.1:9300`},
				{10, `cluster[1].name: "a": already the name of cluster[0]`},
				{11, `cluster[1].actor_id: 5: already the actor_id of cluster[0]`},
				{16, `cluster[2].listen: 127.0.0.1:9400: overlaps cluster[1].listen`},
			},
		},
		{
			name: "cluster listen equal to the proxy listen",
			src: `[[cluster]]
name = "a"
listen = "127.0.0.1:9300"
shards = [{ replicas = ["127.0.0.1:7001"] }]
`,
			expectedErr: []want{{3, `cluster[0].listen: 127.0.0.1:9300: overlaps proxy.listen`}},
		},
		{
			name: "shards without replicas, duplicate names and replicas",
			src: `[[cluster]]
name = "a"
functions = ["a.*"]
sharding = "ketama"
shards = [
  { replicas = [] },
  { name = "x" },
  { name = "127.0.0.1:7001", replicas = ["127.0.0.1:7009"] },
  { replicas = ["127.0.0.1:7001"] },
  { replicas = [
      "127.0.0.1:7002",
      "127.0.0.1:7009",
  ] },
]
`,
			expectedErr: []want{
				{6, `cluster[0].shards[0].replicas: empty`},
				{7, `cluster[0].shards[1].replicas: missing`},
				{9, `cluster[0].shards[3].replicas[0]: shard name "127.0.0.1:7001" already used by cluster[0].shards[2]`},
				{12, `cluster[0].shards[4].replicas[1]: "127.0.0.1:7009": already listed at cluster[0].shards[2].replicas[0]`},
			},
		},
		{
			name: "bad addresses",
			src: `[proxy]
listen = "localhost:9300"
admin = "127.0.0.1"
[[cluster]]
name = "a"
listen = "127.0.0.1:0"
shards = [{ replicas = ["db1", "127.0.0.1:70000", "bad_host!:80", ":80", "[::1]:11211", "db.example.com:80"] }]
`,
			expectedErr: []want{
				{2, `proxy.listen: "localhost:9300": host "localhost" is not an IP address`},
				{3, `proxy.admin: "127.0.0.1": want host:port with a numeric port 1..65535`},
				{6, `cluster[0].listen: "127.0.0.1:0": port "0"`},
				{7, `cluster[0].shards[0].replicas[0]: "db1": want host:port`},
				{7, `replicas[1]: "127.0.0.1:70000": port "70000"`},
				{7, `replicas[2]: "bad_host!:80": host "bad_host!" is neither an IP address nor a host name`},
				{7, `replicas[3]: ":80": missing host`},
			},
		},
		{
			name: "numbers out of range",
			src: `[proxy]
max_connections = 0
max_request_bytes_in_flight = "16MB"
max_request_size = 10
[[cluster]]
name = "a"
actor_id = 0
functions = ["a.*"]
sharding = "ketama"
shards = [{ weight = 0, replicas = ["127.0.0.1:7001"] }]
[cluster.health]
consecutive_timeouts = 101
max_inflight = -1
probe_jitter = 2.0
max_down_share = 1.5
retry_budget = -0.5
`,
			expectedErr: []want{
				{2, `proxy.max_connections: 0: want 1..1000000`},
				{3, `proxy.max_request_bytes_in_flight: "16MB": want a byte count`},
				{4, `proxy.max_request_size: 10: want 1024..16777199`},
				{7, `cluster[0].actor_id: 0: want an integer > 0`},
				{10, `cluster[0].shards[0].weight: 0: want 1..1048576`},
				{12, `cluster[0].health.consecutive_timeouts: 101: want 1..100`},
				{13, `cluster[0].health.max_inflight: -1: want 1..1000000`},
				{14, `cluster[0].health.probe_jitter: 2: want 0..1`},
				{15, `cluster[0].health.max_down_share: 1.5: want 0..1`},
				{16, `cluster[0].health.retry_budget: -0.5: want 0..1`},
			},
		},
		{
			name: "unknown mode, hash and policy list what is allowed",
			src: `[[cluster]]
name = "a"
functions = ["a.*"]
sharding = "ketma"
balance = "random"
transport = "udp"
shards = [{ replicas = ["127.0.0.1:7001"] }, { replicas = ["127.0.0.1:7002"] }]
[[cluster]]
name = "b"
functions = ["b.*"]
sharding = "ketama"
hash = "sha1"
shards = [{ replicas = ["127.0.0.1:7003"] }]
`,
			expectedErr: []want{
				{4, `cluster[0].sharding: "ketma": unknown sharding mode; allowed: firstint, hash, ketama, bounded`},
				{5, `cluster[0].balance: "random": unknown balance policy; allowed: round_robin, weighted, least_outstanding, least_latency`},
				{6, `cluster[0].transport: "udp": only "tcp" is supported`},
				{12, `cluster[1].hash: "sha1": not a key hash of sharding "ketama"; allowed: md5, crc32, fnv1a_64, xxhash`},
			},
		},
		{
			name: "hash, load, partitions and weights must fit the mode",
			src: `[[cluster]]
name = "a"
functions = ["a.*"]
sharding = "firstint"
hash = "crc32"
load = 1.5
shards = [{ weight = 2, replicas = ["127.0.0.1:7001"] }]
[[cluster]]
name = "b"
functions = ["b.*"]
sharding = "bounded"
hash = "md5"
partitions = 1
shards = [{ replicas = ["127.0.0.1:7002"] }, { replicas = ["127.0.0.1:7003"] }]
[[cluster]]
name = "c"
functions = ["c.*"]
shards = [{ replicas = ["127.0.0.1:7004"] }, { replicas = ["127.0.0.1:7005"] }]
`,
			expectedErr: []want{
				{5, `cluster[0].hash: "crc32": sharding "firstint" takes no key hash`},
				{6, `cluster[0].load: 1.5: load applies only to sharding = "bounded"`},
				{7, `cluster[0].shards[0].weight: 2: weight applies only to sharding = "ketama"`},
				{12, `cluster[1].hash: "md5": not a key hash of sharding "bounded"; allowed: xxhash`},
				{13, `cluster[1].partitions: 1: want 2..65536`},
				{15, `cluster[2].sharding: missing: a cluster with 2 shards must choose one of firstint, hash, ketama, bounded`},
			},
		},
		{
			name: "hash_tag is two characters, not digits",
			src: `[[cluster]]
name = "a"
functions = ["a.*"]
sharding = "ketama"
hash_tag = "{"
shards = [{ replicas = ["127.0.0.1:7001"] }]
[[cluster]]
name = "b"
functions = ["b.*"]
sharding = "firstint"
hash_tag = "1}"
shards = [{ replicas = ["127.0.0.1:7002"] }]
`,
			expectedErr: []want{
				{5, `cluster[0].hash_tag: "{": want two characters, the tag's start and end, like "{}"`},
				{11, `cluster[1].hash_tag: "1}": '1' is not allowed (printable ASCII other than digits and '-')`},
			},
		},
		{
			name: "replica weights need a weighted policy",
			src: `[[cluster]]
name = "a"
functions = ["a.*"]
balance = "round_robin"
shards = [{ replicas = [{ addr = "127.0.0.1:7001", weight = 3 }, { adr = "127.0.0.1:7002" }] }]
`,
			expectedErr: []want{
				{5, `cluster[0].shards[0].replicas[0].weight: 3: balance "round_robin" has no weights`},
				{5, `cluster[0].shards[0].replicas[1].addr: missing`},
				{5, `cluster[0].shards[0].replicas[1].adr: unknown key; allowed here: addr, weight`},
			},
		},
		{
			name: "function patterns overlapping between clusters",
			src: `[[cluster]]
name = "a"
functions = ["memcache.*", "photo.get"]
shards = [{ replicas = ["127.0.0.1:7001"] }]
[[cluster]]
name = "b"
functions = [
  "memcache.get",
  "photo.get*",
  "users.*",
]
shards = [{ replicas = ["127.0.0.1:7002"] }]
[[cluster]]
name = "c"
functions = ["*"]
shards = [{ replicas = ["127.0.0.1:7003"] }]
`,
			expectedErr: []want{
				{8, `cluster[1].functions[0]: "memcache.get" overlaps "memcache.*" of cluster "a" (cluster[0])`},
				{9, `cluster[1].functions[1]: "photo.get*" overlaps "photo.get" of cluster "a"`},
				{15, `cluster[2].functions[0]: "*" overlaps "memcache.*" of cluster "a"`},
				{15, `"*" overlaps "photo.get" of cluster "a"`},
				{15, `"*" overlaps "memcache.get" of cluster "b"`},
				{15, `"*" overlaps "photo.get*" of cluster "b"`},
				{15, `"*" overlaps "users.*" of cluster "b"`},
			},
		},
		{
			name: "overlap after a dropped bad pattern points at the source element",
			src: `[[cluster]]
name = "a"
functions = ["memcache.*"]
shards = [{ replicas = ["127.0.0.1:7001"] }]
[[cluster]]
name = "b"
functions = ["bad*x", "b.*",
  "memcache.get"]
shards = [{ replicas = ["127.0.0.1:7002"] }]
`,
			expectedErr: []want{
				{7, `cluster[1].functions[0]: "bad*x": want an exact name`},
				{8, `cluster[1].functions[2]: "memcache.get" overlaps "memcache.*"`},
			},
		},
		{
			name: "bad function patterns",
			src: `[[cluster]]
name = "a"
functions = ["mem*cache.get", "memcache.", ".get", "a.*", "a.*", "**"]
shards = [{ replicas = ["127.0.0.1:7001"] }]
`,
			expectedErr: []want{
				{3, `cluster[0].functions[0]: "mem*cache.get": want an exact name`},
				{3, `cluster[0].functions[1]: "memcache.": want an exact name`},
				{3, `cluster[0].functions[2]: ".get": want an exact name`},
				{3, `cluster[0].functions[4]: "a.*": listed twice`},
				{3, `cluster[0].functions[5]: "**": want an exact name`},
			},
		},
		{
			name: "durations",
			src: `[proxy]
timeout = "5"
slow_request = "0s"
timeout_margin = "2s"
[proxy.shutdown]
drain_timeout = "-1s"
[[cluster]]
name = "a"
functions = ["a.*"]
timeout = "0s"
shards = [{ replicas = ["127.0.0.1:7001"] }]
[cluster.health]
slow_latency = "2s"
probe_interval = "10s"
probe_max_interval = "1s"
`,
			expectedErr: []want{
				{2, `proxy.timeout: "5": want a duration such as "250ms"`},
				{3, `proxy.slow_request: "0s": want a duration > 0 such as "100ms", or "off"`},
				{4, `proxy.timeout_margin: "2s": want a duration from "0s" to "1s" such as "10ms", or "off"`},
				{6, `proxy.shutdown.drain_timeout: "-1s": want a duration > 0`},
				{10, `cluster[0].timeout: "0s": want a duration > 0`},
				{13, `cluster[0].health.slow_latency: 2s: must be below the cluster timeout 1s`},
				{15, `cluster[0].health.probe_max_interval: 1s: must be at least probe_interval 10s`},
			},
		},
		{
			name: "function rules",
			src: minimal + `
[[cluster.function]]
name = "a.get"
key = "key"
[[cluster.function]]
name = "a.*"
[[cluster.function]]
name = "a.get"
key = "1key"
[[cluster.function]]
key = "id"
[[cluster.function]]
name = "b.get"
fanout = true
`,
			expectedErr: []want{
				{11, `cluster[0].function[1].name: "a.*": want letters`},
				{13, `cluster[0].function[2].name: "a.get": already has a rule at cluster[0].function[0]`},
				{14, `cluster[0].function[2].key: "1key": want an argument name`},
				{15, `cluster[0].function[3].name: missing`},
				{18, `cluster[0].function[4].name: "b.get": not routed to this cluster (functions = a.*)`},
				{19, `cluster[0].function[4].fanout: unknown key; allowed here: align, burst, coalesce, default_limit, descending, key, limit_arg, merge, missing, name, on_error, rate_limit, retry, sort_field`},
			},
		},
		{
			name: "coalesce is for positional splits",
			src: minimal + `[[cluster.function]]
name = "a.search"
merge = "concat"
coalesce = true
[[cluster.function]]
name = "a.multi"
align = "dictionary"
coalesce = true
`,
			expectedErr: []want{
				{9, `cluster[0].function[0].coalesce: only a positional split (align = "positional") joins sub-requests`},
				{13, `cluster[0].function[1].coalesce: only a positional split`},
			},
		},
		{
			name: "rate limits",
			src: minimal + `[[cluster.function]]
name = "a.get"
rate_limit = 0
[[cluster.function]]
name = "a.set"
burst = 5
[[cluster.function]]
name = "a.del"
rate_limit = 100
burst = 0
[[cluster.function]]
name = "a.put"
rate_limit = "fast"
`,
			expectedErr: []want{
				{8, `cluster[0].function[0].rate_limit: 0: want 1..10000000 requests a second (leave it out for no limit)`},
				{11, `cluster[0].function[1].burst: 5: a burst belongs to a rate_limit; set rate_limit too`},
				{15, `cluster[0].function[2].burst: 0: want 1..10000000 requests at once`},
				{18, `cluster[0].function[3].rate_limit: "fast": want an integer`},
			},
		},
		{
			name: "shadows",
			src: minimal + `[cluster.shadow]
cluster = "a"
share = 0
functions = ["a.**"]
extra = 1
[[cluster]]
name = "b"
actor_id = 7
shards = [{ replicas = ["127.0.0.1:7002"] }]
[cluster.shadow]
cluster = "nope"
[[cluster]]
name = "c"
actor_id = 8
shards = [{ replicas = ["127.0.0.1:7003"] }]
[cluster.shadow]
share = 0.5
`,
			expectedErr: []want{
				{7, `cluster[0].shadow.cluster: "a": this cluster itself; name another cluster of the file`},
				{8, `cluster[0].shadow.share: 0: want a share of the keys, 0 < share <= 1`},
				{9, `cluster[0].shadow.functions[0]: "a.**"`},
				{10, `cluster[0].shadow.extra: unknown key; allowed here: cluster, functions, share`},
				{16, `cluster[1].shadow.cluster: "nope": no such cluster; want one of "a", "b", "c"`},
				{21, `cluster[2].shadow.cluster: missing: want the name of the cluster the copies go to`},
			},
		},
		{
			name: "retry needs failover",
			src: minimal + `[cluster.health]
failover = false
[[cluster.function]]
name = "a.get"
retry = true
`,
			expectedErr: []want{
				{10, `cluster[0].function[0].retry: a retry goes to another replica of the shard, which [cluster.health] failover = false forbids`},
			},
		},
		{
			name: "fan-out rules",
			src: minimal + `
[[cluster.function]]
name = "a.multi"
align = "ordered"
on_error = "ignore"
missing = "a.none"
[[cluster.function]]
name = "a.search"
key = "q"
merge = "sorted"
align = "positional"
default_limit = 0
[[cluster.function]]
name = "a.count"
merge = "avg"
descending = true
missing = "a.none"
[[cluster.function]]
name = "a.search2"
merge = "sorted"
sort_field = "ts"
default_limit = 5
`,
			expectedErr: []want{
				{9, `cluster[0].function[0].align: "ordered": want "positional"`},
				{10, `cluster[0].function[0].on_error: "ignore": want "fail"`},
				{11, `cluster[0].function[0].missing: only used with on_error = "partial"`},
				{14, `cluster[0].function[1].key: a merged function goes to every shard`},
				{15, `cluster[0].function[1].merge: a function is either split`},
				{12, `cluster[0].function[1].sort_field: missing: merge = "sorted" needs`},
				{17, `cluster[0].function[1].default_limit: 0: want 1..1000000`},
				{20, `cluster[0].function[2].merge: "avg": unknown merge strategy; allowed: concat, sum, min, max, and, or, sorted, first`},
				{21, `cluster[0].function[2].descending: only with merge = "sorted"`},
				{22, `cluster[0].function[2].missing: only a positional split`},
				{27, `cluster[0].function[3].default_limit: only with limit_arg`},
			},
		},
		{
			name: "unreachable clusters and missing name",
			src: `[[cluster]]
shards = [{ replicas = ["127.0.0.1:7001"] }]
[[cluster]]
name = "b"
functions = []
shards = [{ replicas = ["127.0.0.1:7002"] }]
`,
			expectedErr: []want{
				{1, `cluster[0]: cluster "" is unreachable: set listen, actor_id or functions`},
				{1, `cluster[0].name: missing`},
				{3, `cluster[1]: cluster "b" is unreachable`},
			},
		},
		{
			name: "shards as array-of-tables sections",
			src: `[[cluster]]
name = "a"
functions = ["a.*"]
sharding = "ketama"

[[cluster.shards]]
replicas = ["127.0.0.1:7001"]

[[cluster.shards]]
name = "b"
replicas = ["127.0.0.1:7002"]
weight = -3
`,
			expectedErr: []want{{12, `cluster[0].shards[1].weight: -3: want 1..1048576`}},
		},
		{
			name: "schemas and size limits",
			src: `[proxy]
schemas = ["a.tl", "./a.tl", ""]
max_request_bytes_in_flight = "1MiB"
max_request_size = "2MiB"
` + minimal,
			expectedErr: []want{
				{2, `proxy.schemas[1]: "./a.tl": already listed as schemas[0]`},
				{2, `proxy.schemas[2]: empty path`},
				{4, `proxy.max_request_size: 2097152: larger than max_request_bytes_in_flight 1048576`},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test.toml", []byte(tc.src), "/etc/rpcproxy")
			if err == nil {
				t.Fatalf("Parse succeeded, want %d problems", len(tc.expectedErr))
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse error is %T (%v), want *Error", err, err)
			}
			for _, w := range tc.expectedErr {
				if !hasProblem(cerr.Problems, w) {
					t.Errorf("no problem at line %d containing %q", w.line, w.sub)
				}
			}
			if len(cerr.Problems) != len(tc.expectedErr) {
				t.Errorf("got %d problems, want %d", len(cerr.Problems), len(tc.expectedErr))
			}
			if t.Failed() {
				t.Logf("problems:\n%v", err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "test.toml") {
					t.Errorf("error line %q does not start with the file name", line)
				}
			}
		})
	}
}

func hasProblem(ps []Problem, w want) bool {
	for _, p := range ps {
		if p.Line == w.line && strings.Contains(p.String(), w.sub) {
			return true
		}
	}
	return false
}

func TestSyntaxErrorPosition(t *testing.T) {
	_, err := Parse("bad.toml", []byte("[proxy]\nlisten = \"127.0.0.1:9300\"\n  timeout = 300ms\n"), "")
	var cerr *Error
	if !errors.As(err, &cerr) || len(cerr.Problems) != 1 {
		t.Fatalf("Parse error = %v, want one syntax problem", err)
	}
	p := cerr.Problems[0]
	if p.Line != 3 || p.Col == 0 {
		t.Errorf("syntax error at %d:%d, want line 3 and a column", p.Line, p.Col)
	}
	if got := p.String(); !strings.HasPrefix(got, fmt.Sprintf("bad.toml:3:%d: TOML syntax", p.Col)) {
		t.Errorf("syntax error prints %q", got)
	}
}

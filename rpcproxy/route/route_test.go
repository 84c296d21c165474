package route

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/rpcproxy/metrics"
	"github.com/rpcproxy/rpcproxy/rpcproxy/upstream"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testConfig = `
[proxy]
listen = "127.0.0.1:9300"
admin = "127.0.0.1:9301"

[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "hash"
shards = [
  { replicas = ["10.0.0.1:1", "10.0.0.2:1"] },
  { replicas = ["10.0.0.3:1"] },
  { replicas = ["10.0.0.4:1"] },
  { replicas = ["10.0.0.5:1"] },
]

[[cluster]]
name = "users"
actor_id = 7
listen = "127.0.0.1:9320"
functions = ["test.*"]
sharding = "firstint"
shards = [
  { replicas = ["10.0.1.1:1"] },
  { replicas = ["10.0.1.2:1"] },
  { replicas = ["10.0.1.3:1"] },
  { replicas = ["10.0.1.4:1"] },
]
[[cluster.function]]
name = "test.named"
key = "b"

[[cluster]]
name = "single"
functions = ["other.*"]
shards = [{ replicas = ["10.0.2.1:1"] }]
`

// dialLog is a dialer that refuses every connection and logs the address.
type dialLog struct {
	mu    sync.Mutex
	addrs []string
}

func (d *dialLog) Dial(_ context.Context, _, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.mu.Unlock()
	return nil, errors.New("test: no network")
}

func buildTable(t testing.TB) *Table {
	t.Helper()
	cfg, err := configs.Parse("test.toml", []byte(testConfig), ".")
	if err != nil {
		t.Fatal(err)
	}
	sch, err := schema.LoadWithPrelude("../../engines/memcache/memcache.tl", "testdata/test.tl")
	if err != nil {
		t.Fatal(err)
	}
	d := &dialLog{}
	pool := upstream.NewPool(upstream.Options{Dial: d.Dial})
	tab, err := Build(cfg, sch, pool, metrics.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tab.Release()
		pool.Close()
	})
	return tab
}

func fnTag(t *testing.T, tab *Table, name string) uint32 {
	t.Helper()
	fn := tab.schema.Function(name)
	if fn == nil {
		t.Fatalf("no function %s", name)
	}
	return fn.Tag
}

var (
	mainAddr    = netip.MustParseAddrPort("127.0.0.1:9300")
	usersAddr   = netip.MustParseAddrPort("127.0.0.1:9320")
	unknownAddr = netip.MustParseAddrPort("127.0.0.1:9999")
)

func TestLookup(t *testing.T) {
	tab := buildTable(t)
	get := tl.AppendString(tl.AppendUint32(nil, fnTag(t, tab, "memcache.get")), "k")
	ping := tl.AppendUint32(tl.AppendUint32(nil, fnTag(t, tab, "other.ping")), 1)
	unknown := tl.AppendUint32(nil, 0xdeadbeef)
	tests := []struct {
		name    string
		listen  netip.AddrPort
		actor   int64
		body    []byte
		want    string
		wantErr string
	}{
		{"function on main port", mainAddr, 0, get, "mc", ""},
		{"other function", mainAddr, 0, ping, "single", ""},
		{"actor wins over function", mainAddr, 7, get, "users", ""},
		{"cluster port wins over function", usersAddr, 0, get, "users", ""},
		{"unknown actor is refused", mainAddr, 8, get, "", "no cluster has actor id 8"},
		{"unknown function", mainAddr, 0, unknown, "", "no cluster for function #deadbeef (not in the schemas)"},
		{"unknown function names the port", unknownAddr, 0, unknown, "", "127.0.0.1:9999 is not a cluster's port"},
		{"known function without cluster", mainAddr, 0, tl.AppendUint32(nil, 0x559d6e36), "", "#559d6e36"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := rpc.InvokeReq{QueryID: 1, ActorID: tc.actor, Body: tc.body}
			c, err := tab.Lookup(tc.listen, &req)
			if tc.wantErr != "" {
				var re *rpc.Error
				if !errors.As(err, &re) || re.Code != rpc.CodeProxyNoTarget || !strings.Contains(re.Description, tc.wantErr) {
					t.Fatalf("err %v, want PROXY_NO_TARGET containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || c.Name != tc.want {
				t.Fatalf("got %v %v, want %s", c, err, tc.want)
			}
		})
	}
}

func TestShardAndForwardKeys(t *testing.T) {
	tab := buildTable(t)
	mc, users, single := tab.Cluster("mc"), tab.Cluster("users"), tab.Cluster("single")
	get := func(k string) []byte {
		return tl.AppendString(tl.AppendUint32(nil, fnTag(t, tab, "memcache.get")), k)
	}
	getMulti := tl.AppendUint32(tl.AppendUint32(nil, fnTag(t, tab, "memcache.getMulti")), 0)
	hashShard := func(k string) int {
		i, err := mc.Picker.Pick([]byte(k))
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	tests := []struct {
		name      string
		c         *Cluster
		extra     rpc.InvokeReqExtra
		body      []byte
		want      int
		wantErr   string
		wantExtra rpc.InvokeReqExtra // after routing; zero: unchanged
	}{
		{name: "body key", c: mc, body: get("photo100_500"), want: hashShard("photo100_500")},
		{name: "string_forward_keys first used and removed", c: mc, body: get("ignored"),
			extra:     rpc.InvokeReqExtra{Flags: rpc.FlagStringForwardKeys, StringForwardKeys: rpc.MakeStringVector("a1", "b2")},
			want:      hashShard("a1"),
			wantExtra: rpc.InvokeReqExtra{Flags: rpc.FlagStringForwardKeys, StringForwardKeys: rpc.MakeStringVector("b2")}},
		{name: "int_forward_keys first used and removed", c: users, body: get("user_1"),
			extra:     rpc.InvokeReqExtra{Flags: rpc.FlagIntForwardKeys, IntForwardKeys: rpc.MakeLongVector(42, 43)},
			want:      2,
			wantExtra: rpc.InvokeReqExtra{Flags: rpc.FlagIntForwardKeys, IntForwardKeys: rpc.MakeLongVector(43)}},
		{name: "string_forward kept", c: users, body: get("user_1"),
			extra: rpc.InvokeReqExtra{Flags: rpc.FlagStringForward, StringForward: []byte("user_7")}, want: 3},
		{name: "int_forward kept", c: users, body: get("user_1"),
			extra: rpc.InvokeReqExtra{Flags: rpc.FlagIntForward, IntForward: -1}, want: 3},
		{name: "empty forward keys fall through to the body", c: users, body: get("user_5"),
			extra: rpc.InvokeReqExtra{Flags: rpc.FlagIntForwardKeys, IntForwardKeys: rpc.MakeLongVector()}, want: 1},
		{name: "int argument", c: users, body: tl.AppendInt32(tl.AppendUint32(nil, fnTag(t, tab, "test.intKey")), 6), want: 2},
		{name: "long after nat", c: users, body: tl.AppendInt64(tl.AppendUint32(tl.AppendUint32(nil, fnTag(t, tab, "test.longKey")), 9), 13), want: 1},
		{name: "named key rule", c: users,
			body: tl.AppendString(tl.AppendString(tl.AppendUint32(nil, fnTag(t, tab, "test.named")), "a_1"), "b_3"), want: 3},
		{name: "no key argument", c: mc, body: getMulti,
			wantErr: "no key for memcache.getMulti (#"},
		{name: "no key names the cluster and why", c: users, body: tl.AppendFloat64(tl.AppendUint32(nil, fnTag(t, tab, "test.noKey")), 1),
			wantErr: "in cluster users (4 shards): test.noKey has no int, long or string argument"},
		{name: "key after a vector: found by the walker", c: users,
			body: tl.AppendString(tl.AppendUint32(tl.AppendUint32(nil, fnTag(t, tab, "test.afterVector")), 0), "u_1"), want: 1},
		{name: "walker rejects a malformed call", c: users,
			body: tl.AppendUint32(tl.AppendUint32(nil, fnTag(t, tab, "test.afterVector")), 5), wantErr: "cannot read the key of test.afterVector"},
		{name: "optional key", c: users, body: tl.AppendUint32(tl.AppendUint32(nil, fnTag(t, tab, "test.optional")), 0),
			wantErr: `key argument "key" of test.optional is optional`},
		{name: "firstint key without digits", c: users, body: get("nodigits"), wantErr: "cluster users"},
		{name: "single shard needs no key", c: single, body: getMulti, want: 0},
		{name: "truncated key", c: mc, body: tl.AppendUint32(nil, fnTag(t, tab, "memcache.get")), wantErr: "cannot read the key of memcache.get"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := rpc.InvokeReq{QueryID: 1, Extra: tc.extra, Body: tc.body}
			got, err := tab.Shard(tc.c, &req)
			if tc.wantErr != "" {
				var re *rpc.Error
				if !errors.As(err, &re) || re.Code != rpc.CodeProxyNoTarget || !strings.Contains(re.Description, tc.wantErr) {
					t.Fatalf("err %v, want PROXY_NO_TARGET containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("shard %d, %v; want %d", got, err, tc.want)
			}
			want := tc.wantExtra
			if want.Flags == 0 {
				want = tc.extra
			}
			gotHdr := rpc.AppendInvokeReqHeader(nil, &req)
			wantHdr := rpc.AppendInvokeReqHeader(nil, &rpc.InvokeReq{QueryID: 1, Extra: want})
			if fmt.Sprintf("%x", gotHdr) != fmt.Sprintf("%x", wantHdr) {
				t.Fatalf("forwarded header %x, want %x", gotHdr, wantHdr)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	const (
		shadowTo     = "[cluster.shadow]\ncluster = \"y\"\nshare = 0.5\n"
		otherCluster = "[[cluster]]\nname = \"y\"\nactor_id = 9\nshards = [{ replicas = [\"10.0.0.2:1\"] }]\n"
	)
	sch, err := schema.LoadWithPrelude("../../engines/memcache/memcache.tl", "testdata/test.tl")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		functions string // default ["test.*"]
		rule      string
		sch       *schema.Schema
		wantErr   string
	}{
		{"rule without schema", "", "[[cluster.function]]\nname = \"test.named\"\nkey = \"b\"\n", nil, "no schema is loaded"},
		{"rule for unknown function", "", "[[cluster.function]]\nname = \"test.nope\"\n", sch, "not in the schemas"},
		{"rule naming a missing arg", "", "[[cluster.function]]\nname = \"test.named\"\nkey = \"c\"\n", sch, "has no argument \"c\""},
		{"functions without schema", "", "", nil, `cluster "x": functions = ["test.*"] routes by function name, which needs the TL schemas`},
		{"pattern matching no function", `["test.*", "tset.*"]`, "", sch, `cluster "x": functions pattern "tset.*" matches no function of the schemas`},
		{"exact name matching no function", `["memcache.gett"]`, "", sch, `functions pattern "memcache.gett" matches no function`},
		{"shadow functions matching no function", "", shadowTo + "functions = [\"test.named\", \"test.nope*\"]\n" + otherCluster, sch, `shadow.functions pattern "test.nope*" matches no function`},
		{"shadow functions without schema", `["test.*"]`, shadowTo + "functions = [\"test.named\"]\n" + otherCluster, nil, "shadow.functions needs the functions' schemas"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			functions := tc.functions
			if functions == "" {
				functions = `["test.*"]`
			}
			text := "[[cluster]]\nname = \"x\"\nfunctions = " + functions + "\nshards = [{ replicas = [\"10.0.0.1:1\"] }]\n" + tc.rule
			cfg, err := configs.Parse("x.toml", []byte(text), ".")
			if err != nil {
				t.Fatal(err)
			}
			d := &dialLog{}
			pool := upstream.NewPool(upstream.Options{Dial: d.Dial})
			defer pool.Close()
			_, err = Build(cfg, tc.sch, pool, metrics.NewRegistry())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if n := len(pool.Engines()); n != 0 {
				t.Fatalf("failed build acquired %d engines", n)
			}
		})
	}
}

func TestRouteDoesNotAllocate(t *testing.T) {
	tab := buildTable(t)
	body := tl.AppendString(tl.AppendUint32(nil, fnTag(t, tab, "memcache.get")), "photo100_500")
	var req rpc.InvokeReq
	n := testing.AllocsPerRun(1000, func() {
		req = rpc.InvokeReq{QueryID: 1, Body: body}
		c, err := tab.Lookup(mainAddr, &req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tab.Shard(c, &req); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocs per route", n)
	}
}

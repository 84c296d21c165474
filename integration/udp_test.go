package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	vk "github.com/VKCOM/tl/pkg/rpc"

	"github.com/rpcproxy/rpcproxy/rpcproxy"
	"github.com/rpcproxy/rpcproxy/tl"
	rpcclient "github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

// udpKey is the crypto key of the UDP tests, shared by the proxy (key_file)
// and the engines (-key-file).
var udpKey = []byte("0123456789abcdef0123456789abcdef-integration")

// udpSetup starts n memcache engines serving UDP (and TCP) and a proxy
// with key_file (so it listens for UDP too) whose cluster reaches them
// over UDP, with faultHealth; keys[i] lives on shard i.
func udpSetup(t *testing.T, n int) (*proxy, []*engine, []string) {
	t.Helper()
	kf := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(kf, udpKey, 0o600); err != nil {
		t.Fatal(err)
	}
	mc := make([]*engine, n)
	for i := range mc {
		mc[i] = startEngine(t, "memcache", "127.0.0.1:0", "-udp", "-key-file", kf)
	}
	c := newConfig(t, cluster{name: "mc", functions: []string{"memcache.*"}, engines: mc, timeout: "300ms",
		transport: "udp", extra: faultHealth})
	c.keyFile = kf
	p := startProxy(t, c)
	return p, mc, keyPerShard(t, p, "mc", n)
}

// newUDPApp is VK's Go client with its UDP transport on (it needs a local
// address and the key).
func newUDPApp(t *testing.T) *app {
	t.Helper()
	cl := vk.NewClient(vk.ClientWithLogf(func(string, ...any) {}),
		vk.ClientWithCryptoKey(string(udpKey)),
		vk.ClientWithExperimentalLocalUDPAddress("127.0.0.1:0"))
	t.Cleanup(func() { _ = cl.Close() })
	return &app{cl: cl, network: "udp4"}
}

// TestUDPInterop: VK's Go client over UDP -> the proxy process (UDP
// listener, key_file) -> engine processes over UDP (transport = "udp"):
// memcache set/get land on the shard `rpcproxy route` names. A killed UDP
// engine has no connection to lose: its shard's requests time out until
// consecutive_timeouts mark it down, then fail fast with NO_CONNECTIONS;
// the other shards keep answering.
func TestUDPInterop(t *testing.T) {
	if raceEnabled {
		t.Skip("VK's UDP transport races internally; run without -race (make test does)")
	}
	p, mc, keys := udpSetup(t, 3)
	a, direct := newUDPApp(t), newApp(t)
	for _, k := range keys {
		a.set(t, p.addr, k, "v:"+k, callOpts{})
	}
	for i, k := range keys {
		if v, ok := a.mustGet(t, p.addr, k); !ok || v != "v:"+k {
			t.Fatalf("get %q over UDP: %q %v", k, v, ok)
		}
		if h := holder(t, direct, mc, k); h != i {
			t.Fatalf("key %q on engine %d, want %d (rpcproxy route)", k, h, i)
		}
	}

	const v = 1
	mc[v].signal(syscall.SIGKILL)
	<-mc[v].done
	codes := map[int32]int{}
	last := int32(0)
	for range 20 {
		_, _, err := a.get(p.addr, keys[v], callOpts{timeoutMs: faultTimeoutMs})
		if err == nil {
			t.Fatalf("get %q on the killed engine's shard answered", keys[v])
		}
		last = codeOf(err)
		codes[last]++
		if last == codeNoConnections && codes[codeNoConnections] >= 5 {
			break
		}
	}
	// Timeouts until it is marked down (consecutive_timeouts = 2, plus
	// whatever probes add), then NO_CONNECTIONS at once.
	if last != codeNoConnections || codes[codeQueryTimeout] < 2 || codes[codeQueryTimeout]+codes[codeNoConnections] != total(codes) {
		t.Fatalf("errors for the killed UDP shard by code: %v; want QUERY_TIMEOUT (%d) then NO_CONNECTIONS (%d)",
			codes, codeQueryTimeout, codeNoConnections)
	}
	for i, k := range keys {
		if i == v {
			continue
		}
		if val, ok := a.mustGet(t, p.addr, k); !ok || val != "v:"+k {
			t.Fatalf("get %q on a live shard: %q %v", k, val, ok)
		}
	}
}

// total is the number of answers counted in codes.
func total(codes map[int32]int) int {
	n := 0
	for _, c := range codes {
		n += c
	}
	return n
}

// TestUDPOurClient: our client over UDP through the proxy process to UDP
// engines (no VK UDP code, so it runs under -race too).
func TestUDPOurClient(t *testing.T) {
	p, _, keys := udpSetup(t, 2)
	opts := rpcclient.Options{Network: "udp"}
	opts.Packet.Key = udpKey
	cl, err := rpcclient.New(p.addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), callWait)
	defer cancel()
	var resp rpcclient.Response
	for _, k := range keys {
		if err := cl.Do(ctx, &rpcclient.Request{Body: mcSet(k, "v:"+k)}, &resp); err != nil || !bytes.Equal(resp.Body, tl.AppendBool(nil, true)) {
			t.Fatalf("set %q over UDP: %x %v", k, resp.Body, err)
		}
	}
	for _, k := range keys {
		if err := cl.Do(ctx, &rpcclient.Request{Body: mcGet(k)}, &resp); err != nil {
			t.Fatalf("get %q over UDP: %v", k, err)
		}
		if v, ok, err := parseValue(resp.Body); err != nil || !ok || v != "v:"+k {
			t.Fatalf("get %q over UDP: %q %v %v", k, v, ok, err)
		}
	}
}

// TestUDPParkInterop: apps on VK's UDP client that call once and close
// (VK's transport tells the proxy nothing) leave nothing behind once
// proxy.udp_idle_after passes: no connection, no max_connections slot, no
// goroutine. An app that stays is parked between its calls, down to a
// dormant record, and its next calls are answered as if nothing happened.
func TestUDPParkInterop(t *testing.T) {
	if raceEnabled {
		t.Skip("VK's UDP transport races internally; run without -race (make test does)")
	}
	kf := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(kf, udpKey, 0o600); err != nil {
		t.Fatal(err)
	}
	mc := []*engine{startEngine(t, "memcache", "127.0.0.1:0"), startEngine(t, "memcache", "127.0.0.1:0")}
	c := newConfig(t, cluster{name: "mc", functions: []string{"memcache.*"}, engines: mc})
	c.keyFile, c.udpIdle, c.pprof = kf, "1s", true
	p := startProxy(t, c)
	udpStats := func() (rpcproxy.AppStats, *rpcproxy.UDPStats) {
		st := p.stats(t).App
		if len(st.Listeners) != 1 || st.Listeners[0].UDP == nil {
			t.Fatalf("app listeners: %+v", st.Listeners)
		}
		return st, st.Listeners[0].UDP
	}
	// One TCP app, which stays connected; the engine connections exist
	// from its call on.
	newApp(t).set(t, p.addr, "warm", "up", callOpts{})
	goroutinesBefore := p.goroutines(t)

	stay := newUDPApp(t)
	stay.set(t, p.addr, "stay", "here", callOpts{})
	const gone = 8
	for i := range gone {
		a := newUDPApp(t)
		a.set(t, p.addr, fmt.Sprintf("gone%d", i), "x", callOpts{})
		if err := a.cl.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if st, u := udpStats(); u.Connections != gone+1 || st.Connections != gone+2 {
		t.Fatalf("before idling: %d UDP peers, %d app connections; want %d and %d", u.Connections, st.Connections, gone+1, gone+2)
	}
	// VK's client acks an answer 30ms later unless it sends first, so the
	// apps that closed at once never acked theirs: the proxy resends them
	// until udp_idle_after passes in silence, then forgets those peers.
	// The app that stays acked, and is parked.
	waitFor(t, "the gone apps forgotten and the staying one parked", func() bool {
		st, u := udpStats()
		return u.Connections == 0 && st.Connections == 1 && u.Dormant == 1 && u.Parked == 1 && u.Resets == gone
	})
	p.waitGoroutines(t, goroutinesBefore, "with every UDP app parked")
	for round := range 2 {
		if v, ok := stay.mustGet(t, p.addr, "stay"); !ok || v != "here" {
			t.Fatalf("round %d: get after parking: %q %v", round, v, ok)
		}
		waitFor(t, "the staying app parked again", func() bool {
			_, u := udpStats()
			return u.Parked == uint64(2+round) && u.Connections == 0
		})
	}
	if _, u := udpStats(); u.Revived != 2 || u.Dormant != 1 || u.Evicted != 0 || u.Resets != gone {
		t.Fatalf("revived %d, dormant %d, evicted %d, resets %d", u.Revived, u.Dormant, u.Evicted, u.Resets)
	}
}

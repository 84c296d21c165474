package rpcproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/rpcproxy/health"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	rpcclient "github.com/rpcproxy/rpcproxy/tl/rpc/client"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

var udpKey = []byte("0123456789abcdef0123456789abcdef-rpcproxy-udp")

// udpEngine is an engine served over UDP only that answers like
// enginetest (its address, then the call); engine.pid is built in.
type udpEngine struct {
	addr string
	srv  *server.Server
	done chan error
}

func startUDPEngine(t *testing.T) *udpEngine {
	t.Helper()
	return startUDPServer(t, func(addr string) server.SyncFunc {
		return func(r *server.Request, dst []byte) ([]byte, error) {
			// enginetest.Echo's bytes, built in dst so answering does not allocate.
			return append(tl.AppendString(dst, addr), r.Body...), nil
		}
	})
}

// startUDPServer serves handler (given the engine's address) over UDP
// only, with udpKey; engine.pid is built in. It stops at the test's end.
func startUDPServer(t *testing.T, handler func(addr string) server.SyncFunc) *udpEngine {
	t.Helper()
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := udp.New(sock, udp.Config{Keys: [][]byte{udpKey}})
	if err != nil {
		t.Fatal(err)
	}
	e := &udpEngine{addr: sock.LocalAddr().String(), done: make(chan error, 1)}
	e.srv, err = server.New(server.Config{
		Handler: handler(e.addr),
		Engine:  server.EngineConfig{Enabled: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { e.done <- e.srv.ServeUDP(tr) }()
	t.Cleanup(e.stop)
	return e
}

func (e *udpEngine) stop() {
	if e.srv.Close() == nil && e.done != nil {
		<-e.done
		e.done = nil
	}
}

// keyedClient is our client for addr over network with udpKey; it closes
// at the test's end.
func keyedClient(t *testing.T, addr, network string) *rpcclient.Client {
	t.Helper()
	opts := rpcclient.Options{Network: network}
	opts.Packet.Key = udpKey
	cl, err := rpcclient.New(addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// udpKeyFile writes the key where key_file can name it.
func udpKeyFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, udpKey, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUDPAppsAndEngines: apps over UDP and TCP reach engines over UDP
// (transport = "udp") with the same placement; a stopped UDP engine
// times out, goes down after consecutive_timeouts and then fails fast,
// while the other shard keeps answering.
func TestUDPAppsAndEngines(t *testing.T) {
	engs := []*udpEngine{startUDPEngine(t), startUDPEngine(t)}
	cfg := parseConfig(t, fmt.Sprintf(`[proxy]
listen = %q
timeout = "300ms"
schemas = [%q]
key_file = %q
[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "ketama"
transport = "udp"
shards = [{ replicas = [%q] }, { replicas = [%q] }]
`, mainListen, memcacheTL, udpKeyFile(t), engs[0].addr, engs[1].addr))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	ua := p.UDPAddr(netip.MustParseAddrPort(mainListen))
	if ua == nil {
		t.Fatal("no UDP listener")
	}
	if ua.String() != p.addr(t, mainListen) {
		t.Fatalf("UDP on %v, TCP on %s: want the same address", ua, p.addr(t, mainListen))
	}
	overUDP, overTCP := keyedClient(t, ua.String(), "udp"), keyedClient(t, ua.String(), "tcp")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	owner := map[string]int{} // key -> engine index
	var resp rpcclient.Response
	for i := range 40 {
		key := fmt.Sprintf("key-%d", i)
		body := getCall(t, key)
		var got [2][]byte
		for j, cl := range []*rpcclient.Client{overUDP, overTCP} {
			if err := cl.Do(ctx, &rpcclient.Request{Body: body}, &resp); err != nil {
				t.Fatalf("%s (client %d): %v", key, j, err)
			}
			got[j] = bytes.Clone(resp.Body)
		}
		if !bytes.Equal(got[0], got[1]) {
			t.Fatalf("%s: UDP app got %q, TCP app %q", key, got[0], got[1])
		}
		for k, e := range engs {
			if bytes.Equal(got[0], enginetest.Echo(e.addr, body)) {
				owner[key] = k
			}
		}
		if _, ok := owner[key]; !ok {
			t.Fatalf("%s: answer %q from no engine", key, got[0])
		}
	}
	var keyOf [2]string
	for k, i := range owner {
		keyOf[i] = k
	}
	if keyOf[0] == "" || keyOf[1] == "" {
		t.Fatalf("40 keys all on one shard: %v", owner)
	}

	engs[0].stop()
	e0 := p.Table().Cluster("mc").Shards[0].Replicas[0]
	// A header without custom_timeout_ms: the cluster's 300ms applies, so
	// the proxy answers QUERY_TIMEOUT long before the client gives up.
	short := &rpcclient.Request{Header: []byte{}, Body: getCall(t, keyOf[0])}
	for i := 0; e0.Health().State() != health.StateDown; i++ {
		if i > 10 {
			t.Fatalf("engine still %v after %d timeouts", e0.Health().State(), i)
		}
		err := overUDP.Do(ctx, short, &resp)
		var re *rpc.Error
		if !errors.As(err, &re) || re.Code != rpc.CodeQueryTimeout {
			t.Fatalf("stopped engine: %v, want QUERY_TIMEOUT", err)
		}
	}
	err := overUDP.Do(ctx, &rpcclient.Request{Body: getCall(t, keyOf[0])}, &resp)
	var re *rpc.Error
	if !errors.As(err, &re) || re.Code != rpc.CodeNoConnections {
		t.Fatalf("down engine: %v, want NO_CONNECTIONS at once", err)
	}
	if err := overUDP.Do(ctx, &rpcclient.Request{Body: getCall(t, keyOf[1])}, &resp); err != nil {
		t.Fatalf("the other shard: %v", err)
	}
}

// TestUDPForwardAlloc: a get from an app over UDP, through the proxy, to
// an engine over UDP and back allocates nothing in steady state, counted
// over the whole process (app, proxy, engine and both transports).
func TestUDPForwardAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts need a build without -race")
	}
	eng := startUDPEngine(t)
	cfg := parseConfig(t, fmt.Sprintf(`[proxy]
listen = %q
schemas = [%q]
key_file = %q
[[cluster]]
name = "mc"
functions = ["memcache.*"]
transport = "udp"
shards = [{ replicas = [%q] }]
`, mainListen, memcacheTL, udpKeyFile(t), eng.addr))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	cl := keyedClient(t, p.addr(t, mainListen), "udp")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := &rpcclient.Request{Body: getCallB("photo100_500")}
	var resp rpcclient.Response
	do := func() {
		if err := cl.Do(ctx, req, &resp); err != nil {
			t.Fatal(err)
		}
	}
	for range 500 {
		do()
	}
	if n := testing.AllocsPerRun(2000, do); n != 0 {
		t.Fatalf("%v allocations per request over UDP", n)
	}
}

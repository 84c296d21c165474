package rpcproxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	rpcclient "github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

// TestAppStats: /stats and /metrics show the app side. Each listener (the
// main port and a cluster's own) counts its own connections and requests,
// TCP and UDP together; a connection that sends garbage is counted as bad
// input, garbage datagrams as drops of its UDP transport by reason; the
// caps over all ports and their use are shown once; the engines' UDP
// transport has its own counters.
func TestAppStats(t *testing.T) {
	eng := startUDPEngine(t)
	const portListen = "127.0.0.1:19312"
	cfg := parseConfig(t, fmt.Sprintf(`[proxy]
listen = %q
timeout = "5s"
schemas = [%q]
key_file = %q
max_connections = 50
[[cluster]]
name = "mc"
functions = ["memcache.*"]
listen = %q
transport = "udp"
shards = [{ replicas = [%q] }]
`, mainListen, memcacheTL, udpKeyFile(t), portListen, eng.addr))
	p := startProxy(t, cfg, Options{NoAdmin: true})
	main, port := p.addr(t, mainListen), p.addr(t, portListen)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var resp rpcclient.Response
	calls := func(cl *rpcclient.Client, n int) {
		for i := range n {
			if err := cl.Do(ctx, &rpcclient.Request{Body: getCall(t, fmt.Sprint("k", i))}, &resp); err != nil {
				t.Fatal(err)
			}
		}
	}
	calls(keyedClient(t, main, "udp"), 5)
	calls(keyedClient(t, main, "tcp"), 3)
	calls(keyedClient(t, port, "tcp"), 2)

	// A TCP app that sends garbage is closed and counted.
	nc, err := net.Dial("tcp", main)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write([]byte(strings.Repeat("\x01\xfe", 40))); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil {
		t.Fatalf("garbage connection: %v, want it closed", err)
	}
	// Garbage datagrams are dropped and counted by reason.
	uc, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(main)))
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	for range 3 {
		if _, err := uc.Write([]byte{1, 2, 3, 4}); err != nil {
			t.Fatal(err)
		}
	}

	var st Stats
	waitFor(t, "the garbage connection and datagrams to be counted", func() bool {
		st = p.Snapshot()
		if len(st.App.Listeners) != 2 {
			t.Fatalf("listeners %+v, want 2", st.App.Listeners)
		}
		m := st.App.Listeners[0]
		return m.BadInput == 1 && m.UDP != nil && m.UDP.DroppedBy["short"] == 3 && st.App.Connections == 3
	})
	m, c := st.App.Listeners[0], st.App.Listeners[1]
	if m.Listen != mainListen || c.Listen != portListen {
		t.Fatalf("listeners %s and %s, want %s and %s in address order", m.Listen, c.Listen, mainListen, portListen)
	}
	// The main port: 5 requests over UDP and 3 over TCP, one UDP peer and
	// one TCP app open, the garbage connection accepted and closed.
	if m.Requests != 8 || m.Connections != 2 || m.Accepted != 3 || m.Rejected != 0 || m.Inflight != 0 || m.UDP.Connections != 1 {
		t.Fatalf("main listener %+v, udp %+v", m, *m.UDP)
	}
	if c.Requests != 2 || c.Connections != 1 || c.BadInput != 0 {
		t.Fatalf("cluster port %+v", c)
	}
	if a := st.App; a.MaxConnections != 50 || a.RequestBytes != 0 || a.MaxHeldBytes != cfg.Proxy.MaxResponseBytes {
		t.Fatalf("app caps %+v", a)
	}
	if st.EngineUDP == nil || st.EngineUDP.MessagesOut < 10 || st.EngineUDP.Connections != 1 {
		t.Fatalf("engine UDP %+v", st.EngineUDP)
	}

	page := scrapeMetrics(t, p)
	for _, want := range []string{
		fmt.Sprintf(`rpcproxy_app_requests_total{listen=%q} 8`, mainListen),
		fmt.Sprintf(`rpcproxy_app_requests_total{listen=%q} 2`, portListen),
		fmt.Sprintf(`rpcproxy_app_connections_bad_input_total{listen=%q} 1`, mainListen),
		fmt.Sprintf(`rpcproxy_app_connections{listen=%q} 2`, mainListen),
		`rpcproxy_app_connections_limit 50`,
		`rpcproxy_answer_bytes_held 0`,
		fmt.Sprintf(`rpcproxy_udp_dropped_total{listen=%q,reason="short"} 3`, mainListen),
		`rpcproxy_udp_connections{listen="engines"} 1`,
		fmt.Sprintf(`rpcproxy_udp_dormant{listen=%q} 0`, mainListen),
		fmt.Sprintf(`rpcproxy_udp_park_events_total{listen=%q,event="parked"} 0`, mainListen),
		`rpcproxy_udp_park_events_total{listen="engines",event="evicted"} 0`,
		`rpcproxy_udp_resets_total{listen="engines"} 0`,
	} {
		if !strings.Contains(page, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Log(page)
	}
}

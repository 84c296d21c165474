package integration

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/tl"
	rpcclient "github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

// TestUDPFanoutOurClient: our client over UDP -> the proxy process ->
// 4 engine processes over UDP (transport = "udp"): a getMulti with keys
// of every shard (interleaved, one absent, one twice) is split and
// answered in the request's key order, byte-equal to the same getMulti
// over TCP; each key is stored on the engine `rpcproxy route` names, so
// the answer came from all 4 shards. No VK UDP code: it runs under -race.
func TestUDPFanoutOurClient(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	// Registered first, so it runs last: after the clients closed and the
	// processes were killed.
	t.Cleanup(func() {
		httpClient.CloseIdleConnections()
		goleak.VerifyNone(t, leaks)
	})
	p, mc, keys := udpSetup(t, 4)
	newClient := func(network string) *rpcclient.Client {
		opts := rpcclient.Options{Network: network}
		opts.Packet.Key = udpKey
		cl, err := rpcclient.New(p.addr, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cl.Close() })
		return cl
	}
	overUDP, overTCP := newClient("udp"), newClient("tcp")
	ctx, cancel := context.WithTimeout(context.Background(), callWait)
	defer cancel()
	var resp rpcclient.Response
	for _, k := range keys {
		if err := overUDP.Do(ctx, &rpcclient.Request{Body: mcSet(k, "v:"+k)}, &resp); err != nil || !bytes.Equal(resp.Body, tl.AppendBool(nil, true)) {
			t.Fatalf("set %q over UDP: %x %v", k, resp.Body, err)
		}
	}
	direct := newApp(t) // over TCP, straight to the engines
	for i, k := range keys {
		if h := holder(t, direct, mc, k); h != i {
			t.Fatalf("key %q on engine %d, want %d (rpcproxy route)", k, h, i)
		}
	}

	query := []string{keys[3], keys[0], "absent", keys[2], keys[1], keys[3]}
	want := []string{"v:" + keys[3], "v:" + keys[0], "-", "v:" + keys[2], "v:" + keys[1], "v:" + keys[3]}
	var got [2][]byte
	for i, cl := range []*rpcclient.Client{overUDP, overTCP} {
		if err := cl.Do(ctx, &rpcclient.Request{Body: mcGetMulti(query...)}, &resp); err != nil {
			t.Fatalf("getMulti %q (client %d): %v", query, i, err)
		}
		got[i] = bytes.Clone(resp.Body)
	}
	if vals, err := parseValues(got[0]); err != nil || !slices.Equal(vals, want) {
		t.Fatalf("getMulti %q over UDP: %q (%v), want %q", query, vals, err, want)
	}
	if !bytes.Equal(got[0], got[1]) {
		t.Fatalf("getMulti over UDP\n%x\nover TCP\n%x", got[0], got[1])
	}
}

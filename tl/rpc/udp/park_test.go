package udp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// awaitIdle reads s until ReadPacket offers it to park (ErrIdle), moving
// the server's clock by step every millisecond: s turns quiet only once
// the peer's acks have crossed the real socket.
func awaitIdle(t *testing.T, clk *fakeClock, s *Conn, step time.Duration) {
	t.Helper()
	res := make(chan error, 1)
	go func() {
		_, _, err := s.ReadPacket()
		res <- err
	}()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case err := <-res:
			if !errors.Is(err, ErrIdle) {
				t.Fatalf("ReadPacket: %v, want ErrIdle", err)
			}
			return
		case <-tick.C:
			clk.Advance(step)
		case <-deadline:
			t.Fatal("no ErrIdle within 10s")
		}
	}
}

// openPair dials srv from cli, sends msg, and returns both ends once srv
// accepted the connection and read msg.
func openPair(t *testing.T, cli, srv *Transport, msg []byte) (c, s *Conn) {
	t.Helper()
	c, err := cli.Dial(addrOf(srv))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WritePacket(1, nil, msg); err != nil {
		t.Fatal(err)
	}
	s = acceptWithin(t, srv, 5*time.Second)
	readOne(t, s, 1, msg)
	return c, s
}

// readOne reads one message from s and checks it.
func readOne(t *testing.T, s *Conn, typ uint32, want []byte) {
	t.Helper()
	gotTyp, body, err := s.ReadPacket()
	if err != nil || gotTyp != typ || !bytes.Equal(body, want) {
		t.Fatalf("read: type %d, %d bytes, err %v; want type %d, %d bytes", gotTyp, len(body), err, typ, len(want))
	}
}

// TestParkRevive: an idle accepted connection is offered to its reader,
// parked, and brought back by the peer's next message as a new Conn from
// Accept, three times over. The peer notices nothing: its connection is
// never reset, and messages of several chunks keep flowing both ways, so
// the seqs went on where they stopped.
func TestParkRevive(t *testing.T) {
	leakCheck(t)
	clk := newFakeClock()
	srv := newTransport(t, Config{Now: clk.Now, NewTimer: clk.NewTimer, IdleAfter: time.Second})
	cli := newTransport(t, Config{})
	c, err := cli.Dial(addrOf(srv))
	if err != nil {
		t.Fatal(err)
	}
	answers := reader(c)
	for round := range 3 {
		req := bytes.Repeat([]byte{byte('a' + round)}, 1+round*2500)
		if err := c.WritePacket(1, nil, req); err != nil {
			t.Fatal(err)
		}
		s := acceptWithin(t, srv, 5*time.Second)
		if s.RemoteAddrPort() != addrOf(cli) {
			t.Fatalf("round %d: accepted %v, want %v", round, s.RemoteAddrPort(), addrOf(cli))
		}
		readOne(t, s, 1, req)
		answer := bytes.Repeat([]byte{byte('A' + round)}, 3000-round*1000)
		if err := s.WritePacket(2, nil, answer); err != nil {
			t.Fatal(err)
		}
		if r := recvWithin(t, answers, 5*time.Second); r.err != nil || r.typ != 2 || !bytes.Equal(r.body, answer) {
			t.Fatalf("round %d: answer type %d, %d bytes, err %v", round, r.typ, len(r.body), r.err)
		}
		awaitIdle(t, clk, s, 10*time.Millisecond)
		if !s.Park() {
			t.Fatalf("round %d: Park refused an idle connection", round)
		}
		<-s.Done()
		if err := s.WritePacket(2, nil, answer); !errors.Is(err, ErrParked) {
			t.Fatalf("round %d: write after Park: %v, want ErrParked", round, err)
		}
		st := srv.Stats()
		if st.Conns != 0 || st.Dormant != 1 || st.Parked != uint64(round+1) || st.Revived != uint64(round) {
			t.Fatalf("round %d: conns %d, dormant %d, parked %d, revived %d", round, st.Conns, st.Dormant, st.Parked, st.Revived)
		}
	}
	if st := cli.Stats(); st.Resets != 0 {
		t.Fatalf("the client saw %d resets", st.Resets)
	}
	if st := srv.Stats(); st.Dropped[DropUnknownHash] != 0 || st.Accepted != 1 {
		t.Fatalf("server: %d unknown-hash drops, %d accepted", st.Dropped[DropUnknownHash], st.Accepted)
	}
}

// TestParkRevivePidMode: a peer that never heard from us (every datagram
// we send is lost) still speaks in pid mode, naming us only by address.
// Its connection parks all the same, and its next message revives it with
// the seqs it had: the message it keeps resending is not delivered twice.
func TestParkRevivePidMode(t *testing.T) {
	leakCheck(t)
	clk := newFakeClock()
	srv, deaf := newLossy(t, Config{Now: clk.Now, NewTimer: clk.NewTimer, IdleAfter: time.Second}, 1, 1, 0, 0)
	cli := newTransport(t, Config{})
	c, s := openPair(t, cli, srv, []byte("first"))
	awaitIdle(t, clk, s, 10*time.Millisecond)
	if !s.Park() {
		t.Fatal("Park refused an idle connection")
	}
	if err := c.WritePacket(1, nil, []byte("second")); err != nil {
		t.Fatal(err)
	}
	s2 := acceptWithin(t, srv, 5*time.Second)
	readOne(t, s2, 1, []byte("second"))
	deaf.mu.Lock()
	dropped := deaf.dropped
	deaf.mu.Unlock()
	cli.mu.Lock()
	state := c.state
	cli.mu.Unlock()
	if st := srv.Stats(); st.Revived != 1 || st.Accepted != 1 || state != stWaitingForRemotePid || dropped == 0 {
		t.Fatalf("revived %d, accepted %d, client state %d, server datagrams lost %d", st.Revived, st.Accepted, state, dropped)
	}
}

// TestDormantEviction: over MaxDormant, the record parked longest ago is
// forgotten; that peer's next message gets obsoleteHash, which resets its
// connection (VK's client then fails what it had in flight and connects
// again), while the peers still on record are revived.
func TestDormantEviction(t *testing.T) {
	leakCheck(t)
	clk := newFakeClock()
	srv := newTransport(t, Config{Now: clk.Now, NewTimer: clk.NewTimer, IdleAfter: time.Second, MaxDormant: 2})
	var conns []*Conn
	for i := range 3 {
		msg := []byte(fmt.Sprintf("peer %d", i))
		c, s := openPair(t, newTransport(t, Config{}), srv, msg)
		conns = append(conns, c)
		if err := s.WritePacket(2, nil, msg); err != nil { // makes the client established
			t.Fatal(err)
		}
		awaitIdle(t, clk, s, 10*time.Millisecond)
		if !s.Park() {
			t.Fatalf("peer %d: Park refused", i)
		}
	}
	if st := srv.Stats(); st.Dormant != 2 || st.Evicted != 1 || st.Parked != 3 {
		t.Fatalf("dormant %d, evicted %d, parked %d", st.Dormant, st.Evicted, st.Parked)
	}
	if err := conns[0].WritePacket(1, nil, []byte("forgotten")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-conns[0].Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the evicted peer was not told its hash is obsolete")
	}
	if err := conns[0].Err(); !errors.Is(err, ErrReset) {
		t.Fatalf("evicted peer: %v, want ErrReset", err)
	}
	if err := conns[2].WritePacket(1, nil, []byte("remembered")); err != nil {
		t.Fatal(err)
	}
	readOne(t, acceptWithin(t, srv, 5*time.Second), 1, []byte("remembered"))
	if st := srv.Stats(); st.Revived != 1 || st.Dormant != 1 {
		t.Fatalf("revived %d, dormant %d", st.Revived, st.Dormant)
	}
}

// TestParkRefused: Park changes nothing unless the connection holds
// nothing at all, was accepted, is open and parking is on.
func TestParkRefused(t *testing.T) {
	cases := []struct {
		name  string
		off   bool
		setup func(c *Conn)
		ok    bool
	}{
		{name: "quiet", setup: func(*Conn) {}, ok: true},
		{name: "never established", setup: func(c *Conn) { c.state = stWaitingForHash }, ok: true},
		{name: "parking off", off: true, setup: func(*Conn) {}},
		{name: "dialled", setup: func(c *Conn) { c.active = true }},
		{name: "ended", setup: func(c *Conn) { c.err = ErrClosed }},
		{name: "waiting for remote pid", setup: func(c *Conn) { c.state = stWaitingForRemotePid }},
		{name: "write queued", setup: func(c *Conn) { c.out.queue = []*outMsg{{buf: []byte("x")}} }},
		{name: "sent, unacked", setup: func(c *Conn) { c.out.next, c.out.sentEnd = 8, 8 }},
		{name: "undelivered", setup: func(c *Conn) { c.recvq = [][]byte{[]byte("msg!")} }},
		{name: "half received", setup: func(c *Conn) { c.in.msgs[3] = &inMsg{parts: 2} }},
		{name: "hole", setup: func(c *Conn) { c.in.high = c.in.prefix + 2 }},
		{name: "ack owed", setup: func(c *Conn) { c.in.ackAt = time.Unix(1, 0) }},
		{name: "resend request owed", setup: func(c *Conn) { c.in.rrAt = time.Unix(1, 0) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Keys: [][]byte{testKey}}
			if tc.off {
				cfg.MaxDormant = -1
			}
			tr, err := build(discardSocket{}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			c := parkable(tr, 1)
			tc.setup(c)
			if got := c.Park(); got != tc.ok {
				t.Fatalf("Park = %v, want %v", got, tc.ok)
			}
			if st := tr.Stats(); st.Dormant != b2i(tc.ok) || st.Conns != 1-b2i(tc.ok) {
				t.Fatalf("dormant %d, conns %d", st.Dormant, st.Conns)
			}
			if !tc.ok && tc.name != "ended" && c.Err() != nil {
				t.Fatalf("a refused Park ended the connection: %v", c.Err())
			}
		})
	}
}

// TestDormantQueue: records are evicted oldest first, a revived record
// leaves a stale queue entry that eviction skips, and park and revive
// cycles keep the queue within twice the records.
func TestDormantQueue(t *testing.T) {
	tr, err := build(discardSocket{}, Config{Keys: [][]byte{testKey}, MaxDormant: 3})
	if err != nil {
		t.Fatal(err)
	}
	park := func(port uint16) {
		t.Helper()
		if !parkable(tr, port).Park() {
			t.Fatalf("port %d: Park refused", port)
		}
	}
	revive := func(port uint16) {
		t.Helper()
		k := addrKey{0x7f000001, port}
		tr.mu.Lock()
		tr.rx.flags = ePacketNum | eSingle // as if a datagram with a message came
		c := tr.revive(k, tr.dormant[k])
		tr.mu.Unlock()
		if c == nil {
			t.Fatalf("port %d: revive refused", port)
		}
		<-tr.acceptq
	}
	for p := uint16(1); p <= 3; p++ {
		park(p)
	}
	revive(1) // leaves a stale entry at the head of the queue
	park(4)
	park(5) // evicts 2, the oldest record; 1's entry is stale
	park(6) // evicts 3
	tr.mu.Lock()
	var ports []uint16
	for k := range tr.dormant {
		ports = append(ports, k.port)
	}
	tr.mu.Unlock()
	if st := tr.Stats(); st.Evicted != 2 || st.Dormant != 3 || !sameSet(ports, []uint16{4, 5, 6}) {
		t.Fatalf("evicted %d, dormant ports %v", st.Evicted, ports)
	}
	for range 1000 {
		revive(5)
		park(5)
	}
	tr.mu.Lock()
	qlen := len(tr.parkq) - tr.parkHead
	tr.mu.Unlock()
	if qlen > 2*3+64 {
		t.Fatalf("eviction queue holds %d entries for 3 records", qlen)
	}
}

// parkable registers a quiet, established, accepted connection from
// 127.0.0.1:port in tr (which runs no goroutines).
func parkable(tr *Transport, port uint16) *Conn {
	k := addrKey{0x7f000001, port}
	c := tr.newConn(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port), k, false)
	c.state = stEstablished
	c.remote = tr.local
	c.remote.PortPID = uint32(port)
	c.keyID = tr.s.dialKey
	tr.mu.Lock()
	tr.established(c, tr.s.keys[c.keyID])
	tr.byAddr[k] = c
	tr.mu.Unlock()
	return c
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func sameSet(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[uint16]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestSilentPeerForgotten: an accepted peer that acks nothing for
// IdleAfter (at least 5s) while we resend to it is gone (an app that exited before
// acking its last answer): its connection resets, and no record is kept.
// A connection we dialled keeps VK's five minutes.
func TestSilentPeerForgotten(t *testing.T) {
	for _, tc := range []struct{ idle, silent time.Duration }{
		{idle: time.Minute, silent: time.Minute},
		{idle: 20 * time.Millisecond, silent: minSilent}, // a live peer acks 30ms late
	} {
		t.Run(tc.idle.String(), func(t *testing.T) { testSilentPeerForgotten(t, tc.idle, tc.silent) })
	}
}

func testSilentPeerForgotten(t *testing.T, idle, silent time.Duration) {
	leakCheck(t)
	clk := newFakeClock()
	srv := newTransport(t, Config{Now: clk.Now, NewTimer: clk.NewTimer, IdleAfter: idle})
	cli := newTransport(t, Config{})
	_, s := openPair(t, cli, srv, []byte("last words"))
	if err := cli.Close(); err != nil { // the app exits without acking
		t.Fatal(err)
	}
	if err := s.WritePacket(2, nil, []byte("unheard")); err != nil {
		t.Fatal(err)
	}
	// The server dials a peer of its own that never answers either.
	mute := listen(t)
	defer mute.Close()
	d, err := srv.Dial(mute.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WritePacket(3, nil, []byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(silent - time.Millisecond)
	runTimers(srv, clk)
	select {
	case <-s.Done():
		t.Fatalf("reset before %v", silent)
	default:
	}
	clk.Advance(time.Millisecond)
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("a silent accepted peer was kept past %v", silent)
	}
	if err := s.Err(); !errors.Is(err, ErrReset) {
		t.Fatalf("err %v, want ErrReset", err)
	}
	if d.Err() != nil {
		t.Fatalf("the dialled connection ended after IdleAfter: %v", d.Err())
	}
	if st := srv.Stats(); st.Resets != 1 || st.Dormant != 0 || st.Conns != 1 {
		t.Fatalf("resets %d, dormant %d, conns %d", st.Resets, st.Dormant, st.Conns)
	}
}

// TestDormantDatagrams drives the receive path by hand: a hash-mode
// datagram that only acks leaves a parked peer dormant; one that carries
// the next chunk revives it, and the chunk is delivered with no hole left
// behind (the receive seq went on from the record); a pid-mode datagram from a restarted peer at
// the same address drops the record and is accepted afresh.
func TestDormantDatagrams(t *testing.T) {
	tr, err := build(discardSocket{}, Config{Keys: [][]byte{testKey}})
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort("127.0.0.1:40000")
	peer, srv := packet.NewPID(0x7f000001, ap.Port(), 3, 100), tr.LocalPID()
	handle := func(d []byte) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		tr.handle(ap, d)
	}
	accept := func() *Conn {
		t.Helper()
		select {
		case c := <-tr.acceptq:
			return c
		default:
			t.Fatal("nothing to accept")
			return nil
		}
	}
	handle(fuzzSeeds(peer, srv)[0]) // seq 0 in pid mode
	c := accept()
	readOne(t, c, 0x2374df3d, bytes.Repeat([]byte{1}, 20))
	tr.mu.Lock()
	tr.fireTimers(tr.s.now().Add(time.Second)) // sends the ack owed
	tr.mu.Unlock()
	if !c.Park() {
		t.Fatal("Park refused")
	}

	hu := unencHeader{flags: 0xbc, hash: pidHash(tr.tab.crc64, srv, peer, 0), cryptoFlags: cryptoFlags(KeyID(testKey)), random: [32]byte{4},
		local: peer, remote: srv} // the pids only derive the key: hash mode does not send them
	const mirror = 0xbc & 0x7f
	handle(craft(nil, &hu, testKey, plainOf(&hu, encHeader{flags: eVersion | mirror | eAckPrefix, version: transportVersion}, nil, false)))
	if st := tr.Stats(); st.Revived != 0 || st.Dormant != 1 || st.Conns != 0 {
		t.Fatalf("after an ack: revived %d, dormant %d, conns %d", st.Revived, st.Dormant, st.Conns)
	}
	data := encHeader{flags: ePacketNum | eSingle | eVersion | mirror | ePrevParts | eNextParts | ePrevLength | eNextLength | ePacketOffset,
		version: transportVersion, packetNum: 1, packetOffset: 24}
	msg := binary.LittleEndian.AppendUint32(nil, 0x2374df3d)
	msg = append(msg, "after the park"...)
	handle(craft(nil, &hu, testKey, plainOf(&hu, data, msg, false)))
	if st := tr.Stats(); st.Revived != 1 || st.Dormant != 0 || st.Conns != 1 {
		t.Fatalf("after a chunk: revived %d, dormant %d, conns %d", st.Revived, st.Dormant, st.Conns)
	}
	c = accept()
	tr.mu.Lock()
	queued := len(c.recvq) - c.recvHead
	tr.mu.Unlock()
	if queued != 1 {
		t.Fatalf("the revived connection has %d messages to read, want 1", queued)
	}
	readOne(t, c, 0x2374df3d, []byte("after the park"))
	tr.mu.Lock()
	tr.fireTimers(tr.s.now().Add(time.Second))
	tr.mu.Unlock()
	if !c.Park() {
		t.Fatal("Park refused the revived connection")
	}

	restarted := packet.NewPID(0x7f000001, ap.Port(), 4, 200)
	handle(fuzzSeeds(restarted, srv)[0])
	if st := tr.Stats(); st.Dormant != 0 || st.Conns != 1 || st.Accepted != 2 {
		t.Fatalf("after a restart: dormant %d, conns %d, accepted %d", st.Dormant, st.Conns, st.Accepted)
	}
	readOne(t, accept(), 0x2374df3d, bytes.Repeat([]byte{1}, 20))
}

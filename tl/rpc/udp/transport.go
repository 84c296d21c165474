package udp

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// Socket is the part of *net.UDPConn a Transport uses; tests wrap it to
// inject loss, duplication and reordering.
type Socket interface {
	ReadFromUDPAddrPort(b []byte) (n int, addr netip.AddrPort, err error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
	LocalAddr() net.Addr
	Close() error
}

var _ Socket = (*net.UDPConn)(nil)

// Transport owns one UDP socket and every connection on it. Two goroutines
// run per Transport: the socket reader and the timer loop. All connection
// state is guarded by mu; datagrams are built in scratch buffers under it
// and written while it is held, so the send path allocates nothing.
type Transport struct {
	s     *settings
	sock  Socket
	tab   tables
	local packet.PID

	acceptq chan *Conn
	done    chan struct{}
	wake    chan struct{} // cap 1: a timer deadline moved earlier
	wg      sync.WaitGroup
	stats   counters

	mu      sync.Mutex
	closed  bool
	byAddr  map[addrKey]*Conn
	byHash  map[hashKey]*Conn
	nextGen map[addrKey]uint32 // generation for the next Dial after a regeneration or a local Close
	// obsoleteAt: when we last answered an address with obsolete*.
	obsoleteAt map[addrKey]time.Time
	// dormant: parked connections by peer; parkq[parkHead:] is their
	// eviction order, with stale entries (park.go).
	dormant  map[addrKey]dormant
	parkq    []parkRef
	parkHead int
	parkSeq  uint64
	blocks   blockCache
	out      []byte               // datagram scratch
	plain    []byte               // plaintext scratch
	payload  []byte               // payload scratch
	inPlain  []byte               // decryption scratch (reader only, under mu)
	rx       encHeader            // receive-side header scratch (reader only, under mu)
	bufs     [numClasses][][]byte // free message buffers by size class
	msgs     []*outMsg
	inMsgs   []*inMsg
}

// New starts a Transport on sock, which it owns from now on (Close closes
// it). The socket should be bound to a specific IPv4 address to Dial: the
// address is part of our PID, and VK peers check it. On Linux an IPv4
// *net.UDPConn is read and written with raw system calls (rawSocket). Its
// receive buffer is raised to Config.ReadBuffer.
func New(sock Socket, cfg Config) (*Transport, error) {
	t, err := build(rawUDP(sock), cfg)
	if err != nil {
		return nil, err
	}
	size := cfg.ReadBuffer
	if size == 0 {
		size = defaultReadBuffer
	}
	if rb, ok := sock.(interface{ SetReadBuffer(int) error }); ok && size > 0 {
		if err := rb.SetReadBuffer(size); err != nil {
			t.s.log.Warn("udp: cannot set the socket's receive buffer; bursts may be dropped and resent", "bytes", size, "err", err)
		} else if got, ok := readBuffer(sock); ok && got < size {
			// The kernel caps the size at net.core.rmem_max without an
			// error (212992 bytes by default on Linux).
			t.s.log.Warn("udp: the kernel capped the socket's receive buffer at net.core.rmem_max; bursts may overflow it, each dropped datagram waiting for a resend: raise the cap (sysctl -w net.core.rmem_max=BYTES)",
				"asked_bytes", size, "got_bytes", got)
		}
	}
	t.wg.Add(2)
	go t.readLoop()
	go t.timerLoop()
	return t, nil
}

// build makes a Transport without starting its goroutines (New starts
// them; fuzz tests drive handle directly).
func build(sock Socket, cfg Config) (*Transport, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	la, ok := sock.LocalAddr().(*net.UDPAddr)
	if !ok {
		return nil, fmt.Errorf("%w: local address %v", ErrAddress, sock.LocalAddr())
	}
	ap := la.AddrPort()
	ip, okIP := ipv4(ap.Addr())
	if !okIP && !ap.Addr().IsUnspecified() {
		return nil, fmt.Errorf("%w: %v is not IPv4", ErrAddress, ap)
	}
	backlog := max(s.backlog, 0)
	t := &Transport{
		s: s, sock: sock, tab: newTables(),
		local:      s.localPID(ip, ap.Port()),
		acceptq:    make(chan *Conn, backlog),
		done:       make(chan struct{}),
		wake:       make(chan struct{}, 1),
		byAddr:     make(map[addrKey]*Conn),
		byHash:     make(map[hashKey]*Conn),
		nextGen:    make(map[addrKey]uint32),
		obsoleteAt: make(map[addrKey]time.Time),
		dormant:    make(map[addrKey]dormant),
		out:        make([]byte, 0, recvBufferSize),
		plain:      make([]byte, 0, recvBufferSize),
		payload:    make([]byte, 0, recvBufferSize),
		inPlain:    make([]byte, 0, recvBufferSize),
		rx:         encHeader{ackSet: make([]uint32, 0, 64)},
	}
	t.blocks.init()
	return t, nil
}

// LocalPID is the PID this Transport announces.
func (t *Transport) LocalPID() packet.PID { return t.local }

// LocalAddr is the socket address.
func (t *Transport) LocalAddr() net.Addr { return t.sock.LocalAddr() }

// Stats returns a snapshot of the counters.
func (t *Transport) Stats() Stats {
	s := t.stats.snapshot()
	t.mu.Lock()
	s.Conns = len(t.byAddr)
	s.Dormant = len(t.dormant)
	t.mu.Unlock()
	return s
}

// Close closes the socket and every connection, and waits for the
// Transport's goroutines to exit.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	close(t.done)
	for _, c := range t.byAddr {
		t.closeConn(c, ErrClosed)
	}
	t.mu.Unlock()
	err := t.sock.Close()
	t.wg.Wait()
	return err
}

// Accept returns the next connection a peer opened.
func (t *Transport) Accept() (*Conn, error) {
	select {
	case c := <-t.acceptq:
		return c, nil
	case <-t.done:
		return nil, fmt.Errorf("%w: transport", ErrClosed)
	}
}

// Dial returns the connection to addr, creating it in the active state
// (0-RTT: the first WritePacket already carries data). There is one
// connection per peer address: if one exists (dialled or accepted), Dial
// returns it.
func (t *Transport) Dial(addr netip.AddrPort) (*Conn, error) {
	ip, ok := ipv4(addr.Addr())
	if !ok || addr.Port() == 0 || ip == 0 {
		return nil, fmt.Errorf("%w: dial %v", ErrAddress, addr)
	}
	if t.local.IP == 0 {
		return nil, fmt.Errorf("%w: transport bound to a wildcard address cannot dial", ErrAddress)
	}
	k := addrKey{ip, addr.Port()}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("%w: transport", ErrClosed)
	}
	if c := t.byAddr[k]; c != nil {
		return c, nil
	}
	if len(t.byAddr) >= t.s.maxConns {
		return nil, fmt.Errorf("%w: %d connections (Config.MaxConns)", ErrTooMany, len(t.byAddr))
	}
	t.forgetDormant(k)
	c := t.newConn(netip.AddrPortFrom(netip.AddrFrom4(addr.Addr().As4()), addr.Port()), k, true)
	c.state = stWaitingForRemotePid
	c.remote = packet.PID{IP: ip, PortPID: uint32(addr.Port())}
	c.gen = t.nextGen[k]
	c.keyID = t.s.dialKey
	c.write = t.blocks.get(t.s.keys[c.keyID], t.local, c.remote, c.gen)
	t.byAddr[k] = c
	return c, nil
}

// closeConn ends c with err and forgets it. Caller holds mu.
func (t *Transport) closeConn(c *Conn, err error) {
	if c.err != nil {
		return
	}
	c.err = err
	if t.byAddr[c.key] == c {
		delete(t.byAddr, c.key)
	}
	if c.state != stWaitingForRemotePid {
		hk := hashKey{c.key, c.hash}
		if t.byHash[hk] == c {
			delete(t.byHash, hk)
		}
	}
	for _, m := range c.out.queue[c.out.qHead:] {
		t.putMsg(m)
	}
	c.out.queue, c.out.qHead, c.out.queued = nil, 0, 0
	clear(c.in.msgs) // the rings stay: late calls on c must not index empty ones
	close(c.done)
}

// reset ends c because the peer's state moved on (ErrReset).
func (t *Transport) reset(c *Conn, why string) { t.resetAt(c, slog.LevelInfo, why) }

// resetAt is reset, logged at level.
func (t *Transport) resetAt(c *Conn, level slog.Level, why string) {
	t.stats.resets.Add(1)
	t.s.log.Log(context.Background(), level, "udp: connection reset", "peer", c.addr, "why", why)
	t.closeConn(c, fmt.Errorf("%w: %s", ErrReset, why))
}

// silence is how long c may hear nothing while it has data unacked
// before it resets: VK's five minutes; for an accepted peer under
// IdleAfter, IdleAfter but at least minSilent, after which the peer is
// taken for gone (an app that exited before acking its last answer; if
// it was merely cut off, its next datagram gets obsoleteHash and its
// client fails what is in flight at once, rather than waiting for answers
// lost here).
func (t *Transport) silence(c *Conn) (limit time.Duration, gone bool) {
	if c.active || t.s.idleAfter <= 0 {
		return regenerateAfter, false
	}
	limit = max(t.s.idleAfter, minSilent)
	if limit >= regenerateAfter {
		return regenerateAfter, false
	}
	return limit, true
}

// readLoop is the socket reader: one datagram at a time into one buffer.
func (t *Transport) readLoop() {
	defer t.wg.Done()
	buf := make([]byte, recvBufferSize)
	for {
		n, addr, err := t.sock.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-t.done:
				return
			default:
			}
			t.s.log.Warn("udp: read", "err", err)
			continue
		}
		t.mu.Lock()
		if !t.closed {
			t.stats.datagramsIn.Add(1)
			t.handle(addr, buf[:n])
		}
		t.mu.Unlock()
	}
}

// timerLoop drives every connection's timers with one Timer: it sleeps
// until the earliest deadline of any connection or until woken.
func (t *Transport) timerLoop() {
	defer t.wg.Done()
	tm := t.s.newTimer(time.Hour)
	defer tm.Stop()
	for {
		t.mu.Lock()
		next := t.fireTimers(t.s.now())
		t.mu.Unlock()
		if next > 0 {
			tm.Reset(next)
		} else {
			tm.Reset(time.Hour)
		}
		select {
		case <-tm.C():
		case <-t.wake:
			tm.Stop()
		case <-t.done:
			return
		}
	}
}

// poke wakes the timer loop after a deadline was armed.
func (t *Transport) poke() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// fireTimers runs due timers and returns the wait until the next one (0:
// none). It scans all connections: O(conns) per wake-up, a fair price for
// sidecar-scale peer counts and no per-connection goroutines.
func (t *Transport) fireTimers(now time.Time) time.Duration {
	var next time.Time
	at := func(d time.Time) {
		if !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	for _, c := range t.byAddr {
		if !c.in.ackAt.IsZero() && !now.Before(c.in.ackAt) {
			c.in.ackAt = time.Time{}
			t.stats.acksOnly.Add(1)
			t.sendAck(c)
		}
		if !c.in.rrAt.IsZero() && !now.Before(c.in.rrAt) {
			c.in.rrAt = time.Time{}
			if c.in.holes() {
				t.stats.resendReqOut.Add(1)
				t.payload = c.in.appendResendRequest(t.payload[:0])
				t.sendUnreliable(c, t.payload)
				c.in.rrDelay = min(c.in.rrDelay*3/2, maxResend)
				c.in.rrAt = now.Add(c.in.rrDelay)
			}
		}
		if !c.resend.at.IsZero() && !now.Before(c.resend.at) {
			// Only chunks sent before the timer was armed have timed out;
			// later ones get their own round.
			armed := c.resend.seq
			c.resend.fire(c.out.ackPrefix)
			if armed != c.out.ackPrefix {
				c.out.markResend(c.out.ackPrefix, armed-1)
			}
			t.flush(c)
		}
		t.settle(c)
		if c.err != nil {
			continue
		}
		if t.s.idleAfter > 0 && !c.active {
			at(t.idleCheck(c, now))
		}
		if !c.silentSince.IsZero() {
			limit, gone := t.silence(c)
			regen := c.silentSince.Add(limit)
			if !now.Before(regen) {
				if c.active {
					t.nextGen[c.key] = c.gen + 1
				}
				if gone {
					// The common case (an app that exited before acking
					// its last answer): logged at debug only.
					t.resetAt(c, slog.LevelDebug, "peer silent")
				} else {
					t.reset(c, "regenerated after silence")
				}
				continue
			}
			at(regen)
		}
		at(c.in.ackAt)
		at(c.in.rrAt)
		at(c.resend.at)
	}
	if next.IsZero() {
		return 0
	}
	return max(next.Sub(now), time.Millisecond)
}

// header fills u for the next datagram of c in its current mode.
func (t *Transport) header(c *Conn, u *unencHeader) {
	if c.state == stEstablished {
		u.flags = uHash | uCrypto | uSHA | uRandom | uEncrypted
		u.hash = c.hash
	} else {
		u.flags = uPid | uCrypto | uSHA | uRandom | uEncrypted
		u.local, u.remote, u.gen = t.local, c.remote, c.gen
	}
	u.cryptoFlags = cryptoFlags(c.keyID)
	binary.LittleEndian.PutUint64(c.iv[:], binary.LittleEndian.Uint64(c.iv[:])+1)
	u.random = c.iv
}

// write sends a datagram to c's peer, counting it; errors are logged only,
// because the resend machinery covers lost datagrams.
func (t *Transport) write(addr netip.AddrPort, d []byte) {
	t.stats.datagramsOut.Add(1)
	if _, err := t.sock.WriteToUDPAddrPort(d, addr); err != nil && !errors.Is(err, net.ErrClosed) {
		t.s.log.Debug("udp: write", "peer", addr, "err", err)
	}
}

// flush sends what c may send now: resends first, then new chunks while
// the window allows, each datagram carrying our acks. It arms the resend
// timer when chunks are in flight.
func (t *Transport) flush(c *Conn) {
	if c.err != nil {
		return
	}
	o := &c.out
	for {
		oldEnd := o.sentEnd
		first, n := o.pick()
		if n == 0 {
			break
		}
		if first-o.ackPrefix < oldEnd-o.ackPrefix {
			t.stats.chunksResent.Add(uint64(n))
		}
		t.sendChunks(c, first, n)
	}
	if o.sentEnd != o.ackPrefix && c.resend.at.IsZero() {
		c.resend.at = t.s.now().Add(c.resend.timeout)
		c.resend.seq = o.sentEnd
		t.poke()
	}
	if o.queued < t.s.window*chunkMax {
		select {
		case c.writable <- struct{}{}:
		default:
		}
	}
}

// sendChunks sends chunks [first, first+n) in one datagram.
func (t *Transport) sendChunks(c *Conn, first, n uint32) {
	var u unencHeader
	t.header(c, &u)
	var e encHeader
	c.in.buildAck(&e)
	c.in.ackAt = time.Time{}
	o := &c.out
	fc, lc := o.slot(first), o.slot(first+n-1)
	if n == 1 {
		e.flags |= ePacketNum | eSingle
		e.packetNum = first
	} else {
		e.flags |= ePackets | eMultiple
		e.packetsFrom, e.packetsCount = first, n
	}
	e.flags |= ePrevParts | eNextParts | ePrevLength | eNextLength | ePacketOffset
	e.prevParts = fc.part
	e.nextParts = lc.msg.parts - 1 - lc.part
	e.prevLength = uint32(fc.from)
	e.nextLength = uint32(int32(len(lc.msg.buf)) - lc.to)
	e.packetOffset = fc.msg.off + int64(fc.from)
	t.out, t.plain = seal(t.out, t.plain, t.tab.crc32c, c.write, &u, &e, func(b []byte) []byte {
		for s := first; s != first+n; s++ {
			ch := o.slot(s)
			if n > 1 {
				b = binary.LittleEndian.AppendUint32(b, uint32(ch.to-ch.from))
			}
			b = append(b, ch.msg.buf[ch.from:ch.to]...)
		}
		return b
	})
	if c.silentSince.IsZero() {
		c.silentSince = t.s.now()
	}
	t.write(c.addr, t.out)
}

// sendAck sends an ack-only datagram.
func (t *Transport) sendAck(c *Conn) {
	var u unencHeader
	t.header(c, &u)
	var e encHeader
	c.in.buildAck(&e)
	t.out, t.plain = seal(t.out, t.plain, t.tab.crc32c, c.write, &u, &e, func(b []byte) []byte { return b })
	t.write(c.addr, t.out)
}

// sendUnreliable sends payload as an unreliable message with our acks.
func (t *Transport) sendUnreliable(c *Conn, payload []byte) error {
	var u unencHeader
	t.header(c, &u)
	var e encHeader
	c.in.buildAck(&e)
	c.in.ackAt = time.Time{}
	e.flags |= ePacketNum | eSingle
	e.packetNum = unreliableNum
	t.out, t.plain = seal(t.out, t.plain, t.tab.crc32c, c.write, &u, &e, func(b []byte) []byte { return append(b, payload...) })
	t.write(c.addr, t.out)
	return nil
}

// sendObsolete answers a peer we have no connection for, in pid mode with
// the provisional key of (us, remote, gen) (wire.md §5.4).
func (t *Transport) sendObsolete(addr netip.AddrPort, keyID uint32, remote packet.PID, gen uint32, payload []byte) {
	key, ok := t.s.keys[keyID]
	if !ok {
		return
	}
	t.stats.obsoleteOut.Add(1)
	u := unencHeader{flags: uPid | uCrypto | uSHA | uRandom | uEncrypted, local: t.local, remote: remote, gen: gen, cryptoFlags: cryptoFlags(keyID)}
	t.rand(u.random[:])
	e := encHeader{flags: ePacketNum | eSingle, packetNum: unreliableNum}
	b := t.blocks.get(key, t.local, remote, gen)
	t.out, t.plain = seal(t.out, t.plain, t.tab.crc32c, b, &u, &e, func(p []byte) []byte { return append(p, payload...) })
	t.write(addr, t.out)
}

// rand fills b from crypto/rand; a failure there is fatal in Go 1.24+.
func (t *Transport) rand(b []byte) { _, _ = crand.Read(b) }

func ipv4(a netip.Addr) (uint32, bool) {
	a = a.Unmap()
	if !a.Is4() {
		return 0, false
	}
	b := a.As4()
	return binary.BigEndian.Uint32(b[:]), true
}

// getBuf returns a message buffer of length n from per-size-class free
// lists (powers of two from 2 KiB to 64 KiB); larger ones are allocated.
func (t *Transport) getBuf(n int) []byte {
	if k := sizeClass(n); k >= 0 {
		if l := len(t.bufs[k]); l > 0 {
			b := t.bufs[k][l-1]
			t.bufs[k] = t.bufs[k][:l-1]
			return b[:n]
		}
		return make([]byte, n, minClass<<k)
	}
	return make([]byte, n)
}

func (t *Transport) putBuf(b []byte) {
	k := sizeClass(cap(b))
	if k >= 0 && cap(b) == minClass<<k && len(t.bufs[k]) < maxFreeBytes/cap(b) {
		t.bufs[k] = append(t.bufs[k], b[:0])
	}
}

// sizeClass is the smallest class holding n bytes, or -1 if none does.
func sizeClass(n int) int {
	for k := range numClasses {
		if n <= minClass<<k {
			return k
		}
	}
	return -1
}

const (
	minClass     = 2048
	numClasses   = 6       // 2 KiB .. 64 KiB
	maxFreeBytes = 8 << 20 // per class
)

const maxFreeMsgs = 4096

func (t *Transport) getMsg(n int) *outMsg {
	var m *outMsg
	if k := len(t.msgs); k > 0 {
		m = t.msgs[k-1]
		t.msgs = t.msgs[:k-1]
	} else {
		m = &outMsg{}
	}
	m.buf = t.getBuf(n)
	return m
}

func (t *Transport) putMsg(m *outMsg) {
	t.putBuf(m.buf)
	*m = outMsg{}
	if len(t.msgs) < maxFreeMsgs {
		t.msgs = append(t.msgs, m)
	}
}

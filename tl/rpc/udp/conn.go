package udp

import (
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

type connState uint8

const (
	stWaitingForRemotePid connState = iota // active side before the first answer
	stWaitingForHash                       // passive side before the first hash-mode datagram
	stEstablished
)

// addrKey identifies a peer socket.
type addrKey struct {
	ip   uint32
	port uint16
}

// hashKey identifies a connection in hash mode.
type hashKey struct {
	addrKey
	hash uint64
}

// Conn is one peer of a Transport: a reliable, message-oriented channel.
// One goroutine may call ReadPacket; any number may call the write methods.
// All state below mu is guarded by the Transport's mutex.
type Conn struct {
	t      *Transport
	addr   netip.AddrPort
	key    addrKey
	active bool

	// guarded by t.mu
	state    connState
	remote   packet.PID // full once known; {ip, port, 0, 0} before
	gen      uint32
	hash     uint64
	keyID    uint32
	write    cipher.Block
	readFull cipher.Block // key of the peer's datagrams that name our full pid
	iv       [32]byte
	out      outgoing
	in       incoming
	resend   resendTimer
	// batch is the packet.Batch that last queued a message on c to be
	// sent at its Flush (TryWritePacketIn), until that Flush.
	batch *packet.Batch
	// silentSince is when we first sent user data after the peer's last
	// datagram (zero: the peer spoke since); regeneration counts from it.
	silentSince time.Time
	// lastIn is when the peer last spoke, or an idle check last found c
	// busy (accepted connections only); idle: ErrIdle is due to the reader.
	lastIn time.Time
	idle   bool
	// onSettled: what ends c once it is settled (settle).
	onSettled uint8
	recvq     [][]byte
	recvHead  int
	recvLen   int // bytes in recvq
	err       error

	readable chan struct{} // cap 1: a message was queued
	writable chan struct{} // cap 1: the write queue shrank
	done     chan struct{}

	// cur is the buffer of the message the last ReadPacket returned: the
	// reader holds it until it calls ReadPacket again, and a graceful end
	// waits for that (settled). Guarded by mu.
	cur []byte
}

func (t *Transport) newConn(addr netip.AddrPort, k addrKey, active bool) *Conn {
	c := &Conn{
		t: t, addr: addr, key: k, active: active,
		out:      outgoing{ring: make([]outChunk, t.s.window)},
		in:       newIncoming(t.s.window),
		resend:   resendTimer{timeout: minResend},
		readable: make(chan struct{}, 1),
		writable: make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	t.rand(c.iv[:])
	return c
}

// RemoteAddr is the peer's socket address.
func (c *Conn) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(c.addr) }

// RemoteAddrPort is the peer's socket address.
func (c *Conn) RemoteAddrPort() netip.AddrPort { return c.addr }

// LocalAddr is the Transport's socket address.
func (c *Conn) LocalAddr() net.Addr { return c.t.sock.LocalAddr() }

// PeerPID is the peer's PID; its pid and utime are zero until the peer
// answered (active side).
func (c *Conn) PeerPID() packet.PID {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	return c.remote
}

// Done is closed when the connection ends.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (nil while it is open).
func (c *Conn) Err() error {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	return c.err
}

// Buffered reports whether a whole message is already queued, so the
// next ReadPacket will not wait: a reader working through a burst holds
// its writes in a packet.Batch until it is false (see TryWritePacketIn).
// Reader goroutine only.
func (c *Conn) Buffered() bool {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	return c.recvHead < len(c.recvq)
}

// ReadPacket returns the next message: its 4-byte type and the body. The
// body is valid until the next call. Messages arrive in completion order,
// which may differ from send order (as in VK's transport). The error is
// final: ErrClosed, ErrReset, ErrParked (wrapped); except ErrIdle, which
// offers an accepted connection to Park and may be ignored.
func (c *Conn) ReadPacket() (typ uint32, body []byte, err error) {
	t := c.t
	for {
		t.mu.Lock()
		if c.cur != nil {
			// The reader is done with its last message: a graceful end
			// waiting for that may now come (settle).
			t.putBuf(c.cur)
			c.cur = nil
			t.settle(c)
		}
		if c.recvHead < len(c.recvq) {
			m := c.recvq[c.recvHead]
			c.recvq[c.recvHead] = nil
			c.recvHead++
			if c.recvHead == len(c.recvq) {
				c.recvq, c.recvHead = c.recvq[:0], 0
			}
			c.recvLen -= len(m)
			c.cur = m
			t.mu.Unlock()
			return binary.LittleEndian.Uint32(m), m[4:], nil
		}
		if c.err != nil {
			err := c.err
			t.mu.Unlock()
			return 0, nil, err
		}
		if c.idle {
			c.idle = false
			t.stats.idleOffers.Add(1)
			t.mu.Unlock()
			return 0, nil, ErrIdle
		}
		t.mu.Unlock()
		select {
		case <-c.readable:
		case <-c.done:
		}
	}
}

// WritePacket queues a reliable message: typ, then head, then body. It
// blocks while the write queue holds more than a window of bytes. Safe for
// concurrent use; head and body may be reused when it returns.
func (c *Conn) WritePacket(typ uint32, head, body []byte) error {
	for {
		ok, err := c.TryWritePacketOver(0, typ, head, body)
		if ok || err != nil {
			return err
		}
		select {
		case <-c.writable:
		case <-c.done:
		}
	}
}

// TryWritePacket is WritePacket that never waits: when the connection
// already queues a window's worth of unacknowledged bytes (a peer that
// stopped acking), it queues nothing and reports ok false, so a caller on
// a shared path (an engine reader answering an app) can fail this one
// peer instead of stalling everyone behind it.
func (c *Conn) TryWritePacket(typ uint32, head, body []byte) (ok bool, err error) {
	return c.TryWritePacketOver(0, typ, head, body)
}

// TryWritePacketOver is TryWritePacket with over more bytes of room past
// the window, for small error answers that tell a slow peer, in order,
// what was dropped.
func (c *Conn) TryWritePacketOver(over int, typ uint32, head, body []byte) (ok bool, err error) {
	return c.TryWritePacketIn(nil, over, typ, head, body)
}

// TryWritePacketIn is TryWritePacketOver whose message, with a non-nil b,
// waits in the connection's queue until b's Flush (a reader's burst ends;
// see packet.Batch). The messages a burst writes to one peer then share
// datagrams: small ones, up to about a kilobyte together, go out in one
// instead of one each. Anything else that sends on c meanwhile sends
// them too.
func (c *Conn) TryWritePacketIn(b *packet.Batch, over int, typ uint32, head, body []byte) (ok bool, err error) {
	t := c.t
	n := 4 + len(head) + len(body)
	if n > t.s.maxMessage {
		return false, fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, n, t.s.maxMessage)
	}
	limit := t.s.window*chunkMax + over
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.err != nil {
		return false, c.err
	}
	if c.out.queued != 0 && c.out.queued+n > limit {
		return false, nil
	}
	m := t.getMsg(n)
	binary.LittleEndian.PutUint32(m.buf, typ)
	copy(m.buf[4+copy(m.buf[4:], head):], body)
	m.off = c.out.streamOff
	c.out.streamOff += int64(n)
	c.out.queue = append(c.out.queue, m)
	c.out.queued += n
	t.stats.messagesOut.Add(1)
	if b == nil {
		t.flush(c)
		return true, nil
	}
	if c.batch != b {
		// Registered once per batch in a row. Should another batch take
		// c meanwhile, each of the two flushes at its own end.
		c.batch = b
		b.OnFlush((*batchFlush)(c))
	}
	return true, nil
}

// batchFlush is a Conn as the packet.Sealer that sends what a batch
// queued on it.
type batchFlush Conn

func (f *batchFlush) Seal(b *packet.Batch) {
	c := (*Conn)(f)
	t := c.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.batch == b {
		c.batch = nil
	}
	t.flush(c)
}

// WriteUnreliable sends typ, head and body as one unreliable message
// (packet_num 0xFFFFFFFF): never acked or resent, delivered at most once
// per copy. VK's server answers engine.pid this way. It must fit into one
// datagram (MaxChunkSize - 4 bytes).
func (c *Conn) WriteUnreliable(typ uint32, head, body []byte) error {
	t := c.t
	n := 4 + len(head) + len(body)
	if n > chunkMax {
		return fmt.Errorf("%w: unreliable message %d bytes > %d", ErrTooLarge, n, chunkMax)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	p := binary.LittleEndian.AppendUint32(t.payload[:0], typ)
	p = append(p, head...)
	p = append(p, body...)
	t.payload = p
	t.stats.unreliableOut.Add(1)
	return t.sendUnreliable(c, p)
}

// Flush is a no-op kept for parity with packet.Conn: WritePacket sends
// what the window allows at once, and the rest as acks open it.
func (c *Conn) Flush() error { return nil }

// ProtocolVersion is 0: UDP connections report no TCP protocol version
// (wire.md §5.6), so RPC code that branches on it takes the v0 paths.
func (c *Conn) ProtocolVersion() uint32 { return 0 }

// Close ends the connection at once; unsent and unacked messages are lost.
// The next Dial to the same peer uses the next generation: the peer still
// holds this connection's seqs and keys and would take a new one's for
// duplicates, while a higher generation makes it reset its side.
func (c *Conn) Close() error {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	c.t.close(c)
	return nil
}

// CloseGraceful closes c once it is settled both ways: the peer has
// acked every message written to c, and every message the peer sent is
// whole, acked and read, and the reader has called ReadPacket again since
// the last one. It may be at once; Done tells when. A reader that answers
// each message before it reads the next therefore holds the close back
// with its answer, until the peer acks it. A peer that never acks, or
// never stops sending, holds c until Close, a reset, or the silence rule
// (Config.IdleAfter); so does a reader that never reads again.
// CancelGraceful takes it back.
func (c *Conn) CloseGraceful() { c.endWhenSettled(settleClose) }

// endWhenSettled sets what ends c once it is settled (settleNone: nothing)
// and ends it now if it already is; it reports whether c is still open.
func (c *Conn) endWhenSettled(how uint8) bool {
	t := c.t
	t.mu.Lock()
	defer t.mu.Unlock()
	c.onSettled = how
	t.settle(c)
	return c.err == nil
}

// close ends c by our choice: a dialled connection's next Dial uses the
// next generation. Caller holds mu.
func (t *Transport) close(c *Conn) {
	if c.active && c.err == nil && t.byAddr[c.key] == c {
		t.nextGen[c.key] = c.gen + 1
	}
	t.closeConn(c, ErrClosed)
}

// What ends a connection once it is settled (CloseGraceful, ParkGraceful).
const (
	settleNone = iota
	settleClose
	settlePark
)

// settle ends c as CloseGraceful or ParkGraceful asked, once it is
// settled and its reader has come back for the next message (it may yet
// answer the last one): it runs after each datagram, each timer round of
// c and each return of the reader, and does nothing unless one was
// asked. Caller holds mu.
func (t *Transport) settle(c *Conn) {
	if c.onSettled == settleNone || c.err != nil || c.cur != nil || !c.settled() {
		return
	}
	if c.onSettled != settlePark || !t.park(c) {
		t.close(c)
	}
}

// deliver queues a complete message for ReadPacket; buf is handed over.
func (t *Transport) deliver(c *Conn, buf []byte) {
	if len(buf) < 4 {
		t.stats.drop(DropChunk)
		t.putBuf(buf)
		return
	}
	c.recvq = append(c.recvq, buf)
	c.recvLen += len(buf)
	t.stats.messagesIn.Add(1)
	select {
	case c.readable <- struct{}{}:
	default:
	}
}

// receiveChunk handles one reliable chunk. It reports whether the chunk is
// now covered by our acks (received now or before).
func (t *Transport) receiveChunk(c *Conn, seq, prevParts, nextParts, prevLen, nextLen uint32, data []byte) bool {
	in := &c.in
	w := uint32(len(in.got))
	if seq-in.prefix >= 1<<31 {
		t.stats.duplicates.Add(1) // below the prefix: an old copy
		return true
	}
	if seq-in.prefix >= w {
		t.stats.drop(DropWindow)
		return false
	}
	if *in.slot(seq) {
		t.stats.duplicates.Add(1)
		return true
	}
	parts := uint64(prevParts) + uint64(nextParts) + 1
	size := uint64(prevLen) + uint64(len(data)) + uint64(nextLen)
	first := seq - prevParts
	switch {
	case prevParts > seq, parts > uint64(w), size > uint64(t.s.maxMessage),
		size > parts*chunkMax, len(data) == 0,
		prevParts == 0 && prevLen != 0, nextParts == 0 && nextLen != 0,
		uint64(seq)+uint64(nextParts)-uint64(in.prefix) >= uint64(w):
		t.stats.drop(DropChunk)
		return false
	}
	if c.recvLen+int(size) > t.s.window*chunkMax {
		t.stats.drop(DropWindow) // reader is slow: refuse, the sender resends
		return false
	}
	if parts == 1 {
		buf := t.getBuf(len(data))
		copy(buf, data)
		in.mark(seq)
		t.deliver(c, buf)
		return true
	}
	m := in.msgs[first]
	if m == nil {
		if k := len(t.inMsgs); k > 0 {
			m, t.inMsgs = t.inMsgs[k-1], t.inMsgs[:k-1]
		} else {
			m = &inMsg{}
		}
		*m = inMsg{buf: t.getBuf(int(size)), parts: uint32(parts), remaining: uint32(parts)}
		in.msgs[first] = m
	} else if uint64(m.parts) != parts || uint64(len(m.buf)) != size {
		t.stats.drop(DropChunk)
		return false
	}
	copy(m.buf[prevLen:], data)
	in.mark(seq)
	m.remaining--
	if m.remaining == 0 {
		delete(in.msgs, first)
		in.buffered -= int(m.parts) - 1
		t.deliver(c, m.buf)
		if len(t.inMsgs) < maxFreeMsgs {
			*m = inMsg{}
			t.inMsgs = append(t.inMsgs, m)
		}
		return true
	}
	in.buffered++
	t.stats.buffered(in.buffered)
	return true
}

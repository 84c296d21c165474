package packet

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// writeRetain: a pending buffer grown past this by a big packet is
// dropped after it is written instead of being kept for reuse.
const writeRetain = 4 << 20

// Conn is an established packet connection. ReadPacket must be called by
// one goroutine at a time; WritePacket, Flush, Close and the accessors are
// safe for concurrent use.
type Conn struct {
	nc        net.Conn
	log       *slog.Logger
	warnLimit *LogLimit // Config.WarnLimit
	timeout   time.Duration

	// Reader goroutine only.
	rd     reader
	server bool
	rerr   error
	ping   pingState

	// Writer state, guarded by wmu. Frames are appended to wbuf in
	// sequence order; the flusher swaps wbuf with wspare and writes the
	// swapped-out bytes with one syscall.
	wmu     sync.Mutex
	wcond   sync.Cond // broadcast after each write and on failure
	wbuf    []byte
	wspare  []byte
	wseq    uint32
	wtab    *crc32.Table
	walign  bool // encrypted: frames aligned to 4
	limit   int
	queued  int64 // frame bytes appended so far
	written int64 // frame bytes handed to the flusher and written
	budget  *Budget
	charged int64 // bytes charged to budget: held for a slow peer (Budget)
	werr    error // sticky: ErrClosed or the first fatal error
	// flushing: the flusher or an inline writer owns the socket's write
	// side; everybody else only appends to wbuf.
	flushing bool

	// Inline writer state, touched only by the goroutine holding flushing.
	// raw is nil when inline writes are off (encrypted, or not a socket).
	raw   syscall.RawConn
	rawFn func(fd uintptr) bool // c.rawWrite, bound once so writes do not allocate
	ioBuf []byte
	ioN   int
	ioErr error
	// batch holds the pending bytes back until its Flush; nil when none.
	batch *Batch
	// lastInline is when the last inline write began (nanoseconds since
	// rd.epoch), guarded by wmu: writes closer together than inlineGap
	// are a burst, left to the flusher so that they share one syscall.
	lastInline int64
	// lastBatch is the batch that last flushed this connection, guarded
	// by wmu: a write held by another batch means several readers feed
	// this connection, and that batch yields once before its Flush (see
	// Batch.Flush).
	lastBatch *Batch

	// Owned by whoever holds flushing (or the handshake, before start).
	enc       cipher.BlockMode
	wdeadline time.Time

	kick        chan struct{} // cap 1: "wbuf became non-empty"
	done        chan struct{} // closed on the first failure or Close
	flusherDone chan struct{}
	started     bool

	version   uint32
	encrypted bool
	keyID     [4]byte
	peerFlags uint32
	localPID  PID
	peerPID   PID
}

func newConn(nc net.Conn, s *settings, server bool) *Conn {
	c := &Conn{
		nc:          nc,
		log:         s.Logger,
		warnLimit:   s.WarnLimit,
		timeout:     s.timeout,
		server:      server,
		wseq:        seqNonce,
		wtab:        ieee(),
		limit:       s.WriteBufferLimit,
		budget:      s.Budget,
		wbuf:        make([]byte, 0, 4096),
		wspare:      make([]byte, 0, 4096),
		kick:        make(chan struct{}, 1),
		done:        make(chan struct{}),
		flusherDone: make(chan struct{}),
	}
	c.wcond.L = &c.wmu
	c.rd.init(nc, s.ReadBufferSize, s.maxLen, s.timeout)
	return c
}

// start ends the handshake phase: reads refresh their deadline on
// progress from now on, and the flusher takes over writing.
func (c *Conn) start() {
	c.rd.fixed = false
	c.rd.useRaw()
	c.started = true
	if c.enc == nil {
		if raw := socketRawConn(c.nc); raw != nil {
			c.raw = raw
			c.rawFn = c.rawWrite
		}
	}
	go c.flushLoop()
}

// socketRawConn is nc's RawConn when raw calls are safe on it: a TCP or
// Unix socket, which the runtime always keeps non-blocking (a raw call
// that blocked would hold its P). Anything else gets nil.
func socketRawConn(nc net.Conn) syscall.RawConn {
	if !rawIO {
		return nil
	}
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return nil
	}
	raw, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// ReadPacket returns the next message. body aliases an internal buffer
// and is valid until the next ReadPacket. Pings are answered and pongs
// checked inside; after PacketTimeout with no byte received a ping is
// sent, and after a second one the connection is closed with ErrTimeout.
// Any error is final: the connection is closed and the same error is
// returned again.
func (c *Conn) ReadPacket() (typ uint32, body []byte, err error) {
	if c.rerr != nil {
		return 0, nil, c.rerr
	}
	for {
		typ, body, err = c.rd.next(false)
		if err != nil {
			if errors.Is(err, errIdle) {
				if err = c.ping.onIdle(c); err == nil {
					continue
				}
			}
			return 0, nil, c.readFailed(err)
		}
		switch typ {
		case TypePing:
			c.ping.onPing(c, body)
		case TypePong:
			if err := c.ping.onPong(body); err != nil {
				return 0, nil, c.readFailed(err)
			}
		default:
			return typ, body, nil
		}
	}
}

func (c *Conn) readFailed(err error) error {
	c.wmu.Lock()
	prior := c.werr
	c.wmu.Unlock()
	if prior != nil { // closed by us or by a write failure: report that, not its echo
		err = prior
	} else {
		c.fail(err)
	}
	c.rerr = err
	return err
}

// WritePacket queues one packet; head and body are concatenated on the
// wire, so an envelope and a forwarded payload need not be copied together
// first. Both are copied before it returns, so the caller may reuse them.
// It blocks while WriteBufferLimit bytes are pending, and returns the
// connection's error after Close or a failed write.
func (c *Conn) WritePacket(typ uint32, head, body []byte) error {
	n := len(head) + len(body)
	if n > MaxBodyLen {
		return fmt.Errorf("%w: body %d bytes, max %d", ErrTooLarge, n, MaxBodyLen)
	}
	c.wmu.Lock()
	for c.werr == nil && len(c.wbuf) >= c.limit {
		c.wcond.Wait()
	}
	return c.queueLocked(typ, head, body)
}

// TryWritePacket is WritePacket that never waits: with WriteBufferLimit
// bytes pending it queues nothing and returns false (the peer is not
// reading fast enough; the caller decides what to drop). ok is true when
// the packet was queued or err is the connection's error.
func (c *Conn) TryWritePacket(typ uint32, head, body []byte) (ok bool, err error) {
	return c.TryWritePacketIn(nil, 0, typ, head, body)
}

// TryWritePacketIn is TryWritePacket with two options. A non-nil b holds
// the write back until b.Flush when nothing else is writing the
// connection (see Batch). over allows that many bytes more than
// WriteBufferLimit pending: a server uses it to tell a slow client, in
// order, that answers were dropped, within a known bound.
func (c *Conn) TryWritePacketIn(b *Batch, over int, typ uint32, head, body []byte) (ok bool, err error) {
	n := len(head) + len(body)
	if n > MaxBodyLen {
		return true, fmt.Errorf("%w: body %d bytes, max %d", ErrTooLarge, n, MaxBodyLen)
	}
	c.wmu.Lock()
	if c.werr == nil && (len(c.wbuf) >= c.limit+over || over == 0 && c.charged > 0 && c.budget.Over()) {
		c.wmu.Unlock()
		return false, nil
	}
	return true, c.queueBatchLocked(b, typ, head, body)
}

// writeControl queues a ping or pong ignoring the limit: the reader must
// not block behind application back-pressure.
func (c *Conn) writeControl(typ uint32, body []byte) {
	c.wmu.Lock()
	_ = c.queueLocked(typ, nil, body)
}

// queueLocked appends one packet and gets it written: inline when nothing
// is pending and nobody owns the socket (one writer at a time pays no
// goroutine hop), else by whoever owns it, so concurrent writers still
// share syscalls. It releases wmu.
func (c *Conn) queueLocked(typ uint32, head, body []byte) error {
	return c.queueBatchLocked(nil, typ, head, body)
}

// queueBatchLocked is queueLocked, holding the write back for b (if not
// nil) when it would otherwise start one.
func (c *Conn) queueBatchLocked(b *Batch, typ uint32, head, body []byte) error {
	was := len(c.wbuf)
	if err := c.appendLocked(typ, head, body); err != nil {
		c.wmu.Unlock()
		return err
	}
	switch {
	case was != 0 || c.flushing || !c.started:
		// The owner or the flusher (already kicked) writes it.
		c.wmu.Unlock()
	case b != nil:
		held := c.batch != nil // by b or another batch: its Flush writes it
		shared := false
		if !held {
			c.batch = b
			shared = c.lastBatch != nil && c.lastBatch != b
		}
		c.wmu.Unlock()
		if !held {
			b.add(c, shared)
		}
	case c.raw != nil && c.inlineDue():
		c.writeInline()
	default:
		c.wmu.Unlock()
		c.kickFlusher()
	}
	return nil
}

func (c *Conn) kickFlusher() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// inlineGap: a write within this long of the previous inline write is
// part of a burst (a reader answering a pipelined batch, many app
// connections at once) and goes to the flusher, which runs once the
// burst's producer yields and writes the burst with one syscall. Lone
// writes (one request in flight) are further apart than this.
const inlineGap = 5 * time.Microsecond

// inlineDue reports whether the write being queued is a lone one; wmu held.
func (c *Conn) inlineDue() bool {
	now := int64(time.Since(c.rd.epoch))
	if now-c.lastInline < int64(inlineGap) {
		return false
	}
	c.lastInline = now
	return true
}

// writeInline is entered with wmu held, nobody flushing and wbuf holding
// just-appended frames. It claims the socket, makes one non-blocking write
// and leaves whatever the kernel did not take to the flusher, so the
// caller never waits for the peer. It releases wmu.
func (c *Conn) writeInline() {
	c.flushing = true
	out := c.wbuf
	c.wbuf, c.wspare = c.wspare[:0], nil
	c.wmu.Unlock()

	c.ioBuf, c.ioN, c.ioErr = out, 0, nil
	err := c.raw.Write(c.rawFn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The poller refuses writes once the flusher's last deadline has
		// passed; the inline write itself never waits, so re-arm only
		// then (not a clock read per write) and try again.
		if err = c.setWriteDeadline(); err == nil {
			err = c.raw.Write(c.rawFn)
		}
	}
	if err != nil && c.ioErr == nil {
		c.ioErr = err
	}
	n, err := c.ioN, c.ioErr
	c.ioBuf, c.ioErr = nil, nil

	c.wmu.Lock()
	c.flushing = false
	c.written += int64(n)
	if n < len(out) {
		// Keep the unwritten tail ahead of what others appended meanwhile.
		k := copy(out, out[n:])
		out = append(out[:k], c.wbuf...)
		c.wbuf, c.wspare = out, c.wbuf[:0]
	} else {
		c.wspare = out[:0]
	}
	if n < len(out) || c.charged > 0 {
		c.rechargeLocked() // the kernel took less: the rest waits
	}
	kick := len(c.wbuf) > 0
	c.wmu.Unlock()
	if n > 0 {
		c.wcond.Broadcast()
	}
	if err != nil {
		c.fail(fmt.Errorf("rpc/packet: write: %w", err))
		return
	}
	if kick {
		c.kickFlusher()
	}
}

// rawWrite writes ioBuf to the non-blocking socket until it is done or
// the kernel's buffer is full; it never asks the poller to wait.
func (c *Conn) rawWrite(fd uintptr) bool {
	for c.ioN < len(c.ioBuf) {
		m, err := rawWriteFD(fd, c.ioBuf[c.ioN:])
		if m > 0 {
			c.ioN += m
		}
		switch {
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return true
		case err != nil:
			c.ioErr = err
			return true
		case m <= 0:
			return true
		}
	}
	return true
}

func (c *Conn) appendLocked(typ uint32, head, body []byte) error {
	if c.werr != nil {
		return c.werr
	}
	n := len(head) + len(body)
	if c.version == 0 && n%4 != 0 {
		return fmt.Errorf("%w: body %d bytes not a multiple of 4 in protocol version 0", ErrBadLength, n)
	}
	was := len(c.wbuf)
	c.wbuf = appendFrame(c.wbuf, c.wtab, c.wseq, typ, head, body, c.walign)
	c.wseq++
	c.queued += int64(len(c.wbuf) - was)
	if c.flushing || c.charged > 0 {
		// A write is in progress (it may be stuck on a full socket) or
		// the connection is behind already: these bytes wait.
		c.rechargeLocked()
	}
	return nil
}

// Flush blocks until every packet queued before the call is written, or
// the connection fails.
func (c *Conn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	target := c.queued
	for c.written < target && c.werr == nil {
		c.wcond.Wait()
	}
	if c.written >= target {
		return nil
	}
	return c.werr
}

func (c *Conn) flushLoop() {
	defer close(c.flusherDone)
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		for {
			wrote, err := c.flushOnce()
			if err != nil {
				c.fail(err)
				return
			}
			if !wrote {
				break
			}
		}
	}
}

// flushOnce writes everything pending with one Write: padding words to the
// AES block and encryption happen here, outside the lock, so writers keep
// appending meanwhile. It reports whether it wrote anything.
func (c *Conn) flushOnce() (bool, error) {
	c.wmu.Lock()
	out := c.wbuf
	if len(out) == 0 || c.werr != nil || c.flushing {
		// An inline writer owns the socket; it kicks us if bytes remain.
		c.wmu.Unlock()
		return false, nil
	}
	c.flushing = true
	c.wbuf, c.wspare = c.wspare[:0], nil
	c.wmu.Unlock()

	frames := len(out)
	if c.enc != nil {
		out = padTo16(out)
		c.enc.CryptBlocks(out, out)
	}
	err := c.setWriteDeadline()
	if err == nil {
		_, err = c.nc.Write(out)
	}

	c.wmu.Lock()
	c.flushing = false
	c.written += int64(frames)
	if cap(out) <= writeRetain {
		c.wspare = out[:0]
	} else {
		c.wspare = make([]byte, 0, 4096)
	}
	if c.charged > 0 {
		c.rechargeLocked()
	}
	c.wmu.Unlock()
	c.wcond.Broadcast()
	if err != nil {
		return false, fmt.Errorf("rpc/packet: write: %w", err)
	}
	return true, nil
}

func (c *Conn) setWriteDeadline() error {
	dl, ok := rearm(monoNow(c.rd.epoch), c.wdeadline, c.timeout)
	if !ok {
		return nil
	}
	c.wdeadline = dl
	return c.nc.SetWriteDeadline(dl)
}

// fail records the first fatal error, closes the socket (unblocking the
// reader and the flusher) and logs why. Later calls are no-ops.
func (c *Conn) fail(err error) {
	c.wmu.Lock()
	first := c.werr == nil
	if first {
		c.werr = err
		c.rechargeLocked() // the pending bytes are dropped: give them back
	}
	c.wmu.Unlock()
	if !first {
		return
	}
	close(c.done)
	c.wcond.Broadcast()
	_ = c.nc.Close()
	// A close by either side is routine (an app that connects per
	// request closes thousands a second): debug. Only a connection that
	// failed is worth a warning, and those are capped (WarnLimit).
	if errors.Is(err, ErrClosed) || errors.Is(err, io.EOF) {
		c.log.Debug("rpc/packet: connection closed",
			"reason", err.Error(), "local", c.nc.LocalAddr(), "remote", c.nc.RemoteAddr(), "peer_pid", c.peerPID.String())
		return
	}
	if n, ok := c.warnLimit.Allow(); ok {
		c.log.Warn("rpc/packet: connection closed",
			"reason", err.Error(), "local", c.nc.LocalAddr(), "remote", c.nc.RemoteAddr(), "peer_pid", c.peerPID.String(),
			"unlogged", n)
	}
}

// Close closes the connection at once, dropping pending bytes, and waits
// for the flusher to exit. It is idempotent and always returns nil.
func (c *Conn) Close() error {
	c.fail(ErrClosed)
	if c.started {
		<-c.flusherDone
	}
	return nil
}

// CloseGraceful writes pending packets (bounded by PacketTimeout per
// write), then closes.
func (c *Conn) CloseGraceful() error {
	err := c.Flush()
	_ = c.Close()
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// Done is closed when the connection fails or is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns the error that closed the connection, or nil.
func (c *Conn) Err() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.werr
}

// ProtocolVersion is the negotiated wire version (0, 1 or 2).
func (c *Conn) ProtocolVersion() uint32 { return c.version }

// Encrypted reports whether AES is on.
func (c *Conn) Encrypted() bool { return c.encrypted }

// KeyID is the first 4 bytes of the key in use (zero when plain).
func (c *Conn) KeyID() [4]byte { return c.keyID }

// PeerFlags are the flags from the peer's handshake (FlagCRC32C,
// FlagCancelReq...).
func (c *Conn) PeerFlags() uint32 { return c.peerFlags }

// PeerPID is the SenderPID from the peer's handshake (Go clients send a
// per-connection utime and port 0).
func (c *Conn) PeerPID() PID { return c.peerPID }

// LocalPID is the SenderPID we sent.
func (c *Conn) LocalPID() PID { return c.localPID }

func (c *Conn) LocalAddr() net.Addr  { return c.nc.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

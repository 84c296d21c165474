package packet

import (
	"bytes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

const (
	// deadlineSlack: a read deadline is re-armed only when it would move
	// by more than this, saving a SetReadDeadline per read under load.
	deadlineSlack = 100 * time.Millisecond
	// readRetain: a read buffer grown past this by a big packet is
	// dropped once the packet is consumed.
	readRetain = 4 << 20
)

// errIdle is the reader's internal signal "timeout with no byte of the next
// packet buffered"; ReadPacket turns it into a ping or ErrTimeout.
var errIdle = errors.New("rpc/packet: idle")

// textCommands are the first bytes VK's Go server answers as memcached text
// (wire.md §3.6).
var textCommands = [...]string{"stats\r\n", "stats\n", "get stats\r\n", "version\r\n"}

// reader is the receiving half: a buffer holding buf[r:w] unread bytes, of
// which buf[r:d] are decrypted (d == w on plain streams). Only the reading
// goroutine touches it.
type reader struct {
	nc      net.Conn
	buf     []byte
	r, d, w int

	dec     cipher.BlockMode // nil until AES starts
	tab     *crc32.Table
	seq     uint32 // expected next sequence number
	version uint32
	maxLen  int
	minBuf  int
	pads    int // consecutive padding words seen

	timeout  time.Duration
	epoch    time.Time // monoNow's base
	deadline time.Time
	fixed    bool // handshake: one deadline per step, no refresh on progress

	// raw, once set (see useRaw), makes reads raw system calls through
	// the runtime's poller; rawFn is rd.rawRead bound once, so reads do
	// not allocate, and rawN/rawErr carry its result out.
	raw    syscall.RawConn
	rawFn  func(fd uintptr) bool
	rawN   int
	rawErr error
}

func (rd *reader) init(nc net.Conn, bufSize, maxLen int, timeout time.Duration) {
	*rd = reader{nc: nc, buf: make([]byte, bufSize), minBuf: bufSize, tab: ieee(),
		seq: seqNonce, maxLen: maxLen, timeout: timeout, epoch: time.Now(), fixed: true}
}

// startDecrypt switches the stream to AES from the current position on:
// bytes already buffered after the last packet are ciphertext.
func (rd *reader) startDecrypt(dec cipher.BlockMode) {
	rd.dec = dec
	rd.d = rd.r
	rd.decryptReady()
}

func (rd *reader) decryptReady() {
	if rd.dec == nil {
		rd.d = rd.w
		return
	}
	if k := (rd.w - rd.d) &^ (aesBlock - 1); k > 0 {
		rd.dec.CryptBlocks(rd.buf[rd.d:rd.d+k], rd.buf[rd.d:rd.d+k])
		rd.d += k
	}
}

// monoNow is the time now read from the monotonic clock alone: epoch (a
// time.Now reading) plus the monotonic time since. time.Now reads two
// clocks; this reads one, and deadlines and comparisons between such
// times use only the monotonic part anyway.
func monoNow(epoch time.Time) time.Time { return epoch.Add(time.Since(epoch)) }

// rearm returns the deadline for an operation starting now, and whether it
// moved far enough from cur to be worth a SetDeadline call. An expired
// deadline is always re-armed.
func rearm(now, cur time.Time, timeout time.Duration) (time.Time, bool) {
	dl := now.Add(timeout)
	return dl, !cur.After(now) || dl.Sub(cur) > min(deadlineSlack, timeout/10)
}

func (rd *reader) setDeadline(t time.Time) error {
	rd.deadline = t
	return rd.nc.SetReadDeadline(t)
}

// fill reads once from the network, making room for need decrypted bytes
// from r. Buffers grow by doubling only as bytes arrive, so a header
// claiming 16 MiB costs nothing until the peer actually sends it.
func (rd *reader) fill(need int) (int, error) {
	if rd.r == rd.w {
		rd.r, rd.d, rd.w = 0, 0, 0
		if len(rd.buf) > readRetain {
			rd.buf = make([]byte, rd.minBuf)
		}
	}
	if rd.w == len(rd.buf) || len(rd.buf)-rd.r < need+aesBlock {
		if rd.r > 0 {
			n := copy(rd.buf, rd.buf[rd.r:rd.w])
			rd.d -= rd.r
			rd.w = n
			rd.r = 0
		}
		if rd.w == len(rd.buf) {
			size := min(2*len(rd.buf), need+aesBlock)
			nb := make([]byte, size)
			copy(nb, rd.buf[:rd.w])
			rd.buf = nb
		}
	}
	if !rd.fixed {
		if dl, ok := rearm(monoNow(rd.epoch), rd.deadline, rd.timeout); ok {
			if err := rd.setDeadline(dl); err != nil {
				return 0, err
			}
		}
	}
	n, err := rd.read()
	rd.w += n
	rd.decryptReady()
	if n > 0 {
		// Deliver the bytes first: EOF or a deadline error comes back on
		// the next read if it still applies.
		return n, nil
	}
	return 0, err
}

// useRaw switches reads to raw system calls when the connection is a
// socket (rawReadFD says why).
func (rd *reader) useRaw() {
	if raw := socketRawConn(rd.nc); raw != nil {
		rd.raw, rd.rawFn = raw, rd.rawRead
	}
}

// read is one read from the network into buf[w:].
func (rd *reader) read() (int, error) {
	if rd.raw == nil || rd.w == len(rd.buf) {
		return rd.nc.Read(rd.buf[rd.w:])
	}
	rd.rawN, rd.rawErr = 0, nil
	// RawConn.Read honours the read deadline and parks the goroutine in
	// the poller until the socket is readable whenever rawRead says so.
	if err := rd.raw.Read(rd.rawFn); err != nil {
		if oe, ok := err.(*net.OpError); ok {
			oe.Op = "read"
		}
		return 0, err
	}
	switch {
	case rd.rawErr != nil:
		return 0, &net.OpError{Op: "read", Net: rd.nc.LocalAddr().Network(), Source: rd.nc.LocalAddr(),
			Addr: rd.nc.RemoteAddr(), Err: os.NewSyscallError("read", rd.rawErr)}
	case rd.rawN == 0:
		return 0, io.EOF
	}
	return rd.rawN, nil
}

// rawRead is one read(2); false asks the poller to wait for more bytes.
func (rd *reader) rawRead(fd uintptr) bool {
	for {
		n, err := rawReadFD(fd, rd.buf[rd.w:])
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		rd.rawN, rd.rawErr = n, err
		return true
	}
}

// maxEmptyReads bounds a misbehaving net.Conn that returns (0, nil)
// forever, as io.ReadAtLeast's callers do.
const maxEmptyReads = 100

// ensure makes buf[r:r+need] decrypted and available.
func (rd *reader) ensure(need int) error {
	for empty := 0; rd.d-rd.r < need; empty++ {
		if empty >= maxEmptyReads {
			return fmt.Errorf("rpc/packet: read: %w", io.ErrNoProgress)
		}
		n, err := rd.fill(need)
		if err != nil {
			return rd.classify(err)
		}
		if n > 0 {
			empty = -1
		}
	}
	return nil
}

// classify maps a network error at the current position to a package error.
func (rd *reader) classify(err error) error {
	partial := rd.w > rd.r
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		if rd.fixed {
			return fmt.Errorf("%w: handshake step (%d bytes buffered)", ErrTimeout, rd.w-rd.r)
		}
		if partial {
			return fmt.Errorf("%w: %d bytes of a packet, no progress for %v", ErrStalled, rd.w-rd.r, rd.timeout)
		}
		return errIdle
	case errors.Is(err, io.EOF):
		if partial || rd.seq == seqNonce || rd.seq == seqHandshake {
			return fmt.Errorf("rpc/packet: peer closed mid-packet (%d bytes buffered): %w", rd.w-rd.r, io.ErrUnexpectedEOF)
		}
		return fmt.Errorf("rpc/packet: peer closed: %w", io.EOF)
	}
	return fmt.Errorf("rpc/packet: read: %w", err)
}

// textHead reports whether the buffered start of the stream is a text
// command or an ASCII line rather than a nonce; only asked for the first
// packet on a server socket.
func (rd *reader) textHead() (head []byte, text, maybe bool) {
	b := rd.buf[rd.r:rd.w]
	for _, c := range textCommands {
		if bytes.HasPrefix(b, []byte(c)) {
			return b, true, false
		}
		if len(b) < len(c) && bytes.HasPrefix([]byte(c), b) {
			maybe = true
		}
	}
	return b, false, maybe
}

// firstHeader reads the 12-byte header of the first packet, returning a
// *TextProtocolError as soon as the bytes read are a text command (the
// peer may send "stats\n" and wait, so we cannot wait for 12 bytes).
func (rd *reader) firstHeader(server bool) error {
	for empty := 0; rd.d-rd.r < headerLen; empty++ {
		if empty >= maxEmptyReads {
			return fmt.Errorf("rpc/packet: read: %w", io.ErrNoProgress)
		}
		if server {
			if head, text, _ := rd.textHead(); text {
				return &TextProtocolError{Head: bytes.Clone(head)}
			}
		}
		n, err := rd.fill(headerLen)
		if err != nil {
			if server {
				if head, text, maybe := rd.textHead(); text || (maybe && len(head) > 0 && errors.Is(err, io.EOF)) {
					return &TextProtocolError{Head: bytes.Clone(head)}
				}
			}
			return rd.classify(err)
		}
		if n > 0 {
			empty = -1
		}
	}
	if server {
		if head, text, _ := rd.textHead(); text || isPrintable(head[:headerLen]) {
			return &TextProtocolError{Head: bytes.Clone(head)}
		}
	}
	return nil
}

// isPrintable: 12 bytes of ASCII text (an HTTP request line, a telnet
// command) can never be a valid nonce header, whose length is < 1024.
func isPrintable(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\r' && c != '\n' && c != '\t' {
			return false
		}
	}
	return true
}

// next reads one packet and returns its type and body, which aliases the
// buffer until the following call. server marks the first packet of a
// server socket for text detection.
func (rd *reader) next(server bool) (typ uint32, body []byte, err error) {
	if rd.seq == seqNonce {
		if err := rd.firstHeader(server); err != nil {
			return 0, nil, err
		}
	} else {
		for {
			if err := rd.ensure(4); err != nil {
				return 0, nil, err
			}
			if binary.LittleEndian.Uint32(rd.buf[rd.r:]) != padWord {
				break
			}
			rd.pads++
			if rd.pads > maxPadWords {
				return 0, nil, fmt.Errorf("%w: %d padding words in a row", ErrExcessivePadding, rd.pads)
			}
			rd.r += 4
		}
		rd.pads = 0
		if err := rd.ensure(headerLen); err != nil {
			if errors.Is(err, errIdle) {
				err = fmt.Errorf("%w: %d bytes of a header, no progress for %v", ErrStalled, rd.w-rd.r, rd.timeout)
			}
			return 0, nil, err
		}
	}
	h := rd.buf[rd.r : rd.r+headerLen]
	length := binary.LittleEndian.Uint32(h)
	seq := binary.LittleEndian.Uint32(h[4:])
	typ = binary.LittleEndian.Uint32(h[8:])
	if err := rd.checkHeader(length, seq, typ); err != nil {
		return 0, nil, err
	}
	total := int(length)
	if rd.dec != nil {
		total += int(-length & 3)
	}
	if err := rd.ensure(total); err != nil {
		if errors.Is(err, errIdle) { // cannot happen with bytes buffered; keep the class exact anyway
			err = ErrStalled
		}
		return 0, nil, err
	}
	p := rd.buf[rd.r : rd.r+total]
	end := int(length) - 4
	want := binary.LittleEndian.Uint32(p[end:])
	if got := crc32.Update(0, rd.tab, p[:end]); got != want {
		return 0, nil, fmt.Errorf("%w: seq %d type %#08x: read %#08x, computed %#08x", ErrBadCRC, int32(seq), typ, want, got)
	}
	for _, c := range p[length:] {
		if c != 0 {
			return 0, nil, fmt.Errorf("%w: seq %d", ErrBadPadding, int32(seq))
		}
	}
	rd.r += total
	body = p[headerLen:end]
	if typ == TypeHandshakeError && (rd.seq == seqNonce || rd.seq == seqHandshake) {
		// C peers explain a refusal with {error_code:int, sender_pid}.
		code := int32(-1)
		if len(body) >= 4 {
			code = int32(binary.LittleEndian.Uint32(body))
		}
		return 0, nil, fmt.Errorf("%w: peer refused with handshake error %d", ErrHandshake, code)
	}
	rd.seq++
	return typ, body, nil
}

func (rd *reader) checkHeader(length, seq, typ uint32) error {
	if length < packetOverhead || int64(length) > int64(rd.maxLen) {
		return fmt.Errorf("%w: %d outside [%d, %d]", ErrBadLength, length, packetOverhead, rd.maxLen)
	}
	if rd.version == 0 && length%4 != 0 {
		return fmt.Errorf("%w: %d not a multiple of 4 in protocol version 0", ErrBadLength, length)
	}
	switch rd.seq {
	case seqNonce, seqHandshake:
		want := TypeNonce
		if rd.seq == seqHandshake {
			want = TypeHandshake
		}
		if typ != want && typ != TypeHandshakeError {
			return fmt.Errorf("%w: %#08x instead of %#08x", ErrBadType, typ, want)
		}
		if length > maxHandshakeLen {
			return fmt.Errorf("%w: nonce/handshake length %d over %d", ErrBadLength, length, maxHandshakeLen)
		}
	default:
		if (typ == TypePing || typ == TypePong) && length != pingLen {
			return fmt.Errorf("%w: type %#08x length %d, want %d", ErrPingPong, typ, length, pingLen)
		}
	}
	if seq != rd.seq {
		return fmt.Errorf("%w: read %d, expected %d", ErrBadSeq, int32(seq), int32(rd.seq))
	}
	return nil
}

// complete reports whether buf[r:d] holds a whole packet (after any
// padding words); a bad length reports false, and the read reports it.
func (rd *reader) complete() bool {
	if rd.seq == seqNonce || rd.seq == seqHandshake {
		return false
	}
	for r, pads := rd.r, 0; rd.d-r >= 4 && pads <= maxPadWords; pads++ {
		n := int(binary.LittleEndian.Uint32(rd.buf[r:]))
		if n != padWord {
			total := n
			if rd.dec != nil {
				total += -n & 3
			}
			return n >= packetOverhead && rd.d-r >= total
		}
		r += 4
	}
	return false
}

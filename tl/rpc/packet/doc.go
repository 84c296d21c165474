// Package packet implements VK's TCP packet connection (wire.md §3): the
// transport under TL RPC, carrying (type uint32, body) messages with
// sequence numbers, CRCs, optional AES-256-CBC, a nonce/handshake pair and
// ping/pong keep-alive. It is byte-compatible with VK's Go
// (github.com/VKCOM/tl/pkg/rpc) and C implementations; the tests prove it
// against VK's Go client and server.
//
// # API
//
//	c, err := packet.ClientHandshake(nc, packet.Config{Key: key})   // or ServerHandshake
//	typ, body, err := c.ReadPacket()         // one reader goroutine; body valid until the next call
//	err = c.WritePacket(typ, head, body)     // any goroutine; head and body are sent back to back
//	ok, err = c.TryWritePacket(typ, head, body) // never waits: ok false when WriteBufferLimit is pending
//	c.TryWritePacketIn(&batch, over, typ, head, body); batch.Flush() // a reader's burst, one syscall
//	c.Buffered()                             // a whole packet is buffered: the next read will not wait
//	err = c.Flush(); err = c.CloseGraceful(); err = c.Close()
//	c.PeerPID(), c.PeerFlags(), c.ProtocolVersion(), c.Encrypted(), c.Done(), c.Err()
//
// Errors wrap the sentinels in errors.go (ErrBadCRC, ErrTimeout,
// ErrHandshake, ...); every error from ReadPacket or a failed write is
// final and closes the connection. Handshake functions close nc on
// failure, except on ErrTextProtocol, where the caller may still answer.
//
// # Frame
//
//	 0      4      8      12          12+n   16+n
//	+------+------+------+-----------+------+---------+------------------+
//	|length| seq  | type |   body    | CRC  | 0 x 0-3 | 04000000 x 0-3   |
//	+------+------+------+-----------+------+---------+------------------+
//	 length = n + 16       CRC over [0, 12+n)  ^ AES only ^ AES, at flush
//
// All integers are little-endian. length is in [16, 16 MiB - 1] (nonce and
// handshake <= 1023) and a multiple of 4 in protocol version 0. CRC is
// CRC32-IEEE for the nonce and handshake, then CRC32C when the server's
// handshake has FlagCRC32C. When encrypted, zero bytes align every packet
// to 4 (checked to be zero on read), and each flush ends with 0-3 padding
// words (a length of 4) aligning the stream to the 16-byte AES block. The
// reader skips up to 3 padding words before any packet but the nonce, on
// plain streams too; a 4th is ErrExcessivePadding.
//
// Sequence numbers count per direction: -2 for the nonce, -1 for the
// handshake, then 0, 1, ... for every packet, ping and pong included. A
// mismatch is fatal.
//
// # Establishment
//
//	client                               server
//	  -- nonce (seq -2) ------------------>  choose schema and version
//	  <- nonce (seq -2) -------------------  AES (if chosen) starts after it
//	  -- handshake (seq -1), AES ---------->
//	  <- handshake (seq -1), AES ----------  CRC32C from here if negotiated
//
// Nonce body (28 bytes; 60 in version 2):
//
//	 0       4      5       6       8      12        28          60
//	+-------+------+-------+-------+------+---------+-----------+
//	| KeyID |schema|version| flags | time | nonce16 | X25519 32 |
//	+-------+------+-------+-------+------+---------+-----------+
//	schema: 0 NONE, 1 AES, 2 NONE_OR_AES        ^ version >= 2 only
//
// Handshake body (28 bytes): flags u32, sender PID, peer PID, where a PID
// is ip u32, port|pid<<16 u32, utime u32. Trailing bytes in either body
// are ignored, as VK's Go code does.
//
// Session keys, one per direction: M = serverNonce clientNonce clientTime
// X clientPort "CLIENT"|"SERVER" clientIP serverPort key serverNonce
// clientNonce [dhSecret], where X is the server IPv4 (v0) or the server
// time (v >= 1), the ports and client IP are zero for v >= 1, and dhSecret
// is the X25519 shared secret (v2). key = md5(M[1:])[:12] || sha1(M)[:20],
// IV = md5(M[2:]).
//
// Encryption is skipped when neither side requires it: peers that are both
// loopback (or Unix sockets) or in one trusted subnet group, without
// ForceEncryption. A server refuses a client clock more than 30 s off.
//
// # Invariants
//
//   - Bad input never panics: it closes that connection, logs the reason
//     once through Config.Logger (a warning), and returns a wrapped
//     sentinel error. Warnings of the connections sharing a
//     Config.WarnLimit (a server's, a pool's) are capped at one a second,
//     each with the count not logged since. A clean close by either side,
//     and a peer that closes before sending a byte (a TCP health check),
//     are logged at debug.
//   - Memory per connection is bounded: the read buffer grows only as bytes
//     arrive (never to more than twice what was received, capped by
//     MaxPacketLen), and pending writes block at WriteBufferLimit.
//     Connections sharing a Config.Budget are bounded together too: each
//     is charged the bytes it holds while a write of its own is in
//     progress or fell short (exactly queued - written, updated under the
//     write lock), and over the Budget's cap TryWritePacketIn refuses
//     plain writes on connections that hold bytes. A connection whose
//     peer keeps up holds nothing and does no atomic operation for it.
//   - No allocations per packet in steady state: read and pending-write
//     buffers are reused, bodies are returned aliasing the read buffer.
//   - Writes coalesce: WritePacket frames into a pending buffer under a
//     short lock; one flusher goroutine per connection encrypts and writes
//     everything pending with a single Write, so concurrent writers share
//     syscalls. On plain sockets a writer that finds nothing pending and
//     nobody writing writes inline instead: one non-blocking write(2),
//     whatever the kernel does not take is left to the flusher. So a lone
//     writer pays no goroutine hop, and no writer ever waits for the peer
//     in TryWritePacket. One goroutine at a time owns the socket's write
//     side (the flushing flag), which keeps frames in sequence order.
//     Writes closer than 5 µs to the previous inline one are a burst and
//     go to the flusher. A reader working through packets it has buffered
//     passes a Batch instead: its writes (to any connections) wait in
//     pending until it Flushes, before it would wait for input. When
//     another reader fed one of its connections last (many app connections
//     into one engine connection, several engines answering one app
//     connection), Flush first yields the processor once, so the bursts of
//     the other readers already runnable join the same write: an event
//     loop's "write when the ready list is done", without a goroutine hop.
//     Batch.Now gives a burst one clock reading.
//   - Raw socket calls: once started, reads on a TCP or Unix socket, and
//     inline writes on a plain (unencrypted) one, are syscall.RawSyscall
//     read(2) and write(2) of at most 64 KiB each, made through
//     syscall.RawConn, which keeps the deadlines and parks the goroutine
//     in the poller on EAGAIN. The runtime keeps those sockets
//     non-blocking, so its entersyscall/exitsyscall bookkeeping buys
//     nothing there; it cost a sysmon wake-up (a context switch) after
//     every idle spell. Errors read like net.Conn's ("read tcp A->B:
//     connection reset by peer"). Blocking flusher writes, and conns that
//     are not sockets, keep the ordinary calls.
//   - Timeouts: each handshake step has PacketTimeout. Afterwards, when no
//     byte arrives for PacketTimeout a ping is sent; if still nothing
//     arrives for another PacketTimeout the connection closes
//     (ErrTimeout). A partial packet with no progress for PacketTimeout
//     closes it too (ErrStalled). Writes time out after PacketTimeout.
//   - Text first bytes on a server socket ("stats\r\n", "version\r\n", any
//     printable line) end ServerHandshake with a *TextProtocolError and the
//     socket left open for an answer.
//
// Deviations from VK's Go code, all on the lenient or stricter-config side:
// different keys with one KeyID are refused when the Config is checked, not
// per connection; a pong is queued at once when a ping arrives, so "second
// ping before our pong" cannot happen; a partial packet is timed by its
// progress rather than by one deadline from the start of the wait.
package packet

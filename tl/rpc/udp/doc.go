// Package udp implements VK's UDP transport for TL RPC (wire.md §5): one
// socket per endpoint, a "connection" per remote ip:port, mandatory
// AES-256-IGE encryption, 0-RTT establishment, chunking, acks and resends.
// It is byte-compatible with VK's Go implementation (github.com/VKCOM/tl
// pkg/rpc/udp); the tests prove it against VK's UDP server and client.
//
// # API
//
//	t, err := udp.New(sock, udp.Config{Keys: [][]byte{key}})  // sock: *net.UDPConn on 127.0.0.1:port etc.
//	c, err := t.Dial(addr)                   // active side; or c, err := t.Accept()
//	typ, body, err := c.ReadPacket()         // one reader; body valid until the next call
//	err = c.WritePacket(typ, head, body)     // reliable, any goroutine
//	ok, err = c.TryWritePacketIn(&batch, over, typ, head, body) // never waits; sent at batch.Flush,
//	                                         // packed with the burst's other messages to the peer
//	c.Buffered()                             // a whole message is queued: ReadPacket will not wait
//	err = c.WriteUnreliable(typ, head, body) // one datagram, never resent (engine.pid answers)
//	c.Close(); <-c.Done(); c.Err(); c.RemoteAddr(); c.PeerPID()
//	c.Park()                                 // after ReadPacket returned ErrIdle (Config.IdleAfter)
//	t.Stats(); t.Close()
//
// A message is the 4-byte RPC type followed by the body (wire.md §5.6),
// the same (type, body) pair the TCP packet.Conn carries. Messages are
// delivered as they complete, which may differ from the send order, as in
// VK's transport.
//
// # Datagram
//
//	+--------------------------------------------------------------+
//	| unencHeader (boxed, plaintext)                                |
//	|   45e9a800 flags [local_pid remote_pid generation]  (bit 0)   |
//	|                  [pid_hash]                         (bit 2)   |
//	|                  [crypto_flags] [crypto_random 32]  (3, 5)    |
//	+--------------------------------------------------------------+
//	| AES-256-IGE, iv = crypto_random:                              |
//	|   encHeader (bare) | payload | zero padding | repeated unenc  |
//	+--------------------------------------------------------------+
//	| CRC32C (LE) over everything above                             |
//	+--------------------------------------------------------------+
//
// unenc flags are 0xb9 in pid mode and 0xbc in hash mode; crypto_flags =
// 0x81 | keyID<<8 with keyID = LE_uint32(key[0:4]) & 0xfff. encHeader:
//
//	flags [time 9] [version 10] [ack_prefix 13] [ack_from ack_to 14]
//	      [ack_set: n, n*u32 15] [packet_num 20] [packets_from count 21]
//	      [prev_parts 22] [next_parts 23] [prev_length 24] [next_length 25]
//	      [packet_offset: long 30] [window_control 31]
//	true bits: single_rpc_msg 26, multiple_rpc_msgs 27,
//	           zero padding 1/2/4/8 bytes: 18/19/28/29
//
// enc flags bits 0..6 repeat the unenc flags; version is 0x00020002. The
// repeated unenc fields (hash; pids, generation; crypto_flags) bind the
// plaintext header to the key. Payload: one chunk raw, several chunks as
// [len u32][bytes]..., consecutive seqs of different messages, at most
// MaxChunkSize bytes counting four per chunk.
//
// Keys: w = local_pid || secret || remote_pid || generation; a sender's key
// is md5(w[1:])[:12] || sha1(w); the receiver derives the same with the
// pids swapped. pid_hash = crc64/ECMA(min pid, max pid, generation).
//
// # Establishment
//
//	client (WaitingForRemotePid)            server
//	  -- pid mode, remote {ip,port,0,0},
//	     provisional key, data ---------->  new conn (WaitingForHash), full keys
//	  <- pid mode, full pids, full key ---
//	  Established: hash, full keys
//	  -- hash mode ---------------------->  Established
//
// Unknown hash: we answer obsoleteHash; pid mode naming an older us:
// obsoletePid; a lower generation: obsoleteGeneration (all unreliable).
// A peer with a new pid, a higher generation, or an obsoleteHash carrying
// our hash resets the connection: the Conn ends with ErrReset and the
// caller dials again. Five minutes after the first user datagram sent
// since the peer last spoke, with nothing received, the connection resets
// and the next Dial to that address uses generation+1.
//
// # Idle peers
//
// VK's transport has no close message, so a server would keep a
// connection for every peer socket it ever heard from. With
// Config.IdleAfter, ReadPacket on an accepted connection returns ErrIdle
// (not final) once the connection has heard nothing for that long and
// holds nothing: no message queued, unacked, undelivered or half
// received, no ack owed. The reader, which alone knows whether requests
// are still being worked on, may then Park it: the Conn ends with
// ErrParked and leaves a dormant record (pids, generation, hash, key id,
// next seq each way, about 100 bytes). The peer's next datagram that
// carries a message and opens under the record's keys (hash mode, or pid
// mode with the same pid and generation) revives it as a new Conn from
// Accept that goes on with the same seqs: the peer notices nothing.
// Datagrams without a message (late acks) are ignored. An accepted
// connection that has data unacked and has heard nothing for IdleAfter,
// at least 5s (VK's rule is five minutes), resets: its peer is gone. Over
// Config.MaxDormant records the oldest is forgotten; its peer then gets
// obsoleteHash, and VK's client fails what it had in flight and connects
// again.
//
// CloseGraceful and ParkGraceful end a connection once it is settled: the
// peer acked everything written to it, and everything it sent is whole,
// acked and read, and the reader has come back to ReadPacket since the
// last message (it may yet answer that one, however late). A server that
// answers, then ends a connection (a peer it refuses, a shutdown), so
// does not lose the last answers with it. CancelGraceful takes the end
// back (a refused peer admitted after all).
//
// # Reliability and timers
//
// Each reliable message is cut into chunks of <= 996 bytes, each with a
// per-connection seq from 0. The receiver acks with a prefix, the first
// range above it and up to 50 single seqs, on its own data or after the
// 30 ms ack timer; it asks for holes with resendRequest (10 ms, x1.5, reset
// by every header). The sender resends chunks that were in flight when its
// resend timer was armed (45 ms, x1.5 to 60 s while the prefix lags, /1.5
// otherwise, never below 45 ms) and anything named in a resendRequest.
// VK's timer starts, and bottoms out, at 30 ms: its own ack delay, so a
// message the peer had no reason to answer at once was always sent twice.
//
// Two goroutines run per Transport, none per connection: the socket reader,
// which processes each datagram under the Transport mutex, and the timer
// loop, which sleeps on one Timer until the earliest deadline of any
// connection (ack, resend, resend request, regeneration), scanning the
// connections on each wake-up. Config.Now and Config.NewTimer replace the
// clock in tests. On Linux an IPv4 socket is read and written with raw
// recvfrom(2)/sendto(2) through its RawConn (rawSocket), which still parks
// in the runtime's poller, without the per-call syscall bookkeeping. Its
// receive buffer is raised to Config.ReadBuffer (4 MiB): the one socket
// takes every peer's datagrams, and with the system's default (208 KiB) a
// burst of answers from several engines overflowed it on loopback.
//
// The resend timeout grows only while the prefix lags when the timer
// fires. It shrinks when a firing finds the prefix past what was in
// flight, and when an ack covers everything sent: our timer is disarmed
// then (VK's keeps running and shrinks it when it fires on an idle
// connection), so without that a run of losses would leave a
// request-answer connection resending after seconds for good.
//
// # Invariants
//
//   - Bad input never panics and never touches a connection before it
//     authenticated (CRC, key id, decryption, mirror bits, zero padding,
//     repeated fields); drops are counted by reason in Stats. A forged
//     pid or generation cannot reset a connection: the datagram must
//     decrypt first.
//   - Memory per connection is bounded by the window (Config.MaxWindow
//     chunks, 1000 by default) each way: the sender slices a message only
//     when all its chunks fit; the receiver refuses (does not ack) chunks
//     beyond prefix+window, messages claiming more than parts*996 bytes,
//     and new chunks while undelivered messages exceed a window of bytes.
//     WritePacket blocks while its queue holds a window of bytes.
//   - No allocations per datagram in steady state: datagrams are built and
//     decrypted in per-Transport scratch buffers, small message buffers
//     are recycled.
//
// Deviations from VK's Go code: a new passive connection is created only
// after its first datagram decrypted; resets end the Conn instead of
// silently renewing it under the caller; messages larger than the window
// (MaxWindow * 996 bytes, about 1 MB) are refused, including chunks of
// such messages from VK peers; obsolete* answers are rate-limited per
// address (100 ms) and obsoletePid is sent only for a datagram that
// decrypts, so forged sources cannot turn us into a reflector; a new
// peer waits in an accept backlog and is dropped (not acked) while it is
// full; idle accepted connections may be parked (above); the resend
// timeout is at least 45 ms, not 30 (above).
package udp

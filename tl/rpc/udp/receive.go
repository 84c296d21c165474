package udp

import (
	"crypto/cipher"
	"encoding/binary"
	"hash/crc32"
	"net/netip"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// blockCache keeps AES ciphers of derived keys, so that a burst of
// datagrams under one provisional key derives it once. It is bounded:
// when full it starts over.
type blockCache struct {
	m map[blockKey]cipher.Block
}

type blockKey struct {
	keyID         uint32
	local, remote packet.PID
	gen           uint32
}

const maxCachedBlocks = 1024

func (bc *blockCache) init() { bc.m = make(map[blockKey]cipher.Block) }

func (bc *blockCache) get(secret []byte, local, remote packet.PID, gen uint32) cipher.Block {
	k := blockKey{KeyID(secret), local, remote, gen}
	if b, ok := bc.m[k]; ok {
		return b
	}
	if len(bc.m) >= maxCachedBlocks {
		clear(bc.m)
	}
	b := newBlock(deriveKey(secret, local, remote, gen))
	bc.m[k] = b
	return b
}

// handle processes one datagram from addr. Caller holds mu. Every failure
// drops the datagram and counts the reason; nothing here touches a
// connection before the datagram authenticated.
func (t *Transport) handle(addr netip.AddrPort, d []byte) {
	if len(d) < minDatagram {
		t.stats.drop(DropShort)
		return
	}
	body := d[:len(d)-4]
	if binary.LittleEndian.Uint32(d[len(d)-4:]) != crc32.Checksum(body, t.tab.crc32c) {
		t.stats.drop(DropCRC)
		return
	}
	var u unencHeader
	ct, err := parseUnenc(body, &u)
	const must = uSHA | uRandom | uEncrypted
	if err != nil || u.flags&must != must || (u.flags&uPid != 0) == (u.flags&uHash != 0) ||
		len(ct) == 0 || len(ct)%16 != 0 {
		t.stats.drop(DropHeader)
		return
	}
	ip, ok := ipv4(addr.Addr())
	if !ok {
		t.stats.drop(DropAddr)
		return
	}
	k := addrKey{ip, addr.Port()}
	addr = netip.AddrPortFrom(netip.AddrFrom4(addr.Addr().Unmap().As4()), addr.Port())
	if u.flags&uHash != 0 {
		t.handleHash(addr, k, &u, ct)
	} else {
		t.handlePid(addr, k, &u, ct)
	}
}

func (t *Transport) handleHash(addr netip.AddrPort, k addrKey, u *unencHeader, ct []byte) {
	c := t.byHash[hashKey{k, u.hash}]
	var d dormant
	var b cipher.Block
	revive := false
	if c != nil {
		b = c.readFull
	} else if t.byAddr[k] == nil {
		d, b, revive = t.dormantBlock(k, u)
	}
	if c == nil && !revive {
		t.stats.drop(DropUnknownHash)
		if !t.obsoleteAllowed(k) {
			return
		}
		keyID := t.s.dialKey
		if u.flags&uCrypto != 0 {
			keyID = keyIDOf(u.cryptoFlags)
		}
		p := binary.LittleEndian.AppendUint32(t.payload[:0], tagObsoleteHash)
		p = binary.LittleEndian.AppendUint64(p, u.hash)
		p = appendPID(p, t.local)
		t.payload = p
		t.sendObsolete(addr, keyID, packet.PID{}, 0, p)
		return
	}
	payload, ok := t.open(b, u, ct)
	if !ok {
		return
	}
	if revive {
		if c = t.revive(k, d); c == nil {
			return
		}
	}
	if c.state == stWaitingForHash {
		c.state = stEstablished
	}
	t.process(c, payload)
}

func (t *Transport) handlePid(addr netip.AddrPort, k addrKey, u *unencHeader, ct []byte) {
	if u.flags&uCrypto == 0 {
		t.stats.drop(DropKeyID)
		return
	}
	keyID := keyIDOf(u.cryptoFlags)
	secret, ok := t.s.keys[keyID]
	if !ok {
		t.stats.drop(DropKeyID)
		return
	}
	partial := u.remote.UTime == 0 && u.remote.ProcessID() == 0
	if !partial && (u.remote.UTime != t.local.UTime || u.remote.ProcessID() != t.local.ProcessID()) {
		// The peer knows an older us. Tell it, unless we already talk to
		// that address and this is merely a late datagram.
		t.stats.drop(DropObsoletePid)
		if t.byAddr[k] == nil && t.obsoleteAllowed(k) && t.authentic(secret, u, ct) {
			p := binary.LittleEndian.AppendUint32(t.payload[:0], tagObsoletePid)
			p = appendPID(p, u.remote)
			p = appendPID(p, t.local)
			p = binary.LittleEndian.AppendUint32(p, 0)
			t.payload = p
			t.sendObsolete(addr, keyID, u.local, 0, p)
		}
		return
	}
	if u.local.IP != k.ip || u.local.Port() != k.port {
		t.stats.drop(DropAddr) // no NAT support, as in VK's transport
		return
	}
	c := t.byAddr[k]
	if c != nil && c.state != stWaitingForRemotePid && c.remote != u.local {
		if u.local.UTime < c.remote.UTime {
			t.stats.drop(DropObsoletePid) // a datagram from the peer's past life
			return
		}
		if !t.authentic(secret, u, ct) {
			return
		}
		t.reset(c, "peer pid changed")
		c = nil
	}
	if c != nil && u.gen != c.gen {
		if u.gen < c.gen {
			t.stats.drop(DropOldGeneration)
			p := binary.LittleEndian.AppendUint32(t.payload[:0], tagObsoleteGeneration)
			p = appendPID(p, t.local)
			p = binary.LittleEndian.AppendUint32(p, c.gen)
			t.payload = p
			if c.state != stWaitingForRemotePid {
				t.sendObsolete(addr, c.keyID, c.remote, c.gen, p)
			}
			return
		}
		if !t.authentic(secret, u, ct) {
			return
		}
		t.reset(c, "newer generation")
		c = nil
	}
	var d dormant
	var b cipher.Block
	revive := false
	if c == nil {
		d, b, revive = t.dormantBlock(k, u)
	}
	switch {
	case revive:
	case c == nil || partial || c.readFull == nil:
		b = t.blocks.get(secret, u.local, u.remote, u.gen)
	default:
		b = c.readFull
	}
	payload, ok := t.open(b, u, ct)
	if !ok {
		return
	}
	if revive {
		if c = t.revive(k, d); c == nil {
			return
		}
	} else if c == nil {
		if u.remote == (packet.PID{}) {
			return // obsoleteHash for an address we do not know
		}
		if c = t.acceptConn(addr, k, u, keyID, secret); c == nil {
			return
		}
	} else if c.state == stWaitingForRemotePid {
		if u.remote == (packet.PID{}) || partial {
			// obsoleteHash or a peer dialling us at the same time: the
			// peer has no hash for us yet, so nothing to learn here.
			t.process(c, payload)
			return
		}
		c.remote = u.local
		t.established(c, secret)
		c.state = stEstablished
	}
	t.process(c, payload)
}

// obsoleteAllowed rate-limits obsolete* answers to one per address per
// obsoleteInterval: the unknown-hash case cannot be authenticated, and
// source addresses can be forged, so unlimited answers would make us a
// reflector. The table is bounded: it starts over when full.
func (t *Transport) obsoleteAllowed(k addrKey) bool {
	now := t.s.now()
	if last, ok := t.obsoleteAt[k]; ok && now.Sub(last) < obsoleteInterval {
		return false
	}
	if len(t.obsoleteAt) >= maxObsoleteAddrs {
		clear(t.obsoleteAt)
	}
	t.obsoleteAt[k] = now
	return true
}

const (
	obsoleteInterval = 100 * time.Millisecond
	maxObsoleteAddrs = 4096
)

// authentic decrypts and checks a datagram without acting on it, so that a
// forged pid or generation cannot reset a connection.
func (t *Transport) authentic(secret []byte, u *unencHeader, ct []byte) bool {
	_, ok := t.open(t.blocks.get(secret, u.local, u.remote, u.gen), u, ct)
	return ok
}

// established derives the full keys and the hash of c and indexes it.
func (t *Transport) established(c *Conn, secret []byte) {
	c.hash = pidHash(t.tab.crc64, t.local, c.remote, c.gen)
	c.write = t.blocks.get(secret, t.local, c.remote, c.gen)
	c.readFull = t.blocks.get(secret, c.remote, t.local, c.gen)
	t.byHash[hashKey{c.key, c.hash}] = c
}

// acceptConn creates the passive connection for a new peer, or counts a
// refusal and returns nil.
func (t *Transport) acceptConn(addr netip.AddrPort, k addrKey, u *unencHeader, keyID uint32, secret []byte) *Conn {
	if t.s.backlog < 0 || len(t.byAddr) >= t.s.maxConns || len(t.acceptq) == cap(t.acceptq) {
		t.stats.drop(DropRefused)
		return nil
	}
	t.forgetDormant(k)
	c := t.newConn(addr, k, false)
	c.state = stWaitingForHash
	c.remote, c.gen, c.keyID = u.local, u.gen, keyID
	t.established(c, secret)
	t.byAddr[k] = c
	t.acceptq <- c
	t.stats.accepted.Add(1)
	t.poke() // process, which follows, sets lastIn: the timer loop learns the idle deadline
	return c
}

// open decrypts and validates ct, counting a failure.
func (t *Transport) open(b cipher.Block, u *unencHeader, ct []byte) ([]byte, bool) {
	payload, plain, r, ok := open(t.inPlain, b, u, &t.rx, ct)
	t.inPlain = plain
	if !ok {
		t.stats.drop(r)
	}
	return payload, ok
}

// process applies an authenticated datagram to c: acks, data, control
// messages, timers. t.rx holds its encrypted header.
func (t *Transport) process(c *Conn, payload []byte) {
	now := t.s.now()
	c.silentSince = time.Time{}
	c.lastIn = now
	e := &t.rx
	o := &c.out
	before := o.ackPrefix
	if e.flags&eAckPrefix != 0 {
		o.ackPrefixTo(e.ackPrefix+1, t.putMsg)
	}
	if e.flags&eAckRange != 0 {
		o.ackRange(e.ackFrom, e.ackTo, t.putMsg)
	}
	for _, s := range e.ackSet {
		o.ack(s, t.putMsg)
	}
	if o.ackPrefix != before && o.ackPrefix == o.sentEnd {
		c.resend.acked()
	}
	switch {
	case e.flags&ePacketNum != 0 && e.packetNum == unreliableNum:
		t.stats.unreliableIn.Add(1)
		t.unreliable(c, payload)
		if c.err != nil {
			return
		}
	case e.flags&(ePacketNum|ePackets) != 0:
		if t.chunks(c, e, payload) && c.in.ackAt.IsZero() {
			c.in.ackAt = now.Add(ackDelay)
			t.poke()
		}
	}
	c.in.rrDelay = minResendRequest
	if !c.in.holes() {
		c.in.rrAt = time.Time{}
	} else if c.in.rrAt.IsZero() {
		c.in.rrAt = now.Add(c.in.rrDelay)
		t.poke()
	}
	t.flush(c)
	t.settle(c)
}

// chunks splits the data of one datagram and receives each chunk; it
// reports whether anything needs acking.
func (t *Transport) chunks(c *Conn, e *encHeader, p []byte) bool {
	seq, count := e.packetNum, uint32(1)
	if e.flags&ePackets != 0 {
		seq, count = e.packetsFrom, e.packetsCount
		if count == 0 || count > MaxChunkSize/4 {
			t.stats.drop(DropChunk)
			return false
		}
	}
	if e.flags&ePacketNum != 0 && e.flags&ePackets != 0 {
		t.stats.drop(DropChunk)
		return false
	}
	ack := false
	for i := range count {
		data := p
		if count > 1 {
			n, rest, ok := nat(p)
			if !ok || uint64(n) > uint64(len(rest)) {
				t.stats.drop(DropChunk)
				return ack
			}
			data, p = rest[:n], rest[n:]
		}
		var prevParts, nextParts, prevLen, nextLen uint32
		if i == 0 {
			prevParts, prevLen = e.prevParts, e.prevLength
		}
		if i == count-1 {
			nextParts, nextLen = e.nextParts, e.nextLength
		}
		if t.receiveChunk(c, seq, prevParts, nextParts, prevLen, nextLen, data) {
			ack = true
		}
		seq++
	}
	return ack
}

// unreliable handles a packet_num 0xFFFFFFFF message: transport control
// messages, or a message for ReadPacket.
func (t *Transport) unreliable(c *Conn, p []byte) {
	tag, rest, ok := nat(p)
	if !ok {
		t.stats.drop(DropChunk)
		return
	}
	switch tag {
	case tagResendRequest:
		t.stats.resendReqIn.Add(1)
		parseResendRequest(rest, c.out.markResend)
	case tagObsoleteHash:
		if len(rest) >= 8 && c.state != stWaitingForRemotePid && binary.LittleEndian.Uint64(rest) == c.hash {
			t.reset(c, "peer reported our hash obsolete")
		}
	case tagObsoletePid, tagObsoleteGeneration, tagWait:
		// VK's Go transport only counts these; the pid-mode header that
		// carried them already drove any reset.
	default:
		if c.recvLen+len(p) > t.s.window*chunkMax {
			t.stats.drop(DropWindow) // the reader is slow: unreliable means droppable
			return
		}
		buf := t.getBuf(len(p))
		copy(buf, p)
		t.deliver(c, buf)
	}
}

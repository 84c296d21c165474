package udp

import "sync/atomic"

// DropReason classifies a dropped datagram or chunk.
type DropReason int

// Drop reasons, each counted in Stats.Dropped.
const (
	DropShort         DropReason = iota // shorter than any valid datagram
	DropCRC                             // CRC32C mismatch
	DropHeader                          // unparsable or inconsistent plaintext header
	DropKeyID                           // unknown key id
	DropEncHeader                       // decrypted header unparsable (wrong key, forged)
	DropMirror                          // enc flags bits 0..6 differ from unenc flags
	DropPadding                         // padding bytes not zero or sizes inconsistent
	DropRepeated                        // repeated unenc fields differ from the plaintext
	DropVersion                         // peer's minimum version above ours
	DropAddr                            // source address differs from the sender pid
	DropUnknownHash                     // hash mode for no connection (obsoleteHash sent)
	DropObsoletePid                     // remote_pid is not our pid (obsoletePid sent)
	DropOldGeneration                   // generation below ours
	DropChunk                           // chunk fields inconsistent
	DropWindow                          // chunk beyond the receive window or receiver busy
	DropRefused                         // new peer refused: backlog full, conn limit, no accept
	numDropReasons
)

var dropNames = [numDropReasons]string{"short", "crc", "header", "key_id", "enc_header", "mirror",
	"padding", "repeated", "version", "addr", "unknown_hash", "obsolete_pid", "old_generation",
	"chunk", "window", "refused"}

func (r DropReason) String() string {
	if r < 0 || r >= numDropReasons {
		return "unknown"
	}
	return dropNames[r]
}

// Stats is a snapshot of a Transport's counters.
type Stats struct {
	DatagramsIn   uint64
	DatagramsOut  uint64
	MessagesIn    uint64 // reliable and unreliable messages delivered
	MessagesOut   uint64 // reliable messages queued
	ChunksResent  uint64
	AcksOnly      uint64 // ack-only datagrams sent
	ResendReqOut  uint64
	ResendReqIn   uint64
	Duplicates    uint64 // chunks received again (dropped, acked)
	UnreliableIn  uint64
	UnreliableOut uint64
	ObsoleteOut   uint64 // obsoletePid/Hash/Generation sent
	Resets        uint64 // connections reset by peer state or regeneration
	Accepted      uint64
	Conns         int
	IdleOffers    uint64 // ErrIdle returned to readers of quiet accepted connections
	Parked        uint64 // idle connections parked (Conn.Park)
	Revived       uint64 // parked connections their peer brought back
	Evicted       uint64 // dormant records forgotten over Config.MaxDormant
	Dormant       int    // dormant records held now
	// MaxBufferedChunks is the most chunks ever held in incomplete
	// incoming messages of one connection; it never exceeds the window.
	MaxBufferedChunks uint64
	Dropped           [numDropReasons]uint64
}

// DroppedTotal sums Dropped.
func (s *Stats) DroppedTotal() uint64 {
	var n uint64
	for _, d := range s.Dropped {
		n += d
	}
	return n
}

type counters struct {
	datagramsIn, datagramsOut, messagesIn, messagesOut   atomic.Uint64
	chunksResent, acksOnly, resendReqOut, resendReqIn    atomic.Uint64
	duplicates, unreliableIn, unreliableOut, obsoleteOut atomic.Uint64
	resets, accepted, maxBuffered                        atomic.Uint64
	idleOffers, parked, revived, evicted                 atomic.Uint64
	dropped                                              [numDropReasons]atomic.Uint64
}

func (c *counters) drop(r DropReason) { c.dropped[r].Add(1) }

func (c *counters) buffered(n int) {
	for {
		old := c.maxBuffered.Load()
		if uint64(n) <= old || c.maxBuffered.CompareAndSwap(old, uint64(n)) {
			return
		}
	}
}

func (c *counters) snapshot() Stats {
	s := Stats{
		DatagramsIn: c.datagramsIn.Load(), DatagramsOut: c.datagramsOut.Load(),
		MessagesIn: c.messagesIn.Load(), MessagesOut: c.messagesOut.Load(),
		ChunksResent: c.chunksResent.Load(), AcksOnly: c.acksOnly.Load(),
		ResendReqOut: c.resendReqOut.Load(), ResendReqIn: c.resendReqIn.Load(),
		Duplicates: c.duplicates.Load(), UnreliableIn: c.unreliableIn.Load(),
		UnreliableOut: c.unreliableOut.Load(), ObsoleteOut: c.obsoleteOut.Load(),
		Resets: c.resets.Load(), Accepted: c.accepted.Load(), MaxBufferedChunks: c.maxBuffered.Load(),
		IdleOffers: c.idleOffers.Load(), Parked: c.parked.Load(), Revived: c.revived.Load(), Evicted: c.evicted.Load(),
	}
	for i := range c.dropped {
		s.Dropped[i] = c.dropped[i].Load()
	}
	return s
}

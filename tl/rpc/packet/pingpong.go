package packet

import (
	"encoding/binary"
	"fmt"
)

// pingState is owned by the reading goroutine: pings are sent only from
// ReadPacket when the peer has been silent, so no lock is needed.
type pingState struct {
	sent   bool  // a ping is in flight
	id     int64 // id of the last ping; VK's ids start at 1
	idBuf  [8]byte
	pongID [8]byte
}

// onIdle runs when PacketTimeout passed with no byte received: the first
// time it sends a ping, the second time (no answer) the connection dies.
func (p *pingState) onIdle(c *Conn) error {
	if p.sent {
		return fmt.Errorf("%w: no answer to ping %d within %v", ErrTimeout, p.id, c.timeout)
	}
	p.sent = true
	p.id++
	binary.LittleEndian.PutUint64(p.idBuf[:], uint64(p.id))
	c.writeControl(TypePing, p.idBuf[:])
	return nil
}

// onPing queues the pong at once, so VK's rule "a second ping before our
// pong is written is fatal" cannot trigger: the pong is already in the
// outgoing stream, ahead of anything written later.
func (p *pingState) onPing(c *Conn, body []byte) {
	copy(p.pongID[:], body)
	c.writeControl(TypePong, p.pongID[:])
}

func (p *pingState) onPong(body []byte) error {
	id := int64(binary.LittleEndian.Uint64(body))
	if !p.sent {
		return fmt.Errorf("%w: pong %d without a ping in flight", ErrPingPong, id)
	}
	if id != p.id {
		return fmt.Errorf("%w: pong %d for ping %d", ErrPingPong, id, p.id)
	}
	p.sent = false
	return nil
}

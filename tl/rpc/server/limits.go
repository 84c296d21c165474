package server

import (
	"fmt"
	"sync/atomic"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// Limits are the memory and connection caps of one Server, or shared by
// several (a proxy's listeners): connections (TCP and UDP peers,
// handshaking ones included), bytes of requests in flight, bytes of
// answers held for clients that are not reading (packet.Budget), and the
// largest packet a client may send. Set changes them while the servers
// run: a raised byte cap admits waiting readers at once; a lowered one
// applies to the next request (what is in flight keeps its bytes); the
// connection cap applies to the next connection, and the packet cap to
// TCP connections accepted after it and to the next UDP request.
type Limits struct {
	conns     atomic.Int64 // connections counted now
	maxConns  atomic.Int64
	maxPacket atomic.Int64 // 0: the Packet config's
	sem       byteSem
	budget    *packet.Budget
}

// LimitValues are the caps of Limits; a zero field means its default.
type LimitValues struct {
	MaxConns        int   // default DefaultMaxConns
	MaxRequestBytes int64 // default DefaultMaxRequestBytes
	MaxHeldBytes    int64 // answer bytes held for slow clients; default no cap
	MaxPacketLen    int   // default the server's Packet.MaxPacketLen
}

// NewLimits returns Limits with the caps v.
func NewLimits(v LimitValues) (*Limits, error) {
	l := &Limits{budget: packet.NewBudget(0)}
	if err := l.Set(v); err != nil {
		return nil, err
	}
	return l, nil
}

// Set changes the caps to v. On an error (Check's) nothing changes.
func (l *Limits) Set(v LimitValues) error {
	v, err := v.withDefaults()
	if err != nil {
		return err
	}
	l.maxConns.Store(int64(v.MaxConns))
	l.maxPacket.Store(int64(v.MaxPacketLen))
	l.budget.SetLimit(v.MaxHeldBytes)
	l.sem.setLimit(v.MaxRequestBytes)
	return nil
}

// Check reports what Set would refuse in v.
func (v LimitValues) Check() error {
	_, err := v.withDefaults()
	return err
}

// withDefaults is v validated, with its zero fields' defaults.
func (v LimitValues) withDefaults() (LimitValues, error) {
	switch {
	case v.MaxConns < 0:
		return v, fmt.Errorf("%w: MaxConns %d is negative", ErrBadConfig, v.MaxConns)
	case v.MaxConns == 0:
		v.MaxConns = DefaultMaxConns
	}
	switch {
	case v.MaxRequestBytes < 0:
		return v, fmt.Errorf("%w: MaxRequestBytes %d is negative", ErrBadConfig, v.MaxRequestBytes)
	case v.MaxRequestBytes == 0:
		v.MaxRequestBytes = DefaultMaxRequestBytes
	case v.MaxRequestBytes < requestOverhead:
		return v, fmt.Errorf("%w: MaxRequestBytes %d below %d", ErrBadConfig, v.MaxRequestBytes, requestOverhead)
	}
	if v.MaxHeldBytes < 0 {
		return v, fmt.Errorf("%w: MaxHeldBytes %d is negative", ErrBadConfig, v.MaxHeldBytes)
	}
	if v.MaxPacketLen < 0 {
		return v, fmt.Errorf("%w: MaxPacketLen %d is negative", ErrBadConfig, v.MaxPacketLen)
	}
	return v, nil
}

// MaxConns returns the connection cap.
func (l *Limits) MaxConns() int { return int(l.maxConns.Load()) }

// Conns returns the connections counted now, over every server sharing l.
func (l *Limits) Conns() int64 { return l.conns.Load() }

// MaxRequestBytes returns the cap of request bytes in flight.
func (l *Limits) MaxRequestBytes() int64 { return l.sem.limit.Load() }

// RequestBytes returns the request bytes in flight now.
func (l *Limits) RequestBytes() int64 { return l.sem.inUse() }

// Budget is the budget of answer bytes held for slow clients, which the
// servers' connections charge (packet.Config.Budget) and a handler may
// charge too for answers it holds.
func (l *Limits) Budget() *packet.Budget { return l.budget }

// maxBody is the largest request body the packet cap admits now (l's, or
// else cfg's); 0: no cap. UDP messages arrive whole, so a UDP connection
// checks each request against it instead of closing.
func (l *Limits) maxBody(cfg packet.Config) int {
	if n := l.packetLen(cfg); n > 0 {
		return n - (packet.MaxPacketLen - packet.MaxBodyLen)
	}
	return 0
}

// packetConfig is cfg with l's packet cap, for a connection accepted now.
func (l *Limits) packetConfig(cfg packet.Config) packet.Config {
	cfg.MaxPacketLen = l.packetLen(cfg)
	return cfg
}

// packetLen is the packet cap now: l's, or else cfg's (0: the protocol's).
func (l *Limits) packetLen(cfg packet.Config) int {
	if n := l.maxPacket.Load(); n > 0 {
		return int(n)
	}
	return cfg.MaxPacketLen
}

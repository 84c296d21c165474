package client

import "sync/atomic"

// Stats are cumulative counters since New, except InFlight.
type Stats struct {
	Sent       uint64 // requests written to a connection
	Answered   uint64 // answers paired with a pending call (error answers included)
	Errors     uint64 // of which were TL error answers
	Timeouts   uint64 // calls failed by their deadline
	Canceled   uint64 // calls canceled by context or Cancel
	Failed     uint64 // calls failed by a lost connection, a failed dial (FailFast), a bad answer
	Connects   uint64 // connections established
	DialErrors uint64 // failed dials and handshakes
	InFlight   int64  // calls accepted and not yet delivered
}

type counters struct {
	sent, answered, errors, timeouts, canceled, failed, connects, dialErrors atomic.Uint64
	inFlight                                                                 atomic.Int64
}

// Stats returns a snapshot of the counters; each is read atomically, the
// set is not one consistent instant.
func (cl *Client) Stats() Stats {
	c := &cl.stats
	return Stats{
		Sent:       c.sent.Load(),
		Answered:   c.answered.Load(),
		Errors:     c.errors.Load(),
		Timeouts:   c.timeouts.Load(),
		Canceled:   c.canceled.Load(),
		Failed:     c.failed.Load(),
		Connects:   c.connects.Load(),
		DialErrors: c.dialErrors.Load(),
		InFlight:   c.inFlight.Load(),
	}
}

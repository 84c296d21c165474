package events

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl"
)

// Event is one events.event as it travels, for clients and tests: the
// engine writes them with appendEvent, ReadEvent reads them back.
type Event struct {
	ID, TS    int64
	Key, Text string
}

// ReadEvent reads one boxed events.event from b and returns the rest.
func ReadEvent(b []byte) (Event, []byte, error) {
	var e Event
	r, err := tl.ExpectTag(b, TagEvent)
	if err == nil {
		e.ID, r, err = tl.ReadInt64(r)
	}
	if err == nil {
		e.TS, r, err = tl.ReadInt64(r)
	}
	if err == nil {
		e.Key, r, err = tl.ReadString(r)
	}
	if err == nil {
		e.Text, r, err = tl.ReadString(r)
	}
	if err != nil {
		return Event{}, b, fmt.Errorf("events: event: %w", err)
	}
	return e, r, nil
}

// ReadAnswer reads the whole answer of a read that returns events: a
// Vector events.Event (list, search, listAll) or a Maybe events.Event
// (firstMatch; Nothing is no events). Trailing bytes are an error.
func ReadAnswer(b []byte) ([]Event, error) {
	tag, r, err := tl.ReadUint32(b)
	if err != nil {
		return nil, fmt.Errorf("events: answer: %w", err)
	}
	var n int
	switch tag {
	case tl.TagVector:
		if n, r, err = tl.ReadCount(r, 4+8+8+4+4); err != nil {
			return nil, fmt.Errorf("events: answer: %w", err)
		}
	case tl.TagMaybeFalse:
	case tl.TagMaybeTrue:
		n = 1
	default:
		return nil, fmt.Errorf("events: answer: tag %08x is neither a Vector nor a Maybe", tag)
	}
	evs := make([]Event, 0, n)
	for range n {
		var e Event
		if e, r, err = ReadEvent(r); err != nil {
			return nil, err
		}
		evs = append(evs, e)
	}
	if len(r) != 0 {
		return nil, fmt.Errorf("events: answer: %d trailing bytes", len(r))
	}
	return evs, nil
}

package events

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/tl"
)

// Tags of events.tl, computed by the VK rule and checked against the
// schema package in a test.
const (
	TagEvent uint32 = 0x1df43c66 // events.event id:long ts:long key:string text:string

	TagAdd        uint32 = 0xfa2d5000
	TagDelete     uint32 = 0xbe3dac7c
	TagList       uint32 = 0xfdec8e88
	TagSearch     uint32 = 0x5412c1eb
	TagListAll    uint32 = 0x1e9d46f6
	TagCount      uint32 = 0x8b473f4f
	TagTextBytes  uint32 = 0xdba5c38a
	TagMinTs      uint32 = 0x3e5280da
	TagMaxTs      uint32 = 0x00e74852
	TagHas        uint32 = 0x4671ad27
	TagAllMatch   uint32 = 0xef52cdfc
	TagFirstMatch uint32 = 0x511e7d91
)

// Funcs returns the events functions for engines.Config.Funcs.
func (s *Store) Funcs() []engines.Func {
	return []engines.Func{
		{Name: "events.add", Tag: TagAdd, Call: s.callAdd},
		{Name: "events.delete", Tag: TagDelete, Call: s.callDelete},
		{Name: "events.list", Tag: TagList, Call: s.callList},
		{Name: "events.search", Tag: TagSearch, Call: s.callSearch},
		{Name: "events.listAll", Tag: TagListAll, Call: s.callListAll},
		{Name: "events.count", Tag: TagCount, Call: s.aggregator(stopNever, func(dst []byte, a *aggregate) []byte {
			return tl.AppendInt32(tl.AppendUint32(dst, tl.TagInt), int32(a.count)) // count <= MaxEvents <= MaxInt32
		})},
		{Name: "events.textBytes", Tag: TagTextBytes, Call: s.aggregator(stopNever, func(dst []byte, a *aggregate) []byte {
			return tl.AppendInt64(tl.AppendUint32(dst, tl.TagLong), a.bytes)
		})},
		{Name: "events.minTs", Tag: TagMinTs, Call: s.aggregator(stopNever, func(dst []byte, a *aggregate) []byte {
			return tl.AppendInt64(tl.AppendUint32(dst, tl.TagLong), a.minTs)
		})},
		{Name: "events.maxTs", Tag: TagMaxTs, Call: s.aggregator(stopNever, func(dst []byte, a *aggregate) []byte {
			return tl.AppendInt64(tl.AppendUint32(dst, tl.TagLong), a.maxTs)
		})},
		{Name: "events.has", Tag: TagHas, Call: s.aggregator(stopOnMatch, func(dst []byte, a *aggregate) []byte {
			return tl.AppendBool(dst, a.count > 0)
		})},
		{Name: "events.allMatch", Tag: TagAllMatch, Call: s.aggregator(stopOnMiss, func(dst []byte, a *aggregate) []byte {
			return tl.AppendBool(dst, a.allMatch)
		})},
		{Name: "events.firstMatch", Tag: TagFirstMatch, Call: s.aggregator(stopNever, func(dst []byte, a *aggregate) []byte {
			if a.first == nil {
				return tl.AppendUint32(dst, tl.TagMaybeFalse)
			}
			return appendEvent(tl.AppendUint32(dst, tl.TagMaybeTrue), a.first)
		})},
	}
}

// appendEvent appends the boxed events.Event of e.
func appendEvent(dst []byte, e *event) []byte {
	dst = tl.AppendUint32(dst, TagEvent)
	dst = tl.AppendInt64(dst, e.id)
	dst = tl.AppendInt64(dst, e.ts)
	dst = tl.AppendString(dst, e.key)
	return tl.AppendBytes(dst, e.text)
}

// appendEvents appends a Vector events.Event.
func appendEvents(dst []byte, evs []*event) []byte {
	dst = tl.AppendUint32(dst, tl.TagVector)
	dst = tl.AppendUint32(dst, uint32(len(evs)))
	for _, e := range evs {
		dst = appendEvent(dst, e)
	}
	return dst
}

// readString reads a string argument, naming it in the error.
func readString(args []byte, name string) ([]byte, []byte, error) {
	v, rest, err := tl.ReadBytes(args)
	if err != nil {
		return nil, args, fmt.Errorf("%s: %w", name, err)
	}
	return v, rest, nil
}

// readLimit reads the last argument, limit:int, and applies its rule.
func readLimit(args []byte) (int, error) {
	v, rest, err := tl.ReadInt32(args)
	if err != nil {
		return 0, fmt.Errorf("limit: %w", err)
	}
	if err := engines.End(rest); err != nil {
		return 0, err
	}
	return effectiveLimit(v)
}

// callAdd: events.add key:string ts:long text:string = Long.
func (s *Store) callAdd(args, dst []byte) ([]byte, error) {
	key, r, err := readString(args, "key")
	if err != nil {
		return dst, err
	}
	ts, r, err := tl.ReadInt64(r)
	if err != nil {
		return dst, fmt.Errorf("ts: %w", err)
	}
	text, r, err := readString(r, "text")
	if err != nil {
		return dst, err
	}
	if err := engines.End(r); err != nil {
		return dst, err
	}
	id, err := s.add(key, ts, text)
	if err != nil {
		return dst, err
	}
	return tl.AppendInt64(tl.AppendUint32(dst, tl.TagLong), id), nil
}

// callDelete: events.delete key:string = Int.
func (s *Store) callDelete(args, dst []byte) ([]byte, error) {
	key, r, err := readString(args, "key")
	if err != nil {
		return dst, err
	}
	if err := engines.End(r); err != nil {
		return dst, err
	}
	return tl.AppendInt32(tl.AppendUint32(dst, tl.TagInt), int32(s.remove(key))), nil
}

// callList: events.list key:string limit:int = Vector events.Event.
func (s *Store) callList(args, dst []byte) ([]byte, error) {
	key, r, err := readString(args, "key")
	if err != nil {
		return dst, err
	}
	limit, err := readLimit(r)
	if err != nil {
		return dst, err
	}
	return appendEvents(dst, s.list(key, limit)), nil
}

// callSearch: events.search query:string limit:int = Vector events.Event.
func (s *Store) callSearch(args, dst []byte) ([]byte, error) {
	query, r, err := readString(args, "query")
	if err != nil {
		return dst, err
	}
	limit, err := readLimit(r)
	if err != nil {
		return dst, err
	}
	return appendEvents(dst, s.best(limit, newer, query, true)), nil
}

// callListAll: events.listAll limit:int = Vector events.Event.
func (s *Store) callListAll(args, dst []byte) ([]byte, error) {
	limit, err := readLimit(args)
	if err != nil {
		return dst, err
	}
	return appendEvents(dst, s.best(limit, older, nil, false)), nil
}

// aggregator serves the functions of one argument, query:string, whose
// answer is computed from one aggregate pass.
func (s *Store) aggregator(stop stopAt, answer func(dst []byte, a *aggregate) []byte) func(args, dst []byte) ([]byte, error) {
	return func(args, dst []byte) ([]byte, error) {
		query, r, err := readString(args, "query")
		if err != nil {
			return dst, err
		}
		if err := engines.End(r); err != nil {
			return dst, err
		}
		a := s.aggregate(query, stop)
		return answer(dst, &a), nil
	}
}

package main

import (
	"log/slog"
	"slices"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/engines/events"
	"github.com/rpcproxy/rpcproxy/engines/memcache"
)

// instance is a started engine of some kind.
type instance struct {
	funcs []engines.Func
	stats func(add func(k, v string))
	close func()
}

// kind starts one engine kind from the flags.
type kind struct {
	start func(o options, log *slog.Logger) (instance, error)
}

// kinds is the one list of engine kinds; a new sample engine is one more
// entry here.
func kinds() map[string]kind {
	return map[string]kind{
		"memcache": {start: startMemcache},
		"events":   {start: startEvents},
	}
}

func kindNames() []string {
	var names []string
	for n := range kinds() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func startMemcache(o options, _ *slog.Logger) (instance, error) {
	st, err := memcache.New(memcache.Config{MaxBytes: o.maxBytes})
	if err != nil {
		return instance{}, err
	}
	return instance{funcs: st.Funcs(), stats: st.Stats, close: st.Close}, nil
}

// startEvents starts the events engine with its default limits; it has no
// background work, so close has nothing to stop.
func startEvents(_ options, _ *slog.Logger) (instance, error) {
	st, err := events.New(events.Config{})
	if err != nil {
		return instance{}, err
	}
	return instance{funcs: st.Funcs(), stats: st.Stats, close: func() {}}, nil
}

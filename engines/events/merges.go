package events

// Merge says how the proxy combines the answers of one events function
// sent to every shard. It restates the "Merge:" comments of events.tl in
// Go, for configs and integration tests; a test keeps the two in step.
type Merge struct {
	// Function is the TL name ("events.search").
	Function string
	// Strategy is one of concat, sum, min, max, and, or, sorted, first.
	Strategy string
	// Field, Descending and LimitArg apply to sorted: elements are
	// ordered by Field, at most the LimitArg argument's value of them
	// are kept, DefaultLimit when that value is <= 0.
	Field      string
	Descending bool
	LimitArg   string
}

// Merges returns the fan-out reads of events.tl with their strategies.
// events.add, events.delete and events.list go to one shard, by key.
func Merges() []Merge {
	return []Merge{
		{Function: "events.search", Strategy: "sorted", Field: "ts", Descending: true, LimitArg: "limit"},
		{Function: "events.listAll", Strategy: "concat"},
		{Function: "events.count", Strategy: "sum"},
		{Function: "events.textBytes", Strategy: "sum"},
		{Function: "events.minTs", Strategy: "min"},
		{Function: "events.maxTs", Strategy: "max"},
		{Function: "events.has", Strategy: "or"},
		{Function: "events.allMatch", Strategy: "and"},
		{Function: "events.firstMatch", Strategy: "first"},
	}
}

//go:build race

package server

// raceEnabled: the race detector makes sync.Pool drop a share of Puts on
// purpose, so allocation counts are meaningless under it.
const raceEnabled = true

//go:build race

package udp

// raceEnabled: the race detector is on (see skipVKUnderRace).
const raceEnabled = true

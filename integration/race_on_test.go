//go:build race

package integration

// raceEnabled: VK's UDP transport races internally, so tests that run
// it skip under -race (make test runs them without).
const raceEnabled = true

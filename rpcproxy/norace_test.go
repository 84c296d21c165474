//go:build !race

package rpcproxy

const raceEnabled = false

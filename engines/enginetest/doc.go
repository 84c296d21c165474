// Package enginetest holds test helpers for engines and their users: a
// fake Clock whose time moves only when the test advances it, so expiry
// and fault latency are tested without sleeping. It is imported by tests
// only.
package enginetest

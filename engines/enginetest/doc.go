// Package enginetest holds test helpers for engines and their users: a
// fake Clock whose time moves only when the test advances it, so expiry
// and fault latency are tested without sleeping; Call, which runs one
// call through an engine's Funcs as engines.Server would; and the wire
// scaffolding (Start, VKDo, CheckWire) that runs an engine on 127.0.0.1:0
// and checks the same cases through our client and VK's. It is imported
// by tests only.
package enginetest

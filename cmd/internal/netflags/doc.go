// Package netflags holds the transport flags rpccall and rpcbench share:
// -network (tcp or udp), -key-file and -key-hex, and turns them into the
// client.Options fields they set, so both commands accept and explain the
// same thing.
//
// Invariants: UDP always gets a key of at least 32 bytes (VK's UDP
// transport is always encrypted, wire.md §5.1); for TCP a key is optional
// and, when given, is the packet layer's AES key (VK peers skip AES
// between loopback addresses); a key is never printed.
package netflags

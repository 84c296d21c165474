// Package memcache holds the memcache.* wire forms that rpccall's tests and
// rpcbench need without loading a schema: the function and constructor tags
// of engines/memcache/memcache.tl, append-style request writers, an answer
// reader that only classifies (hit, miss, count), and Fake, a map-backed
// engine on tl/rpc/server for in-process tests.
//
// It exists because the load generator must build and classify requests
// with no allocation and no schema interpretation per request, and because
// the sample engine (engines/memcache) is written in parallel; once it
// lands, tests may run against it instead of Fake.
//
// Invariants:
//   - The tags equal the CRC32 of the canonical text in memcache.tl; a test
//     checks them against that file, so a schema change fails loudly here.
//   - Writers append to dst and never allocate beyond growing it; readers
//     never allocate and never panic on hostile input.
//   - Fake holds no package-level state; each Fake is its own server.
package memcache

// Command rpcproxy is the TL RPC proxy sidecar and its admin tools.
//
//	rpcproxy check -config FILE                      validate a config, print what it means
//	rpcproxy route -config FILE -cluster NAME KEY... show which shard and replicas keys go to
//	rpcproxy serve -config FILE                      run the proxy (SIGHUP reloads, SIGTERM drains)
//
// Every subcommand explains itself with -h. Exit codes: 0 success, 1 the
// command ran and found a problem (invalid config, unroutable key), 2 bad
// usage.
//
// main only wires os.Args and the standard streams to run, so every command
// is tested in-process. Subcommands are entries of commands(); each parses
// its own flags, prints its help (with an example) on -h and writes nothing
// but to the writers it is given.
package main

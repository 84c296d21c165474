// Package rpc is TL RPC on the wire. This root package is the message layer:
// message types, the request envelope (rpcInvokeReq headers and
// rpcInvokeReqExtra), results and the four error encodings, result extras,
// cancel and fin messages, and the error codes, byte-compatible with VK's Go
// and C implementations (docs/wire.md §4). The transport (framing, handshake,
// encryption) lives in tl/rpc/packet.
//
// Request, message type 0x2374df3d:
//
//	+----------+----------------------------------------------+-------------+
//	| query_id | headers, each tag + fields, at most one of:  | function    |
//	| long     |  7568aabd actor_id:long          (actor)     | tag + args  |
//	|          |  e352035e extra                   (extra)     | (= Body)    |
//	|          |  f0a5acf7 actor_id:long extra     (both)      |             |
//	|          |  30324c54                         (TL2, last) |             |
//	+----------+----------------------------------------------+-------------+
//
// extra = bare rpcInvokeReqExtra: flags:# then, for each set bit in
// declaration order, its field (True bits carry no bytes):
//
//	flags | 9 requester_id:long | 15 wait_shards_binlog_pos:%(Dictionary long)
//	| 16 wait_binlog_pos:long | 18 string_forward_keys:%(Vector string)
//	| 19 int_forward_keys:%(Vector long) | 20 string_forward:string
//	| 21 int_forward:long | 23 custom_timeout_ms:int
//	| 25 supported_compression_version:int | 26 random_delay:double
//	| 28 persistent_query:(c8d71b66 uuid | 6836b983 uuid uuid)
//	| 29 trace_context:(mask:# trace_id lo,hi [2: parent_id:long] [3: source_id:string])
//	| 30 execution_context:string
//
// Result, message type 0x63aeda4e:
//
//	+----------+--------------------------+-----------+-------------------------+
//	| query_id | [8cc84ce1 result extra]  | [30324c54]| boxed result, or error: |
//	| long     |  flags:# then fields     |  TL2 only |  7ae432f5 qid code text |
//	|          |  (masked by the request) |  success  |  b527877d code text     |
//	|          |                          |           |  7ae432f6 code text     |
//	+----------+--------------------------+-----------+-------------------------+
//
// The obsolete top-level error is message type 0x7ae432f5 with body
// query_id:long code:int text:string. Writers only ever send 7ae432f5 nested
// inside a result, the one form KPHP parses.
//
// Invariants:
//   - Parsers never allocate on success and never copy: Body, strings,
//     vectors and dictionaries are capacity-clipped subslices of the input,
//     validated once at parse time. A proxy edits the parsed struct and
//     writes a new header with AppendInvokeReqHeader, then forwards the
//     original Body bytes untouched.
//   - Flags are kept verbatim, including unknown bits; writers emit exactly
//     the fields whose bits are set, so parse -> append reproduces the input
//     whenever the input used VK's canonical header choice.
//   - Hostile input returns an error wrapping ErrHeader, ErrMalformed,
//     ErrNoQuery or ErrTrailing (plus the tl sentinel where relevant), never
//     panics, and never causes an allocation proportional to a claimed count.
//   - ErrorOf is the only mapping from internal errors to TL error codes.
package rpc

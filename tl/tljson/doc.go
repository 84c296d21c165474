// Package tljson converts values of any type of a resolved TL schema
// between the TL1 binary form and JSON, both ways, and exactly: decoding
// bytes and encoding the JSON again gives the same bytes, and encoding
// JSON that decoding printed gives the same text back. It serves the CLI
// (tlc encode/decode, rpccall) and logs, so it favours clarity over speed;
// the proxy's hot path uses the byte-level walker in tl/walk instead. It
// interprets the schema model directly: no reflection, no generated code.
//
//	c := tljson.New(s)                                  // s from schema.LoadWithPrelude
//	call, err := c.EncodeCall(nil, fn, []byte(`{"key":"foo"}`))
//	js, err := c.DecodeCall(call)                       // {"_":"memcache.get","key":"foo"}
//	t, err := c.ParseType("Vector memcache.Value")
//	js, err = c.DecodeValue(t, bin)
//	js, err = c.DecodeResult(fn, call, answer)          // result with the request's nats bound
//
// # JSON mapping
//
//	TL                          JSON                              example
//	#, int                      number                            42
//	long                        number (a string also accepted)   -9223372036854775808
//	float, double               number; NaN/Inf as strings        1.5  -0  "NaN"  "Infinity"
//	string, bytes (UTF-8)       string                            "bar"
//	string, bytes (other)       {"base64": std padded}            {"base64":"/wBh"}
//	int128, int256 (Telegram)   lower-case hex of the raw bytes   "00ff...": 32 / 64 digits
//	Bool                        true / false
//	True, true (boxed or bare)  true ({} also accepted)
//	Vector t, Tuple t n, n*[t]  array                             [5,0]
//	Dictionary t and the        object in wire order, duplicate   {"a":"b","a":"c"}
//	  Int/LongKeyDictionary       keys kept; int keys as "5"
//	union (2+ constructors)     object with "_" first             {"_":"memcache.strvalue","value":"bar","flags":1}
//	one-constructor type        object without "_"                {"lo":1,"hi":2}
//	Maybe t, Either, ReqResult  unions like any other             {"_":"resultTrue","result":5}
//	anonymous field             member "_N", N its 0-based index  {"_0":1}
//	field x:!X                  the inner call, "_" naming it     {"_":"memcache.get","key":"foo"}
//	function call               object, "_" naming the function   {"_":"memcache.get","key":"foo"}
//
// Shapes: a field list that is one anonymous field prints as that field's
// value (dictionary#1f4c618f {t} %(Vector %(DictionaryField t)) prints as
// the object of its pairs, stat#9d56e6b2 %(Dictionary string) likewise); a
// list that is an anonymous '#' followed by an anonymous array of that
// many elements (vector) prints as the array, the count implied. Inside a
// union such a constructor is an object with "_" and its "_N" members.
//
// Choices and why:
//   - Dictionaries are objects because that is what VK's tools print and
//     what people type; TL dictionaries are ordered lists that may repeat
//     keys (tl.md §9.9), so this package keeps JSON objects as ordered
//     member lists, duplicates included, and writes them back in order. A
//     string dictionary with a key that is not valid UTF-8 cannot be an
//     object; it is printed as an array of {"key":..., "value":...} pairs,
//     which is also accepted on input for any dictionary.
//   - Maybe is a plain union, not null-or-value: Maybe (Maybe X) and
//     Maybe True would be ambiguous otherwise, and exactness wins.
//   - Floats round-trip bit for bit: the shortest decimal that parses back,
//     "-0" kept; "NaN" is the quiet NaN 0x7fc00000 / 0x7ff8000000000000,
//     any other NaN prints as "NaN(0x<raw bits>)".
//   - Longs are numbers, parsed from the JSON text exactly (not through
//     float64); JS-style consumers may send them as strings, so ints and
//     nats accept strings too.
//   - Raw bytes go in {"base64":...}: invalid UTF-8 inside JSON text is
//     read as U+FFFD, as encoding/json does.
//   - An enum-like constructor of a union may be given as a bare string:
//     "memcache.not_found" means {"_":"memcache.not_found"}.
//
// VK's tlgen JSON (TLJSON.md in VKCOM/tl) agrees on structures, arrays,
// dictionaries, Bool and the {"base64":...} escape. It differs in unions,
// {"type":"name#tag","value":{...}}, enums, "name#tag", and Maybe,
// {"ok":true,"value":v} or {}; it also leaves out empty values and reads
// missing fields as empty. This package prints "_" (shorter, and the same
// object for calls and values) and never omits a field, but accepts VK's
// union, enum and Maybe forms on input (Maybe's only when the object has
// no "_"), and wherever a constructor or function is named, "name",
// "name#tag" and "#tag" all work. It does not fill in missing fields.
//
// Conditional fields (name:mask.N?T) are printed only when their bit is
// set, and the mask field is always printed. On encoding, a mask given in
// the JSON is authoritative: a field present while its bit is clear is
// ErrMask, a field absent while its bit is set is ErrMissing (except a
// ?true field: its bit is its value, so it may be left out; false is
// accepted when the bit is clear). When a '#' field is absent it is
// inferred from the later fields of the same object that use it: the OR
// of the bits of the present conditional fields (a ?true field counts when
// true), or the length of the array it sizes. A '#' used only as a nat
// argument of another type (RpcInvokeReqExtra flags) cannot be inferred
// and must be given. Nat template parameters of a type (masks, sizes) come
// from the type expression or the enclosing fields, never from the JSON.
//
// # Errors and limits
//
// Every error is an *Error carrying the JSON path of the failing value
// (`$.extra.stats.k`, `$.keys[2]`, `$["a b"]`) and, when reading binary, the
// byte offset where that value starts; it wraps a sentinel (ErrJSONType,
// ErrMissing, ErrMask, ErrUnknown, ...) or a package tl reader error
// (tl.ErrTruncated, tl.ErrPadding, ...). Nothing panics on bad input.
// Values nest at most MaxDepth levels; arrays are not preallocated from
// counts, so output grows only with input consumed, and zero-size array
// elements are capped at MaxZeroSize per value. Unknown members, repeated
// members, trailing bytes after a value and data after the JSON value are
// errors. A VK default constructor "_" (ReqResult) is written without a
// tag and chosen when the next word is no other constructor's tag.
//
// A Codec holds no mutable state and may be shared by goroutines.
package tljson

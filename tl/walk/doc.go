// Package walk interprets TL1 bytes against a resolved schema
// (tl/schema): it identifies and validates function calls, finds the byte
// range of an argument, extracts the sharding key (sharding.md §2), splits
// a vector argument into sub-calls, and finds the element boundaries of an
// answer so fan-out merges can concatenate or sum answers without
// re-encoding. It never decodes into Go values and never copies: every
// range and Value.Bytes aliases the caller's buffer.
//
// # Plans and the interpreter
//
// New builds a Walker once per schema. For every function it precomputes a
// fnInfo: functions whose fields are all unconditional primitives (bare or
// boxed int, long, string, #, ...; memcache.get/set/incr) get a flat step
// list that Check, Arg and Keys.Key run without interpretation; the rest
// are walked by the interpreter, tl.md §10:
//
//	field list  -> for each field: mask bit? then
//	  #         -> read uint32 into the frame's slot (for later NatField refs)
//	  !X        -> read a function tag, walk its fields in a new frame,
//	               bind X := (inner.Result, inner frame)
//	  RefParam  -> follow the binding (type ref + the frame it is read in)
//	  RefType   -> tag -> constructor (or rewind to the default "_"), new
//	               frame, bind its params from Args, walk its fields
//	  RefCtor   -> the same without a tag; primitives are read directly
//	  RefArray  -> Scale (const, slot or param) copies of Elem in a frame
//	               that shares the enclosing params
//
// Functions whose arguments are primitives and closed vectors
// (memcache.getMulti keys:%(Vector string)) and results that are closed
// vectors of scalars or of flat constructors (Vector memcache.Value) also
// get skip plans (plan.go): Check, Arg, ArgElems, Split*, CheckResult and
// ResultElems run them without a walk state, and their iterators skip
// elements by the plan (constructor by tag, then its field steps);
// ResultElemsInto keeps where the validating scan found each element's end,
// so iterating a whole answer walks it once, not twice. A plan
// only ever says "valid, ends here": on anything else the interpreter
// walks the same bytes, so what is accepted and every error are the
// interpreter's (TestFastPathMatchesInterpreter, FuzzFastPath).
//
// The walk state (frames, bindings, nat slots, recorded top-level spans) is
// a fixed-size struct taken from a per-Walker sync.Pool, so a walk does not
// allocate; its stacks are bounded (MaxDepth nesting, 256 frames, 512
// bindings, 2048 slots) and exceeding them is ErrLimit/ErrDepth, not a
// panic or a growth.
//
// # Invariants
//
//   - Every entry point validates the whole call first: known tags,
//     canonical strings, zero padding, no trailing bytes (ErrTrailing).
//     Result* methods validate the whole answer, and walk the call too when
//     the answer depends on it (else the call is only identified by tag).
//     Iterators validate before the first element, so a merge never sees
//     half an answer. Hostile input gets an error, never a panic.
//   - An array count is checked against the remaining input after its
//     first element: non-empty TL1 values are whole words, so count-1
//     elements need 4(count-1) bytes; zero-size elements are all alike, so
//     only the first is walked and the count is capped at
//     tl.MaxZeroSizeCount. No loop runs longer than the input allows.
//   - No per-call allocation on success (pinned by AllocsPerRun tests):
//     Key, Arg, Check, Split into a sized buffer, element iteration.
//   - Results are decoded with the request's frame (§3.4): Result* methods
//     take the call they answer.
//
// # API at a glance
//
//	w := walk.New(s)                       // once per schema
//	w.Function(call) / w.Check(call)       // identify / validate a call
//	w.Arg(call, "key")                     // byte range of an argument
//	w.Unwrap(call), w.UnwrapTransparent()  // !X wrappers -> inner call
//	keys, _ := w.Keys(cfg); keys.Key(call) // sharding key (KeyElems for vectors)
//	w.ArgElems(call, "keys")               // iterate a vector argument
//	w.Split(dst, call, "keys", keep)       // one sub-call; SplitBy: all shards at once
//	w.CheckResult / ResultElems / ResultField / ResultValue (call, answer)
//	w.ResultElemsInto(call, answer, &ends) // ResultElems in one pass, ends reused
//	it.Next(), it.Range(), it.Str(), it.Int(), it.Field("name")
//
// # Split
//
// A split sub-call is the original call with the vector's count rewritten
// and only the chosen elements' bytes kept:
//
//	memcache.getMulti ["a" "bb" "c"], keep {0,2}:
//	  in : d978499b | 03000000 | 01610000 02626200 01630000
//	  out: d978499b | 02000000 | 01610000          01630000
//	       tag        count      element ranges copied as they came
//
// # Key
//
// Keys (compiled at config time from function -> argument names) picks the
// first unconditional top-level int/long/string argument (bare or boxed), a
// named one, or else the first vector
// argument (KindVector, iterate with KeyElems), after looking through
// transparent !X wrappers (rpcDest* written as functions).
package walk

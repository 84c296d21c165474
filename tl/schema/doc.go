// Package schema parses TL schemas (VK's dialect and Telegram's), computes
// combinator tags, and resolves declarations into an immutable model that a
// schema-driven walker or codec can interpret without reflection.
//
// # Pipeline
//
//	f, err := schema.Parse("engine.tl", src)      // syntax tree, first error only
//	s, err := schema.Resolve(schema.Prelude(), f) // model, all errors (capped at 50)
//	s, err := schema.Load("a.tl", "b.tl")         // read + ParseAuto + Resolve
//
// Parse is strict VK (tags of exactly 8 lower-case hex digits, // comments);
// ParseDialect(name, src, Telegram) accepts 1-8 digit tags and /* */;
// ParseAuto tries VK, then Telegram. Errors are *Error (file:line:col: msg)
// wrapping a sentinel (ErrSyntax, ErrUnknownType, ...); Resolve returns an
// ErrorList, so errors.Is works on either.
//
// # Tags
//
// Decl.Canonical(RuleVK) is the text of tl.md §4.1; Decl.ComputedTag is its
// CRC32-IEEE. An explicit tag always wins (it is usually not the CRC). The
// Telegram rule (§4.3) keeps '!', drops "name:mask.N?true" fields and writes a
// top-level bytes as string. In a Schema, combinators from Telegram-dialect
// files get computed tags by the Telegram rule, all others by the VK rule.
//
// # Model
//
// A Schema holds Types and Combinators (constructors and functions) with
// lookups by name (Type, Constructor, Function, Combinator) and by wire tag
// (ByTag; constructors and functions share one tag space, tags are unique and
// nonzero). VK's default constructor "_" (Combinator.Default, Type.Default)
// has no wire tag: ByTag and Type.ConstructorByTag never return it.
//
// Every field type is a TypeRef; a walker switches on TypeRef.Kind:
//
//	RefNat    read/write a uint32 (Prim == PrimNat)
//	RefType   boxed: tag, then the constructor's fields (Prim != 0: tag + primitive)
//	RefCtor   bare: the fields of Ctor, no tag (Prim != 0: just the primitive)
//	RefParam  substitute the Arg bound to Combinator.Params[Param]
//	RefArray  Scale times the Elem fields, no count on the wire
//
// Vector is not special: vector#1cb5c415 {t:Type} # [t] resolves to an
// anonymous RefNat field followed by a RefArray whose Scale is
// NatRef{Kind: NatField, Index: 0}; tuple's "{n:#} [t]" gets Scale
// NatRef{Kind: NatParam, Index: 1}.
//
// Nat values (masks, scales, nat arguments) are NatRefs: a constant, a
// previous field of the same field list (NatField, an index into that list;
// inside an array element it indexes Elem), or a nat template parameter of
// the enclosing combinator (NatParam, an index into Combinator.Params).
// A walker therefore keeps, per field list, the uint32 values of the fields
// read so far, plus the combinator's bound params (types and nats), and
// resolves NatRefs against them. Field.Cond (nil = always present) names a
// mask NatRef and a bit 0..31.
//
// Binding template params: for a TypeRef with Type (boxed or bare), Args are
// given in the order of Type.Params; for the chosen constructor c, arg i binds
// c.Params[c.TypeParams[i]]. A param not listed in TypeParams (engine.query's
// X) is bound by its "!X" field: read a function tag, look it up with ByTag
// (it must be a function), walk its fields, and X becomes its Result.
// A function's Result is always boxed; its nat Args may be NatField refs to
// the function's own fields, so decoding a response needs the request's nat
// values (engine.getReadWriteMode fields_mask:# = engine.ReadWriteMode
// fields_mask).
//
// # Invariants
//
// After a successful Resolve: every TypeRef is resolved (no RefInvalid);
// Arg kinds match the params they bind; RefCtor never points at a type with
// more than one constructor; NatField refs point at earlier fields of type
// '#'; mask bits are <= 31; function results are not bare; names and tags are
// unique; only the Default constructor lacks a wire tag. The Schema is never
// modified after Resolve returns and is safe for concurrent readers.
//
// # Prelude and corpus files
//
// Prelude returns a small built-in file (int, long, float, double, string,
// Bool, True, Vector, Tuple, VectorTotal, Dictionary, IntKeyDictionary,
// LongKeyDictionary with their field types, Maybe, Pair, Either, Map).
// Resolve takes a prelude type only if no other file declares that type, a
// constructor of the same name or the same tag, so small engine schemas can
// stand alone while full schemas keep their own definitions. A tag clash
// with a prelude constructor is reported as a duplicate tag, not hidden.
//
// The shared corpus (../shared/tl, pinned by TestCorpusResolve):
//
//	common.tl        resolves alone (declares its builtins, Bool, Vector, ...)
//	rpc.tl           needs the prelude: it uses int, long, double without declaring them
//	engine.tl        needs the prelude (int, string, Vector, Dictionary, True, ...);
//	                 it cannot be combined with common.tl: 18 declarations repeat
//	common.tl+rpc.tl conflict (vector, tuple, ... declared in both)
//	telegram_api.tl  parses in the Telegram dialect only; does not resolve as is:
//	                 tdlib's local invokeWith*Prefix functions reuse the tags of
//	                 invokeWith*, 4 duplicate-tag errors; without them it resolves
//
// # Limits
//
// Inside brackets, masks and sizes may refer to earlier fields of the same
// brackets or to template params, not to fields outside the brackets. Parser
// nesting is limited to 64 levels. Resolve stops collecting after 50 errors.
package schema

package walk

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// Limits of one walk. They bound both the Go stack (MaxDepth) and the
// fixed-size arrays of the walk state, so hostile input can neither recurse
// without end nor make the walker allocate.
const (
	// MaxDepth bounds the nesting of values (constructors, arrays, !X
	// calls) in one walk.
	MaxDepth = 64
	// MaxTopFields is the number of top-level fields whose byte ranges a
	// call walk records; arguments past it cannot be named by Arg or Split.
	MaxTopFields = 64

	maxFrames = 256
	maxParams = 512
	maxSlots  = 2048
)

// binding is the value of one template parameter: a nat, or a type
// reference together with the frame it must be interpreted in (its Args
// may name fields and params of that frame).
type binding struct {
	ref *schema.TypeRef
	env int32
	nat uint32
}

// frame is one field list being walked: the bindings of the combinator's
// params and the uint32 values of the list's fields read so far (NatField
// refs index them). Array elements get a frame of their own that shares the
// params of the frame that holds the array.
type frame struct {
	params int32
	slots  int32
}

// span is the byte range of a recorded field; start < 0 means absent.
type span struct{ start, end int32 }

// state is the reusable, fixed-size scratch of one walk. Frames, bindings
// and slots are stacks: a constructor pops everything it pushed when it is
// done, except that a function's frame (and the frames of its !X calls)
// stay until reset, because the result is decoded in that frame.
type state struct {
	w       *Walker
	b       []byte
	depth   int
	nframes int32
	nparams int32
	nslots  int32
	// rec is the frame whose fields are recorded into spans, or -1.
	rec    int32
	spans  [MaxTopFields]span
	frames [maxFrames]frame
	params [maxParams]binding
	slots  [maxSlots]uint32
}

func (st *state) reset(b []byte) {
	st.b = b
	st.depth = 0
	st.nframes, st.nparams, st.nslots = 0, 0, 0
	st.rec = -1
}

// mark is a stack position to pop back to.
type mark struct{ frames, params, slots int32 }

func (st *state) mark() mark { return mark{st.nframes, st.nparams, st.nslots} }

func (st *state) popTo(m mark) { st.nframes, st.nparams, st.nslots = m.frames, m.params, m.slots }

// push adds a frame with nparams fresh (unbound) params, or sharing the
// params of frame share when share >= 0, and nslots zeroed slots.
func (st *state) push(nparams, nslots int, share int32) (int32, error) {
	if st.nframes >= maxFrames || int(st.nslots)+nslots > maxSlots ||
		(share < 0 && int(st.nparams)+nparams > maxParams) {
		return 0, fmt.Errorf("%w: %d frames, %d params, %d slots", ErrLimit, st.nframes, st.nparams, st.nslots)
	}
	f := st.nframes
	fr := &st.frames[f]
	if share >= 0 {
		fr.params = st.frames[share].params
	} else {
		fr.params = st.nparams
		clear(st.params[st.nparams : int(st.nparams)+nparams])
		st.nparams += int32(nparams)
	}
	fr.slots = st.nslots
	clear(st.slots[st.nslots : int(st.nslots)+nslots])
	st.nslots += int32(nslots)
	st.nframes++
	return f, nil
}

// nat resolves a nat reference in frame env.
func (st *state) nat(n schema.NatRef, env int32) uint32 {
	switch n.Kind {
	case schema.NatConst:
		return n.Value
	case schema.NatField:
		return st.slots[st.frames[env].slots+int32(n.Index)]
	case schema.NatParam:
		return st.params[st.frames[env].params+int32(n.Index)].nat
	}
	return 0
}

// param returns the binding of param i of frame env.
func (st *state) param(env int32, i int) *binding {
	return &st.params[st.frames[env].params+int32(i)]
}

// resolve follows template parameters until ref is concrete. bare is true
// when some step was spelled %X: a boxed argument is then read bare.
func (st *state) resolve(ref *schema.TypeRef, env int32, bare bool) (*schema.TypeRef, int32, bool, error) {
	for range MaxDepth {
		if ref.Kind != schema.RefParam {
			return ref, env, bare, nil
		}
		b := st.param(env, ref.Param)
		if b.ref == nil {
			return nil, 0, false, fmt.Errorf("%w (param %d)", ErrUnbound, ref.Param)
		}
		bare = bare || ref.Bare
		ref, env = b.ref, b.env
	}
	return nil, 0, false, ErrDepth
}

// bind binds c's type params (frame f) to args interpreted in argEnv.
// Params bound by a !X field stay unbound until that field is read.
func (st *state) bind(c *schema.Combinator, f int32, args []schema.Arg, argEnv int32) error {
	if len(args) < len(c.TypeParams) {
		return fmt.Errorf("%w: %s has %d template arguments, wants %d", ErrUnsupported, c.Name, len(args), len(c.TypeParams))
	}
	for i, pi := range c.TypeParams {
		a := &args[i]
		b := st.param(f, pi)
		if a.Nat {
			b.nat = st.nat(a.NatVal, argEnv)
			continue
		}
		b.ref, b.env = a.Type, argEnv
	}
	return nil
}

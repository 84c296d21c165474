package tljson

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"
)

// Round-trip bounds: samples kept per type or function, seeds tried.
const (
	samplesPerType = 4
	attemptsLimit  = 60
)

// roundTrip checks bin -> JSON -> bin byte for byte and JSON -> bin ->
// JSON text for text.
func roundTrip(t *testing.T, c *Codec, what string, bin []byte,
	decode func([]byte) ([]byte, error), encode func([]byte) ([]byte, error)) bool {
	t.Helper()
	js, err := decode(bin)
	if err != nil {
		t.Errorf("%s: decode %x: %v", what, bin, err)
		return false
	}
	if !json.Valid(js) {
		t.Errorf("%s: invalid JSON %s", what, js)
		return false
	}
	bin2, err := encode(js)
	if err != nil {
		t.Errorf("%s: encode %s: %v", what, js, err)
		return false
	}
	if !bytes.Equal(bin, bin2) {
		t.Errorf("%s: binary round trip\n in %x\nout %x\njson %s", what, bin, bin2, js)
		return false
	}
	js2, err := decode(bin2)
	if err != nil || !bytes.Equal(js, js2) {
		t.Errorf("%s: JSON round trip: %v\n in %s\nout %s", what, err, js, js2)
		return false
	}
	return true
}

type coverage struct {
	types, typeSamples, bareTypes, funcs, results int
	skipped                                       []string
}

// checkSchemaRoundTrip generates values of every type (boxed, and bare
// when it has one constructor), every function call and a result for each,
// and round-trips them.
func checkSchemaRoundTrip(t *testing.T, c *Codec, seed uint64) coverage {
	var cov coverage
	g := &gen{c: c, maxDepth: 5, maxBytes: 1 << 16, cost: newCosts(c.s)}
	pool := argPool(c)
	for ti, typ := range c.s.Types {
		if len(typ.Constructors) == 0 {
			continue
		}
		ok := 0
		bareOK := 0
		for a := 0; a < attemptsLimit && ok < samplesPerType; a++ {
			g.r = rand.New(rand.NewPCG(seed, uint64(ti)<<16|uint64(a)))
			ty := &Type{typ: typ, args: g.randomArgs(typ, pool)}
			if a%2 == 1 && len(typ.Constructors) == 1 {
				ty = &Type{typ: typ, ctor: typ.Constructors[0], args: ty.args}
			}
			g.out = g.out[:0]
			if err := g.value(ty); err != nil {
				if !errors.Is(err, errRetry) {
					t.Fatalf("gen %s: %v", ty, err)
				}
				continue
			}
			bin := append([]byte(nil), g.out...)
			if !roundTrip(t, c, ty.String(), bin,
				func(b []byte) ([]byte, error) { return c.DecodeValue(ty, b) },
				func(js []byte) ([]byte, error) { return c.EncodeValue(nil, ty, js) }) {
				break
			}
			ok++
			if ty.ctor != nil {
				bareOK++
			}
		}
		if ok == 0 {
			cov.skipped = append(cov.skipped, typ.Name)
			continue
		}
		cov.types++
		cov.typeSamples += ok
		if bareOK > 0 {
			cov.bareTypes++
		}
	}
	for fi, fn := range c.s.Combinators {
		if !fn.Function {
			continue
		}
		ok, resOK := 0, 0
		for a := 0; a < attemptsLimit && ok < samplesPerType; a++ {
			g.r = rand.New(rand.NewPCG(seed+1, uint64(fi)<<16|uint64(a)))
			g.out = g.out[:0]
			if _, _, _, err := g.call(fn); err != nil {
				continue
			}
			req := append([]byte(nil), g.out...)
			if !roundTrip(t, c, fn.Name, req, c.DecodeCall,
				func(js []byte) ([]byte, error) { return c.EncodeCall(nil, fn, js) }) {
				break
			}
			ok++
			rt, err := c.ResultType(fn, req)
			if err != nil {
				t.Errorf("%s: result type: %v", fn.Name, err)
				break
			}
			g.out = g.out[:0]
			if err := g.value(rt); err != nil {
				continue
			}
			resp := append([]byte(nil), g.out...)
			if roundTrip(t, c, fn.Name+" result "+rt.String(), resp,
				func(b []byte) ([]byte, error) { return c.DecodeResult(fn, req, b) },
				func(js []byte) ([]byte, error) { return c.EncodeValue(nil, rt, js) }) {
				resOK++
			}
		}
		if ok == 0 {
			cov.skipped = append(cov.skipped, fn.Name+"()")
			continue
		}
		cov.funcs++
		if resOK > 0 {
			cov.results++
		}
	}
	return cov
}

func TestRoundTripCorpus(t *testing.T) {
	tests := []struct {
		name  string
		codec func(t testing.TB) *Codec
	}{
		{"common.tl", func(t testing.TB) *Codec { return corpusCodec(t, "common.tl") }},
		{"engine.tl", func(t testing.TB) *Codec { return corpusCodec(t, "engine.tl") }},
		{"rpc.tl", func(t testing.TB) *Codec { return corpusCodec(t, "rpc.tl") }},
		{"telegram_api.tl", func(t testing.TB) *Codec { return corpusCodec(t, "telegram_api.tl") }},
		{"memcache.tl", memcacheCodec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.codec(t)
			cov := checkSchemaRoundTrip(t, c, 1)
			nTypes, nFuncs := 0, 0
			for _, typ := range c.s.Types {
				if len(typ.Constructors) > 0 {
					nTypes++
				}
			}
			for _, cb := range c.s.Combinators {
				if cb.Function {
					nFuncs++
				}
			}
			t.Logf("%s: types %d/%d (%d samples, %d also bare), functions %d/%d (%d with results), skipped %v",
				tc.name, cov.types, nTypes, cov.typeSamples, cov.bareTypes, cov.funcs, nFuncs, cov.results, cov.skipped)
			if len(cov.skipped) > 0 {
				t.Errorf("no value generated for %v", cov.skipped)
			}
		})
	}
}

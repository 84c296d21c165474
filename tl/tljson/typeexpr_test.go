package tljson

import (
	"errors"
	"strings"
	"testing"
)

func TestParseType(t *testing.T) {
	c := memcacheCodec(t)
	tests := []struct {
		expr, want, err string
	}{
		{expr: "int", want: "int"},
		{expr: "Int", want: "Int"},
		{expr: "#", want: "#"},
		{expr: "memcache.Value", want: "memcache.Value"},
		{expr: "memcache.strvalue", want: "memcache.strvalue"},
		{expr: "Vector memcache.Value", want: "Vector memcache.Value"},
		{expr: " ( Vector  int ) ", want: "Vector int"},
		{expr: "%(Dictionary long)", want: "dictionary long"},
		{expr: "%Dictionary long", want: "dictionary long"},
		{expr: "Tuple (Vector %True) 3", want: "Tuple (Vector true) 3"},
		{expr: "Maybe (Maybe #)", want: "Maybe (Maybe #)"},
		{expr: "Pair int (Either string Bool)", want: "Pair int (Either string Bool)"},
		{expr: "", err: "unexpected end"},
		{expr: "Vector", err: "Vector takes 1 arguments, got 0"},
		{expr: "int int", err: "int takes 0 arguments, got 1"},
		{expr: "Tuple int int", err: "argument n of Tuple must be a number"},
		{expr: "Vector 3", err: "number 3 where a type belongs"},
		{expr: "3", err: "number 3 where a type belongs"},
		{expr: "# int", err: "# takes no arguments"},
		{expr: "Nope", err: "unknown type Nope"},
		{expr: "nope", err: "unknown constructor nope"},
		{expr: "memcache.get", err: "unknown constructor memcache.get"},
		{expr: "%memcache.Value", err: "bare reference to memcache.Value, which has 3 constructors"},
		{expr: "(Vector int", err: "want ')'"},
		{expr: "Vector int)", err: `unexpected ')'`},
		{expr: "Vector <int>", err: `unexpected '<'`},
		{expr: "Tuple int 99999999999", err: "out of range"},
		{expr: strings.Repeat("(", 40) + "int" + strings.Repeat(")", 40), err: "nested deeper than 32"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			ty, err := c.ParseType(tc.expr)
			if tc.err != "" {
				if !errors.Is(err, ErrTypeExpr) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want ErrTypeExpr containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ty.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTypeOf(t *testing.T) {
	c := memcacheCodec(t)
	tests := []struct {
		fn, want, err string
	}{
		{fn: "memcache.getMulti", want: "Vector memcache.Value"},
		{fn: "memcache.set", want: "Bool"},
	}
	for _, tc := range tests {
		ty, err := c.TypeOf(c.s.Function(tc.fn).Result)
		if err != nil || ty.String() != tc.want {
			t.Errorf("TypeOf(%s result) = %v, %v; want %s", tc.fn, ty, err, tc.want)
		}
	}
	cc := corpusCodec(t, "common.tl")
	if _, err := cc.TypeOf(cc.s.Function("rpcInvokeReq").Result); !errors.Is(err, ErrTypeExpr) || !strings.Contains(err.Error(), "is not bound") {
		t.Errorf("TypeOf(RpcReqResult X) = %v, want ErrTypeExpr: not bound", err)
	}
	key := cc.s.Constructor("dictionaryField").Fields[0].Type
	if ty, err := cc.TypeOf(&key); err != nil || ty.String() != "string" {
		t.Errorf("TypeOf(key) = %v, %v", ty, err)
	}
}

func TestZeroType(t *testing.T) {
	c := memcacheCodec(t)
	for _, ty := range []*Type{nil, {}} {
		if _, err := c.DecodeValue(ty, nil); !errors.Is(err, ErrTypeExpr) {
			t.Errorf("DecodeValue(%v) = %v", ty, err)
		}
		if _, err := c.EncodeValue(nil, ty, []byte("1")); !errors.Is(err, ErrTypeExpr) {
			t.Errorf("EncodeValue(%v) = %v", ty, err)
		}
	}
}

package walk

import (
	"errors"
	"testing"
)

func TestKey(t *testing.T) {
	w := srcWalker(t, diagonalSrc)
	keys, err := w.Keys(map[string]string{"test.named": "name"})
	if err != nil {
		t.Fatal(err)
	}
	tag := func(n string) enc { return enc(nil).tag(tagOf(t, w, n)) }
	tests := []struct {
		name string
		call []byte
		kind Kind
		i    int64
		s    string
		err  error
	}{
		{"get", tag("memcache.get").str("foo"), KindString, 0, "foo", nil},
		{"long", tag("test.byId").i64(-5).str("x"), KindLong, -5, "", nil},
		{"named", tag("test.named").i32(7).str("bob"), KindString, 0, "bob", nil},
		{"boxed Long", tag("test.boxed").tag(0x22076cba).i64(9), KindLong, 9, "", nil},
		{"vector", tag("memcache.getMulti").strs("a", "b"), KindVector, 0, "", nil},
		{"conditional skipped, absent", tag("test.mask").u32(0).i32(3), KindInt, 3, "", nil},
		{"conditional skipped, present", tag("test.mask").u32(1).str("k").i32(3), KindInt, 3, "", nil},
		{"array key", tag("test.points").u32(0).u32(1).i64(4), KindVector, 0, "", nil},
		{"no key", tag("test.nothing").u32(0), KindNone, 0, "", ErrNoKey},
		{"truncated", tag("memcache.get").u32(5), KindNone, 0, "", errTruncated},
		{"trailing", tag("memcache.get").str("foo").u32(0), KindNone, 0, "", ErrTrailing},
		{"unknown", enc(nil).tag(1), KindNone, 0, "", ErrUnknownFunction},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := keys.Key(tc.call)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if v.Kind != tc.kind || v.Int != tc.i || string(v.Bytes) != tc.s {
				t.Fatalf("key = %+v", v)
			}
			if v.Start < 4 || v.End > len(tc.call) || v.Start >= v.End {
				t.Fatalf("range %d..%d", v.Start, v.End)
			}
		})
	}
}

func TestKeysConfig(t *testing.T) {
	w := srcWalker(t, diagonalSrc)
	tests := []struct {
		name string
		cfg  map[string]string
		err  error
	}{
		{"ok", map[string]string{"memcache.getMulti": "keys", "test.byId": "name"}, nil},
		{"unknown function", map[string]string{"memcache.nope": "key"}, ErrUnknownFunction},
		{"unknown argument", map[string]string{"memcache.get": "nope"}, ErrNoArg},
		{"nat argument", map[string]string{"test.mask": "fm"}, ErrType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := w.Keys(tc.cfg); !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestKeyElems(t *testing.T) {
	w := srcWalker(t, diagonalSrc)
	keys, _ := w.Keys(nil)
	call := enc(nil).tag(tagOf(t, w, "memcache.getMulti")).strs("alpha", "", "gamma")
	it, err := keys.KeyElems(call)
	if err != nil {
		t.Fatal(err)
	}
	got := keyStrings(t, it)
	if len(got) != 3 || got[0] != "alpha" || got[1] != "" || got[2] != "gamma" {
		t.Fatalf("keys %q", got)
	}
	// Boxed Long elements carry their tag; ranges include it.
	call = enc(nil).tag(tagOf(t, w, "test.boxedVec")).i32(1).tag(0x1cb5c415).u32(2).tag(0x22076cba).i64(10).tag(0x22076cba).i64(-20).str("z")
	it, err = w.ArgElems(call, "keys")
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for it.Next() {
		v, ok := it.Value()
		s, e := it.Range()
		if !ok || v.Kind != KindLong || e-s != 12 {
			t.Fatalf("element %+v %d..%d", v, s, e)
		}
		sum += v.Int
	}
	if sum != -10 || it.Err() != nil {
		t.Fatalf("sum %d err %v", sum, it.Err())
	}
	if _, err := w.ArgElems(call, "pre"); !errors.Is(err, ErrNotVector) {
		t.Fatalf("int as vector: %v", err)
	}
}

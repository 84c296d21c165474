package tl

import (
	"strings"
	"testing"
)

func BenchmarkAppendString(b *testing.B) {
	s := strings.Repeat("k", 40)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendString(buf[:0], s)
	}
}

func BenchmarkReadBytes(b *testing.B) {
	in := AppendString(nil, strings.Repeat("k", 40))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ReadBytes(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendInt(b *testing.B) {
	buf := make([]byte, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendInt64(AppendInt32(buf[:0], 7), -7)
	}
}

func BenchmarkReadInt(b *testing.B) {
	in := AppendInt64(AppendInt32(nil, 7), -7)
	b.ReportAllocs()
	for b.Loop() {
		_, r, err := ReadInt32(in)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err = ReadInt64(r); err != nil {
			b.Fatal(err)
		}
	}
}

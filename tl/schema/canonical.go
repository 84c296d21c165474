package schema

import (
	"hash/crc32"
	"strconv"
	"strings"
)

// Rule selects how the canonical text of a declaration is built.
type Rule uint8

const (
	// RuleVK is tl.md §4.1: '!' dropped, '?true' fields kept.
	RuleVK Rule = iota
	// RuleTelegram is tl.md §4.3: '!' kept, "name:mask.N?true" fields
	// dropped, a top-level field type "bytes" written as "string".
	RuleTelegram
)

// Canonical returns the text whose CRC32 is the declaration's computed tag.
// Annotations and any explicit tag are not part of it.
func (d *Decl) Canonical(r Rule) string {
	var b strings.Builder
	b.WriteString(d.Name)
	for _, prm := range d.Params {
		b.WriteByte(' ')
		b.WriteString(prm.Name)
		if prm.Nat {
			b.WriteString(":#")
		} else {
			b.WriteString(":Type")
		}
	}
	if d.Builtin {
		b.WriteString(" ?")
	}
	for _, f := range d.Fields {
		if r == RuleTelegram && f.HasMask && f.Type.Kind == TermName && f.Type.Name == "true" && len(f.Type.Args) == 0 {
			continue
		}
		b.WriteByte(' ')
		writeField(&b, f, r, true)
	}
	b.WriteString(" = ")
	if d.Function {
		writeTerm(&b, d.Result)
	} else {
		b.WriteString(d.Result.Name)
		for _, a := range d.Result.Args {
			b.WriteByte(' ')
			b.WriteString(a.Name)
		}
	}
	return b.String()
}

// ComputedTag returns crc32-IEEE of the canonical text under rule r.
func (d *Decl) ComputedTag(r Rule) uint32 {
	return crc32.ChecksumIEEE([]byte(d.Canonical(r)))
}

// EffectiveTag is the explicit tag if written, else the computed one.
func (d *Decl) EffectiveTag(r Rule) uint32 {
	if d.HasTag {
		return d.Tag
	}
	return d.ComputedTag(r)
}

func writeField(b *strings.Builder, f *FieldDecl, r Rule, top bool) {
	if f.Name != "" {
		b.WriteString(f.Name)
		b.WriteByte(':')
	}
	if f.HasMask {
		b.WriteString(f.Mask)
		b.WriteByte('.')
		b.WriteString(strconv.FormatUint(uint64(f.Bit), 10))
		b.WriteByte('?')
	}
	if f.Excl && r == RuleTelegram {
		b.WriteByte('!')
	}
	if r == RuleTelegram && top && f.Type.Kind == TermName && f.Type.Name == "bytes" && len(f.Type.Args) == 0 {
		b.WriteString("string")
		return
	}
	if f.Type.Kind == TermArray {
		writeArray(b, f.Type, r)
		return
	}
	writeTerm(b, f.Type)
}

func writeArray(b *strings.Builder, t *Term, r Rule) {
	if t.Scale != nil {
		writeTerm(b, t.Scale)
		b.WriteByte('*')
	}
	b.WriteByte('[')
	for _, f := range t.Fields {
		b.WriteByte(' ')
		writeField(b, f, r, false)
	}
	b.WriteString(" ]")
}

// writeTerm renders a term with parentheses and angle brackets removed and
// '%' kept only before names whose local part is not lower-case.
func writeTerm(b *strings.Builder, t *Term) {
	switch t.Kind {
	case TermNat:
		b.WriteByte('#')
	case TermNum:
		b.WriteString(strconv.FormatUint(uint64(t.Num), 10))
	case TermArray:
		writeArray(b, t, RuleVK)
	case TermName:
		if t.Bare && !lowerFirst(localName(t.Name)) {
			b.WriteByte('%')
		}
		b.WriteString(t.Name)
		for _, a := range t.Args {
			b.WriteByte(' ')
			writeTerm(b, a)
		}
	}
}

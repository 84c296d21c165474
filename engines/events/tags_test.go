package events

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/engines/memcache"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// tags is every combinator of events.tl with the constant the code uses.
var tags = map[string]uint32{
	"events.event": TagEvent,
	"events.add":   TagAdd, "events.delete": TagDelete, "events.list": TagList,
	"events.search": TagSearch, "events.listAll": TagListAll, "events.count": TagCount,
	"events.textBytes": TagTextBytes, "events.minTs": TagMinTs, "events.maxTs": TagMaxTs,
	"events.has": TagHas, "events.allMatch": TagAllMatch, "events.firstMatch": TagFirstMatch,
}

// TestTags: the constants are the tags the schema package computes from
// events.tl (VK rule), events.tl declares nothing the code lacks, Funcs
// serves exactly its functions, and writes are marked @write.
func TestTags(t *testing.T) {
	sc, err := schema.LoadWithPrelude(filepath.Join(".", "events.tl"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tag := range tags {
		c := sc.Combinator(name)
		switch {
		case c == nil:
			t.Errorf("%s not in events.tl", name)
		case c.ExplicitTag:
			t.Errorf("%s has an explicit tag; events.tl relies on computed ones", name)
		case c.Tag != tag:
			t.Errorf("%s: schema tag %08x (%q), code %08x", name, c.Tag, c.Canonical, tag)
		}
	}
	funcs := 0
	for _, c := range sc.Combinators {
		if !strings.HasPrefix(c.Name, "events.") {
			continue
		}
		if _, ok := tags[c.Name]; !ok {
			t.Errorf("%s in events.tl has no constant", c.Name)
		}
		if c.Function {
			funcs++
			want := schema.AnnotRead
			if c.Name == "events.add" || c.Name == "events.delete" {
				want = schema.AnnotWrite
			}
			if c.Flags != want {
				t.Errorf("%s: flags %d, want %d", c.Name, c.Flags, want)
			}
		}
	}
	s, _ := newStore(t, Config{})
	if len(s.Funcs()) != funcs {
		t.Errorf("Funcs has %d functions, events.tl %d", len(s.Funcs()), funcs)
	}
	for _, f := range s.Funcs() {
		if c := sc.Function(f.Name); c == nil || c.Tag != f.Tag {
			t.Errorf("Func %s %08x does not match the schema", f.Name, f.Tag)
		}
	}
}

// TestSchemasTogether: the proxy loads several engine schemas at once, so
// events.tl, memcache.tl and engines/engine.tl must resolve together
// (Resolve refuses a repeated name or tag), and every engine's Funcs tag
// must be its own function's in the combined schema.
func TestSchemasTogether(t *testing.T) {
	sc, err := schema.LoadWithPrelude("events.tl", filepath.Join("..", "memcache", "memcache.tl"), filepath.Join("..", "engine.tl"))
	if err != nil {
		t.Fatal(err)
	}
	es, _ := newStore(t, Config{})
	ms, err := memcache.New(memcache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	all := append(es.Funcs(), ms.Funcs()...)
	all = append(all, engines.Func{Name: "engine.debugSetFaults", Tag: engines.TagDebugSetFaults})
	for _, f := range all {
		c := sc.ByTag(f.Tag)
		if c == nil || c.Name != f.Name || !c.Function {
			t.Errorf("tag %08x: combined schema has %v, want function %s", f.Tag, c, f.Name)
		}
	}
	for name, tag := range tags {
		if c := sc.ByTag(tag); c == nil || c.Name != name {
			t.Errorf("%s %08x: combined schema has %v", name, tag, c)
		}
	}
}

// TestMergesMatchSchema: Merges says what the "Merge:" comments of
// events.tl say, every other function is documented as single-shard, and
// the sorted field and limit argument exist in the schema.
func TestMergesMatchSchema(t *testing.T) {
	src, err := os.ReadFile("events.tl")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{} // function -> strategy or "single"
	var block []string
	for _, line := range strings.Split(string(src), "\n") {
		switch {
		case strings.HasPrefix(line, "//"):
			block = append(block, line)
		case strings.HasPrefix(line, "@"):
			name := strings.Fields(line)[1]
			text := strings.Join(block, " ")
			if _, after, ok := strings.Cut(text, "// Merge: "); ok {
				documented[name] = strings.TrimRight(strings.Fields(after)[0], ".")
			} else if strings.Contains(text, "Single shard, by key.") {
				documented[name] = "single"
			}
			block = nil
		default:
			block = nil
		}
	}
	sc, err := schema.LoadWithPrelude("events.tl")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{"events.add": "single", "events.delete": "single", "events.list": "single"}
	for _, m := range Merges() {
		got[m.Function] = m.Strategy
		fn := sc.Function(m.Function)
		if fn == nil {
			t.Errorf("%s not in events.tl", m.Function)
			continue
		}
		if m.Strategy != "sorted" {
			continue
		}
		if !slices.ContainsFunc(sc.Constructor("events.event").Fields, func(f schema.Field) bool { return f.Name == m.Field }) {
			t.Errorf("%s: events.event has no field %q", m.Function, m.Field)
		}
		if !slices.ContainsFunc(fn.Fields, func(f schema.Field) bool { return f.Name == m.LimitArg }) {
			t.Errorf("%s: no argument %q", m.Function, m.LimitArg)
		}
	}
	if !maps.Equal(got, documented) || len(documented) != len(tags)-1 {
		t.Fatalf("Merges %v\nevents.tl %v", got, documented)
	}
}

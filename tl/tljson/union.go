package tljson

import (
	"strconv"
	"strings"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// pick chooses the constructor of boxed type typ that j names and returns
// the JSON holding its fields. A single-constructor type needs no name. A
// union takes, in this package's form, {"_":"name", fields...} or "name"
// for a constructor without fields; it also accepts the forms of VK's
// tlgen JSON (TLJSON.md in VKCOM/tl): {"type":"name#tag","value":{...}},
// enum strings "name#tag" or "#tag", and for Maybe {"ok":true,"value":v}
// or {} when the object has no "_".
func (en *encoder) pick(typ *schema.Type, j *jvalue) (*schema.Combinator, *jvalue, error) {
	if len(typ.Constructors) == 1 {
		return typ.Constructors[0], j, nil
	}
	empty := &jvalue{kind: jObject}
	switch j.kind {
	case jString:
		c, err := en.ctorNamed(typ, j.s)
		return c, empty, err
	case jObject:
		if nm := j.get("_"); nm != nil {
			if nm.kind != jString {
				return nil, nil, en.fail(ErrJSONType, `"_" is %s, want a constructor name of %s`, describe(nm), typ.Name)
			}
			c, err := en.ctorNamed(typ, nm.s)
			return c, j, err
		}
		if c, body, ok, err := en.vkUnion(typ, j); ok || err != nil {
			return c, body, err
		}
		if c, body, ok, err := en.vkMaybe(typ, j); ok || err != nil {
			return c, body, err
		}
		return nil, nil, en.fail(ErrMissing, `want "_" naming a constructor of %s (%s)`, typ.Name, ctorNames(typ))
	}
	return nil, nil, en.fail(ErrJSONType, `want {"_":"constructor",...} for %s, got %s`, typ.Name, describe(j))
}

// ctorNamed finds the constructor of typ that ref names (see refersTo).
func (en *encoder) ctorNamed(typ *schema.Type, ref string) (*schema.Combinator, error) {
	for _, c := range typ.Constructors {
		if refersTo(c, ref) {
			return c, nil
		}
	}
	return nil, en.fail(ErrUnknown, "%q is not a constructor of %s (%s)", ref, typ.Name, ctorNames(typ))
}

// refersTo reports whether ref names c as "name", "name#tag" or "#tag"
// (tag in 8 lower- or upper-case hex digits). The default constructor has
// no tag to name it by.
func refersTo(c *schema.Combinator, ref string) bool {
	name, tagText, hasTag := strings.Cut(ref, "#")
	if !hasTag {
		return name == c.Name
	}
	if name != "" && name != c.Name || c.Default || len(tagText) != 8 {
		return false
	}
	tag, err := strconv.ParseUint(tagText, 16, 32)
	return err == nil && uint32(tag) == c.Tag
}

// vkUnion accepts {"type":"name#tag","value":{...}}; ok is false when j
// does not have that shape.
func (en *encoder) vkUnion(typ *schema.Type, j *jvalue) (*schema.Combinator, *jvalue, bool, error) {
	tv := j.get("type")
	if tv == nil || tv.kind != jString {
		return nil, nil, false, nil
	}
	body := &jvalue{kind: jObject}
	for _, m := range j.obj {
		switch m.key {
		case "type":
		case "value":
			body = m.val
		default:
			return nil, nil, false, nil
		}
	}
	c, err := en.ctorNamed(typ, tv.s)
	if err != nil {
		return nil, nil, true, err
	}
	np := len(en.p)
	en.p = en.p.field("value")
	defer func() { en.p = en.p[:np] }()
	if body.kind != jObject && shapeOf(c.Fields) == shapeObject {
		return nil, nil, true, en.fail(ErrJSONType, "want an object, got %s", describe(body))
	}
	return c, body, true, nil
}

// vkMaybe accepts VK's Maybe form: {} is resultFalse, {"ok":true,
// "value":v} or {"value":v} is resultTrue with result v.
func (en *encoder) vkMaybe(typ *schema.Type, j *jvalue) (*schema.Combinator, *jvalue, bool, error) {
	no, yes := typ.ConstructorByTag(tl.TagMaybeFalse), typ.ConstructorByTag(tl.TagMaybeTrue)
	if no == nil || yes == nil || len(typ.Constructors) != 2 || len(yes.Fields) != 1 || yes.Fields[0].Name == "" {
		return nil, nil, false, nil
	}
	var ok, val *jvalue
	for _, m := range j.obj {
		switch m.key {
		case "ok":
			ok = m.val
		case "value":
			val = m.val
		default:
			return nil, nil, false, nil
		}
	}
	if ok != nil && ok.kind != jBool {
		return nil, nil, true, en.fail(ErrJSONType, `"ok" is %s, want true or false`, describe(ok))
	}
	switch {
	case val != nil && ok != nil && !ok.b:
		return nil, nil, true, en.fail(ErrJSONType, `"ok" is false but "value" is given`)
	case val == nil && (ok == nil || !ok.b):
		return no, &jvalue{kind: jObject}, true, nil
	case val == nil:
		return nil, nil, true, en.fail(ErrMissing, `"ok" is true but "value" is missing`)
	}
	return yes, &jvalue{kind: jObject, obj: []member{{key: yes.Fields[0].Name, val: val}}}, true, nil
}

// functionNamed finds a function by "name", "name#tag" or "#tag".
func (c *Codec) functionNamed(ref string) *schema.Combinator {
	if fn := c.s.Function(ref); fn != nil {
		return fn
	}
	if _, tagText, ok := strings.Cut(ref, "#"); ok {
		if tag, err := strconv.ParseUint(tagText, 16, 32); err == nil {
			if fn := c.s.ByTag(uint32(tag)); fn != nil && fn.Function && refersTo(fn, ref) {
				return fn
			}
		}
	}
	return nil
}

package tljson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// jkind is the kind of a parsed JSON value.
type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

func (k jkind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

// jvalue is a parsed JSON value. Objects keep their members in input order,
// duplicates included: a TL dictionary is an ordered list that may repeat
// keys, and encoding/json's maps would lose both.
type jvalue struct {
	kind jkind
	b    bool
	s    string // number text or string contents
	arr  []*jvalue
	obj  []member
}

type member struct {
	key string
	val *jvalue
}

// get returns the first member named key, or nil.
func (v *jvalue) get(key string) *jvalue {
	for _, m := range v.obj {
		if m.key == key {
			return m.val
		}
	}
	return nil
}

// parseJSON parses one JSON value that must fill the whole input. Nesting
// is bounded by maxDepth; the tree costs memory proportional to the input.
func parseJSON(data []byte, maxDepth int) (*jvalue, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec, 0, maxDepth)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Offset: -1, Err: ErrSyntax,
			Msg: fmt.Sprintf("JSON: data after the value at byte %d", dec.InputOffset())}
	}
	return v, nil
}

func parseValue(dec *json.Decoder, depth, maxDepth int) (*jvalue, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(dec, err)
	}
	switch t := tok.(type) {
	case nil:
		return &jvalue{kind: jNull}, nil
	case bool:
		return &jvalue{kind: jBool, b: t}, nil
	case json.Number:
		return &jvalue{kind: jNumber, s: string(t)}, nil
	case string:
		return &jvalue{kind: jString, s: t}, nil
	case json.Delim:
		if t != '[' && t != '{' {
			return nil, &Error{Offset: -1, Err: ErrSyntax, Msg: fmt.Sprintf("JSON: unexpected %q near byte %d", rune(t), dec.InputOffset())}
		}
		if depth >= maxDepth {
			return nil, &Error{Offset: -1, Err: ErrDepth,
				Msg: fmt.Sprintf("JSON nests deeper than %d at byte %d", maxDepth, dec.InputOffset())}
		}
		if t == '[' {
			v := &jvalue{kind: jArray}
			for dec.More() {
				e, err := parseValue(dec, depth+1, maxDepth)
				if err != nil {
					return nil, err
				}
				v.arr = append(v.arr, e)
			}
			_, err := dec.Token() // ']'
			return v, syntaxError(dec, err)
		}
		v := &jvalue{kind: jObject}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, syntaxError(dec, err)
			}
			key, _ := k.(string) // the decoder only yields strings as keys
			e, err := parseValue(dec, depth+1, maxDepth)
			if err != nil {
				return nil, err
			}
			v.obj = append(v.obj, member{key: key, val: e})
		}
		_, err := dec.Token() // '}'
		return v, syntaxError(dec, err)
	}
	return nil, &Error{Offset: -1, Err: ErrSyntax, Msg: fmt.Sprintf("JSON: unexpected token %v", tok)}
}

func syntaxError(dec *json.Decoder, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return &Error{Offset: -1, Err: ErrSyntax, Msg: fmt.Sprintf("JSON: %v (near byte %d)", err, dec.InputOffset())}
}

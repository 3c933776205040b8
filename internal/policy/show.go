package policy

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EffectiveYAML returns the policy as YAML with every default filled in:
// what `vpo policy show` prints. Parsing the result gives the same policy.
func (p *Policy) EffectiveYAML() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode policy %s: %w", p.File, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode policy %s: %w", p.File, err)
	}
	return b.Bytes(), nil
}

// MarshalYAML writes the condition, or the expression string.
func (w When) MarshalYAML() (any, error) {
	if w.Condition != nil {
		return w.Condition, nil
	}
	return w.Expr, nil
}

// MarshalYAML writes the comparison as {op: value}.
func (c Comparison) MarshalYAML() (any, error) {
	return map[string]int{string(c.Op): c.Value}, nil
}

// MarshalYAML writes the track type, the filter and, for count, the
// comparison operator as a key of the same mapping.
func (t TrackCondition) MarshalYAML() (any, error) {
	type out struct {
		TrackType   TrackKind `yaml:"track_type"`
		TrackFilter `yaml:",inline"`
		Eq          *int `yaml:"eq,omitempty"`
		Lt          *int `yaml:"lt,omitempty"`
		Lte         *int `yaml:"lte,omitempty"`
		Gt          *int `yaml:"gt,omitempty"`
		Gte         *int `yaml:"gte,omitempty"`
	}
	o := out{TrackType: t.TrackType, TrackFilter: t.TrackFilter}
	if c := t.Compare; c != nil {
		v := c.Value
		switch c.Op {
		case OpEq:
			o.Eq = &v
		case OpLt:
			o.Lt = &v
		case OpLte:
			o.Lte = &v
		case OpGt:
			o.Gt = &v
		case OpGte:
			o.Gte = &v
		}
	}
	return o, nil
}

// MarshalYAML keeps the difference between no languages key (every
// language) and an empty list.
func (k KeepSubtitles) MarshalYAML() (any, error) {
	type out struct {
		Languages      *[]string `yaml:"languages,omitempty"`
		PreserveForced bool      `yaml:"preserve_forced"`
		RemoveAll      bool      `yaml:"remove_all"`
	}
	o := out{PreserveForced: k.PreserveForced, RemoveAll: k.RemoveAll}
	if k.Languages != nil {
		o.Languages = &k.Languages
	}
	return o, nil
}

// MarshalYAML writes a number as an integer and a name as a string.
func (v NameOrNumber) MarshalYAML() (any, error) {
	if n, err := strconv.Atoi(string(v)); err == nil {
		return n, nil
	}
	return string(v), nil
}

// MarshalYAML keeps a float value a float (5.0 would otherwise print as 5
// and read back as an integer) and leaves out an absent value.
func (m MetadataCondition) MarshalYAML() (any, error) {
	type out struct {
		Plugin   string     `yaml:"plugin,omitempty"`
		Field    string     `yaml:"field"`
		Value    *yaml.Node `yaml:"value,omitempty"`
		Operator string     `yaml:"operator"`
	}
	o := out{Plugin: m.Plugin, Field: m.Field, Operator: m.Operator}
	switch v := m.Value.(type) {
	case nil:
	case float64:
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEIN") {
			s += ".0"
		}
		o.Value = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: s}
	default:
		o.Value = &yaml.Node{}
		if err := o.Value.Encode(v); err != nil {
			return nil, fmt.Errorf("encode metadata value: %w", err)
		}
	}
	return o, nil
}

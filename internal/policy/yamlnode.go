package policy

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the work spent on one document. Aliases are followed when
// decoding, so a small file of nested aliases could otherwise expand to an
// enormous tree (the "billion laughs" shape).
const maxNodes = 200_000

// decoder walks a yaml.Node tree, filling the model and collecting errors
// with positions and key paths.
type decoder struct {
	file    string
	errs    Errors
	visited int
	tooBig  bool
	depth   int // condition nesting, see maxConditionDepth
}

func (d *decoder) errAt(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// resolve follows aliases and counts the node against maxNodes. It returns
// nil when the budget is spent (reported once).
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		if depth > 100 {
			return nil
		}
		n = n.Alias
	}
	d.visited++
	if d.visited > maxNodes {
		if !d.tooBig {
			d.tooBig = true
			d.errAt(n, "", "document too large (more than %d nodes after expanding aliases)", maxNodes)
		}
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!str":
			return "a string"
		}
		return "a scalar"
	}
	return "unknown"
}

// mapping is one YAML mapping being decoded: each key is taken at most once
// and done reports the keys nobody took.
type mapping struct {
	d     *decoder
	node  *yaml.Node
	path  string
	keys  []*yaml.Node
	vals  map[string]*yaml.Node
	taken map[string]bool
}

// mapping checks that n is a mapping without duplicate keys. It returns nil
// (after reporting) when it is not.
func (d *decoder) mapping(n *yaml.Node, path string) *mapping {
	n = d.resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errAt(n, path, "must be a mapping, not %s", kindName(n))
		return nil
	}
	m := &mapping{d: d, node: n, path: path, vals: map[string]*yaml.Node{}, taken: map[string]bool{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			d.errAt(k, path, "keys must be plain names (merge keys and complex keys are not supported)")
			continue
		}
		if _, dup := m.vals[k.Value]; dup {
			d.errAt(k, join(path, k.Value), "duplicate key")
			continue
		}
		m.keys = append(m.keys, k)
		m.vals[k.Value] = n.Content[i+1]
	}
	return m
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// take returns the value node of key (nil when absent or null) and its path.
func (m *mapping) take(key string) (*yaml.Node, string) {
	m.taken[key] = true
	n := m.vals[key]
	if n == nil {
		return nil, join(m.path, key)
	}
	n = m.d.resolve(n)
	if n == nil || isNull(n) {
		return nil, join(m.path, key)
	}
	return n, join(m.path, key)
}

// has reports whether key is present with a non-null value.
func (m *mapping) has(key string) bool {
	n := m.vals[key]
	return n != nil && !(n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// required reports a missing key at the mapping.
func (m *mapping) required(key string) {
	m.d.errAt(m.node, join(m.path, key), "is required")
}

// renamed are keys found in the original's prose documentation that its V13
// validator refuses, with the key to use instead.
var renamed = map[string]string{
	"audio_filter":      "keep_audio",
	"subtitle_filter":   "keep_subtitles",
	"attachment_filter": "filter_attachments",
	"conditional":       "rules",
}

// done reports every key that was not taken, with a suggestion when a
// known key of this mapping is close.
func (m *mapping) done() {
	for _, k := range m.keys {
		if m.taken[k.Value] {
			continue
		}
		msg := "unknown key"
		if to, ok := renamed[k.Value]; ok && m.taken[to] {
			msg += " (V13 calls it " + to + ")"
		} else if s := m.closest(k.Value); s != "" {
			msg += " (did you mean " + s + "?)"
		}
		m.d.errAt(k, join(m.path, k.Value), "%s", msg)
	}
}

// closest returns the known key of this mapping nearest to key, if it is
// close: one edit for short keys, two for keys of ten letters or more.
func (m *mapping) closest(key string) string {
	best, bestDist := "", 2
	if len(key) >= 10 {
		bestDist = 3
	}
	for known := range m.taken {
		if dist := editDistance(strings.ToLower(key), known); dist < bestDist || dist == bestDist && known < best {
			best, bestDist = known, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance, bounded to short keys.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// sequence returns the items of a list node; a non-list is reported.
func (d *decoder) sequence(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	if n.Kind != yaml.SequenceNode {
		d.errAt(n, path, "must be a list, not %s", kindName(n))
		return nil, false
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, c := range n.Content {
		c = d.resolve(c)
		if c == nil {
			return nil, false
		}
		out = append(out, c)
	}
	return out, true
}

func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		d.errAt(n, path, "must be a string, not %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

// yaml11Bools are the plain words YAML 1.1 reads as booleans. The original
// vpo reads policies with PyYAML, a YAML 1.1 parser, so `remove_all: yes`
// works there; YAML 1.2 (and so the YAML library here) reads it as a
// string. Quoted, they stay strings.
var yaml11Bools = map[string]bool{
	"yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
}

func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	if v, ok := yaml11Bools[n.Value]; ok && n.Kind == yaml.ScalarNode && n.Tag == "!!str" && n.Style == 0 {
		return v, true
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errAt(n, path, "must be true or false, not %s", kindName(n))
		return false, false
	}
	v, err := strconv.ParseBool(n.Value)
	if err != nil {
		d.errAt(n, path, "must be true or false")
		return false, false
	}
	return v, true
}

func (d *decoder) integer(n *yaml.Node, path string) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.errAt(n, path, "must be an integer, not %s", kindName(n))
		return 0, false
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 32)
	if err != nil {
		d.errAt(n, path, "must be an integer between %d and %d", -1<<31, 1<<31-1)
		return 0, false
	}
	return int(v), true
}

func (d *decoder) number(n *yaml.Node, path string) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		d.errAt(n, path, "must be a number, not %s", kindName(n))
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
	if err != nil {
		d.errAt(n, path, "must be a number")
		return 0, false
	}
	return v, true
}

// Field helpers on a mapping: each takes the key, applies the default when
// the key is absent, and reports type errors.

func (m *mapping) str(key, def string) string {
	n, p := m.take(key)
	if n == nil {
		return def
	}
	v, _ := m.d.str(n, p)
	return v
}

func (m *mapping) boolean(key string, def bool) bool {
	n, p := m.take(key)
	if n == nil {
		return def
	}
	v, ok := m.d.boolean(n, p)
	if !ok {
		return def
	}
	return v
}

func (m *mapping) optBool(key string) *bool {
	n, p := m.take(key)
	if n == nil {
		return nil
	}
	v, ok := m.d.boolean(n, p)
	if !ok {
		return nil
	}
	return &v
}

func (m *mapping) optInt(key string) *int {
	n, p := m.take(key)
	if n == nil {
		return nil
	}
	v, ok := m.d.integer(n, p)
	if !ok {
		return nil
	}
	return &v
}

// enum reads a string that must be one of allowed; def when absent.
func (m *mapping) enum(key, def string, allowed ...string) string {
	n, p := m.take(key)
	if n == nil {
		return def
	}
	v, ok := m.d.str(n, p)
	if !ok {
		return def
	}
	if !slices.Contains(allowed, v) {
		m.d.errAt(n, p, "must be one of %s, not %q", strings.Join(allowed, ", "), v)
		return def
	}
	return v
}

// strList reads a list of strings; a single string becomes one entry when
// single is true. It returns nil when the key is absent.
func (m *mapping) strList(key string, single bool) ([]string, *yaml.Node) {
	n, p := m.take(key)
	if n == nil {
		return nil, nil
	}
	return m.d.strList(n, p, single), n
}

func (d *decoder) strList(n *yaml.Node, p string, single bool) []string {
	if single && n.Kind == yaml.ScalarNode {
		v, ok := d.str(n, p)
		if !ok {
			return nil
		}
		return []string{v}
	}
	items, ok := d.sequence(n, p)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		if v, ok := d.str(it, index(p, i)); ok {
			out = append(out, v)
		}
	}
	return out
}

var langCode = regexp.MustCompile(`^[a-z]{2,3}$`)

// languages reads a list of language codes (2 or 3 lower-case letters).
func (m *mapping) languages(key string, single bool) []string {
	n, p := m.take(key)
	if n == nil {
		return nil
	}
	return m.d.languages(n, p, single)
}

func (d *decoder) languages(n *yaml.Node, p string, single bool) []string {
	if single && n.Kind == yaml.ScalarNode {
		v, ok := d.str(n, p)
		if !ok {
			return nil
		}
		d.checkLang(n, p, v)
		return []string{v}
	}
	items, ok := d.sequence(n, p)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		v, ok := d.str(it, index(p, i))
		if !ok {
			continue
		}
		d.checkLang(it, index(p, i), v)
		out = append(out, v)
	}
	return out
}

func (d *decoder) checkLang(n *yaml.Node, p, v string) bool {
	if !langCode.MatchString(v) {
		d.errAt(n, p, "%q is not a language code (2 or 3 lower-case letters, ISO 639, e.g. eng, de)", v)
		return false
	}
	return true
}

// language reads one optional language code.
func (m *mapping) language(key string) string {
	n, p := m.take(key)
	if n == nil {
		return ""
	}
	v, ok := m.d.str(n, p)
	if ok {
		m.d.checkLang(n, p, v)
	}
	return v
}

func lowerAll(s []string) []string {
	for i := range s {
		s[i] = strings.ToLower(s[i])
	}
	return s
}

// compileRegexp compiles a pattern case-insensitively, reporting a bad one.
func (d *decoder) compileRegexp(n *yaml.Node, p, pattern string) *regexp.Regexp {
	// Compile without the flag first so that an error quotes only the
	// user's pattern.
	if _, err := regexp.Compile(pattern); err != nil {
		msg := err.Error()
		var e *syntax.Error
		if errors.As(err, &e) {
			msg = string(e.Code) + ": `" + e.Expr + "`"
		}
		d.errAt(n, p, "bad regular expression: %s", msg)
		return nil
	}
	return regexp.MustCompile("(?i)" + pattern)
}

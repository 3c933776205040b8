package config

import (
	"reflect"
	"slices"
)

// Change is one setting whose effective value differs between two configurations,
// for the daemon's reload (SIGHUP).
type Change struct {
	Key string
	// Old and New are the values as Settings shows them: a secret is only
	// "(set, redacted)" or "(not set)", so a changed token shows as changed but not
	// what it was or became.
	Old, New any
}

// Changes lists the settings of the table whose effective values differ between
// old and next, in key order. A secret counts as changed when its value changed
// even if both are set; its Old and New then say "(set, redacted)".
func Changes(old, next *Config) []Change {
	var out []Change
	for i := range specs {
		s := &specs[i]
		if reflect.DeepEqual(normalize(s.get(old)), normalize(s.get(next))) {
			continue
		}
		out = append(out, Change{Key: s.Key, Old: s.display(old), New: s.display(next)})
	}
	slices.SortFunc(out, func(a, b Change) int {
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	return out
}

// normalize makes an empty list and no list compare equal.
func normalize(v any) any {
	switch l := v.(type) {
	case []string:
		if len(l) == 0 {
			return []string(nil)
		}
	case []Root:
		if len(l) == 0 {
			return []Root(nil)
		}
	}
	return v
}

// Keep sets key in c back to its value (and source) in old: a reload keeps the
// value in force of a setting that needs a restart. It reports false for a key that
// is not a setting.
func (c *Config) Keep(key string, old *Config) bool {
	s := lookupSpec(key)
	if s == nil {
		return false
	}
	s.set(c, s.get(old))
	if src, ok := old.Sources[key]; ok {
		c.Sources[key] = src
	} else {
		delete(c.Sources, key)
	}
	if key == "library.roots" {
		c.Library.Roots = slices.Clone(old.Library.Roots) // derived from RootConfigs
	}
	return true
}

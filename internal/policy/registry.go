package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// ErrInvalid is wrapped by the errors of [Registry.Evaluator] and
// [Registry.ValidateNamed] for a policy whose file is not valid.
var ErrInvalid = errors.New("policy is not valid")

// Registry is the policies of one directory, loaded and validated once, as
// the daemon serves them: every file is listed, valid or not, and each valid
// one is compiled for evaluation. It is immutable after [LoadRegistry] and
// safe for concurrent use. A changed file is seen by the next LoadRegistry
// (the daemon loads at startup).
type Registry struct {
	dir     string
	entries []Entry
	byName  map[string]int
	evals   []*Evaluator // by entry index; nil for an invalid entry
}

// LoadRegistry loads every policy file of dir (see [LoadDir]). A directory
// that does not exist is an empty registry, not an error: a new install has
// no policies yet. Any other unreadable directory is an error.
func LoadRegistry(dir string) (*Registry, error) {
	r := &Registry{dir: dir, byName: map[string]int{}}
	entries, err := LoadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return r, nil
		}
		return nil, err
	}
	r.entries = entries
	r.evals = make([]*Evaluator, len(entries))
	for i := range r.entries {
		e := &r.entries[i]
		if _, dup := r.byName[e.Name]; !dup {
			r.byName[e.Name] = i
		}
		if e.Err != nil {
			continue
		}
		ev, err := Compile(e.Policy)
		if err != nil {
			e.Policy, e.Err = nil, fmt.Errorf("%s: %w", e.Path, err)
			continue
		}
		r.evals[i] = ev
	}
	return r, nil
}

// Dir is the directory the registry was loaded from.
func (r *Registry) Dir() string { return r.dir }

// Entries returns every policy file, valid or not, sorted by name. The
// slice is the caller's; the policies in it must not be changed.
func (r *Registry) Entries() []Entry {
	return append([]Entry(nil), r.entries...)
}

// Get returns the entry of the policy called name, or an error wrapping
// ErrNotFound.
func (r *Registry) Get(name string) (Entry, error) {
	i, ok := r.byName[name]
	if !ok {
		return Entry{}, fmt.Errorf("policy %q: no %s.yaml in %s: %w", name, name, r.dir, ErrNotFound)
	}
	return r.entries[i], nil
}

// Evaluator returns the compiled policy called name. It fails with an error
// wrapping ErrNotFound for an unknown name and ErrInvalid (and the file's
// own errors) for an invalid one.
func (r *Registry) Evaluator(name string) (*Evaluator, *Policy, error) {
	e, err := r.Get(name)
	if err != nil {
		return nil, nil, err
	}
	if e.Err != nil {
		return nil, nil, &invalidError{name: name, err: e.Err}
	}
	return r.evals[r.byName[name]], e.Policy, nil
}

// ValidateNamed checks the policies a configuration names (e.g. a library
// root's policy): each must exist and be valid. The error lists every bad
// name with its first problem, one per line; it wraps ErrNotFound or
// ErrInvalid. The daemon treats it as a configuration error (exit 78).
func (r *Registry) ValidateNamed(names []string) error {
	var msgs []string
	var first error
	for _, n := range names {
		_, _, err := r.Evaluator(n)
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		msgs = append(msgs, err.Error())
	}
	if first == nil {
		return nil
	}
	return &namedError{msg: strings.Join(msgs, "\n"), first: first}
}

// invalidError is an invalid policy asked for by name.
type invalidError struct {
	name string
	err  error
}

func (e *invalidError) Error() string {
	return fmt.Sprintf("policy %q is not valid: %v", e.name, e.err)
}

// Unwrap gives ErrInvalid and the file's errors (an Errors for format
// problems), so that errors.As finds the positions.
func (e *invalidError) Unwrap() []error { return []error{ErrInvalid, e.err} }

type namedError struct {
	msg   string
	first error
}

func (e *namedError) Error() string { return e.msg }
func (e *namedError) Unwrap() error { return e.first }

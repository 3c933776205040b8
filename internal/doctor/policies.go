package doctor

import (
	"errors"
	"io/fs"
	"os"
	"strings"
)

// PolicyStatus is one policy file of the policies dir: valid, or why not.
type PolicyStatus struct {
	// Name is the policy's name (the file name without .yaml or .yml).
	Name string
	// File is the file's path.
	File string
	// Err is the first problem found in the file; nil when it is valid.
	Err error
}

// PolicyLoader loads every policy file of dir and reports each one. Its error is
// only for a directory that cannot be read.
type PolicyLoader func(dir string) ([]PolicyStatus, error)

// CheckPolicies checks the policies dir: it exists and can be listed, and, when
// load is not nil, each policy file in it is valid (one result per file). A
// policies dir that does not exist is a warning: vpo runs, but there are no
// policies to apply.
func CheckPolicies(dir string, load PolicyLoader) []Result {
	const name = "policies dir"
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return []Result{warn(name, "%s does not exist: no policies (create it, or set policies.dir or VPO_POLICIES_DIR)", dir)}
	case err != nil:
		return []Result{fail(name, "%s: %v", dir, unwrapPath(err))}
	case !st.IsDir():
		return []Result{fail(name, "%s is not a directory", dir)}
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return []Result{fail(name, "%s cannot be read: %v", dir, unwrapPath(err))}
	}
	n := 0
	for _, de := range des {
		if !de.IsDir() && (strings.HasSuffix(de.Name(), ".yaml") || strings.HasSuffix(de.Name(), ".yml")) {
			n++
		}
	}
	if load == nil {
		return []Result{ok(name, "%s: %s (not validated: this vpo has no policy loader)", dir, plural(n, "policy file", "policy files"))}
	}
	statuses, err := load(dir)
	if err != nil {
		return []Result{fail(name, "%s: %v", dir, err)}
	}
	bad := 0
	var out []Result
	for _, s := range statuses {
		if s.Err != nil {
			bad++
			out = append(out, fail("policy "+s.Name, "%s", firstLine(s.Err.Error())))
			continue
		}
		out = append(out, ok("policy "+s.Name, "%s: valid", s.File))
	}
	summary := ok(name, "%s: %s", dir, plural(len(statuses), "policy", "policies"))
	if len(statuses) == 0 {
		summary = warn(name, "%s: no policy files (*.yaml, *.yml)", dir)
	} else if bad > 0 {
		summary.Detail += ", " + plural(bad, "invalid", "invalid")
	}
	return append([]Result{summary}, out...)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return itoa(n) + " " + many
}

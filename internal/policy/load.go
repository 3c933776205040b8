package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize is the largest policy file vpo reads (1 MiB); policies are a
// few kilobytes, and the bound keeps a wrong path from being read whole.
const MaxFileSize = 1 << 20

// ErrNotFound is returned (wrapped) by Resolve when no policy has the name.
var ErrNotFound = errors.New("policy not found")

// Parse reads one policy from data; name is the file name used in error
// positions. The error, when not nil, is an Errors listing every problem.
func Parse(name string, data []byte) (*Policy, error) {
	d := &decoder{file: name}
	if len(data) > MaxFileSize {
		d.errAt(nil, "", "file is larger than %d bytes", MaxFileSize)
		return nil, d.errs
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errAt(nil, "", "empty file (a policy needs schema_version: 13 and phases)")
		} else {
			d.yamlError(err)
		}
		return nil, d.errs
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errAt(&extra, "", "more than one YAML document (a policy file holds one)")
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	p := d.policy(root)
	if len(d.errs) > 0 {
		// Checks run per key and then across phases; report in file order.
		sort.SliceStable(d.errs, func(i, j int) bool {
			a, b := d.errs[i], d.errs[j]
			return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
		})
		return nil, d.errs
	}
	sum := sha256.Sum256(data)
	p.SHA256 = hex.EncodeToString(sum[:])
	return p, nil
}

// yamlError turns a YAML syntax error ("yaml: line 3: ...") into an Error
// with the line.
func (d *decoder) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{File: d.file, Msg: "not valid YAML: " + msg}
	var line int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil && line > 0 {
		e.Line = line
		e.Msg = "not valid YAML:" + strings.SplitN(msg, ":", 2)[1]
	}
	d.errs = append(d.errs, e)
}

// Load reads the policy file at path.
func Load(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read policy %s: %w", path, err)
	}
	return Parse(path, data)
}

// Entry is one file of a policy directory: its policy, or why it is invalid.
type Entry struct {
	// Name is the file name without its .yaml or .yml extension.
	Name string
	// Path is the file's path.
	Path string
	// Policy is the loaded policy; nil when Err is set.
	Policy *Policy
	// Err is why the file is not a valid policy (an Errors for format
	// problems); nil when it is valid.
	Err error
}

// LoadDir loads every *.yaml and *.yml file in dir (not its
// subdirectories), sorted by name. Each entry holds its policy or its
// error; the error return is only for a directory that cannot be read (a
// missing directory gives an error that matches fs.ErrNotExist). When both
// NAME.yaml and NAME.yml exist, the .yml one is an entry with an error.
func LoadDir(dir string) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read policies dir: %w", err)
	}
	var out []Entry
	seen := map[string]string{}
	for _, de := range des {
		name, ok := policyName(de.Name())
		if !ok || de.IsDir() {
			continue
		}
		e := Entry{Name: name, Path: filepath.Join(dir, de.Name())}
		if other, dup := seen[name]; dup {
			e.Err = fmt.Errorf("%s: policy %q is also defined by %s", e.Path, name, other)
		} else {
			seen[name] = e.Path
			e.Policy, e.Err = Load(e.Path)
		}
		out = append(out, e)
	}
	// .yaml sorts before .yml, so the .yaml file of a pair is the one kept.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func policyName(file string) (string, bool) {
	for _, ext := range []string{".yaml", ".yml"} {
		if strings.HasSuffix(file, ext) && len(file) > len(ext) {
			return strings.TrimSuffix(file, ext), true
		}
	}
	return "", false
}

// Resolve finds a policy by name in dir (dir/NAME.yaml, then dir/NAME.yml)
// or, when nameOrPath contains a path separator or ends in .yaml or .yml,
// as a file path. A name with no file wraps ErrNotFound.
func Resolve(dir, nameOrPath string) (*Policy, error) {
	if nameOrPath == "" {
		return nil, fmt.Errorf("resolve policy: empty name")
	}
	if strings.ContainsRune(nameOrPath, os.PathSeparator) || strings.ContainsRune(nameOrPath, '/') {
		return Load(nameOrPath)
	}
	if _, ok := policyName(nameOrPath); ok {
		if _, err := os.Stat(nameOrPath); err == nil {
			return Load(nameOrPath)
		}
		if path := filepath.Join(dir, nameOrPath); fileExists(path) {
			return Load(path)
		}
	}
	for _, ext := range []string{".yaml", ".yml"} {
		path := filepath.Join(dir, nameOrPath+ext)
		if fileExists(path) {
			return Load(path)
		}
	}
	return nil, fmt.Errorf("resolve policy %q: no %s.yaml in %s: %w", nameOrPath, nameOrPath, dir, ErrNotFound)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

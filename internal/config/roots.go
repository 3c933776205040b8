package config

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// The modes of a library root: what happens to new or changed files.
const (
	// ModeCatalog probes files into the catalogue.
	ModeCatalog = "catalog"
	// ModePlan also plans the root's policy for each file.
	ModePlan = "plan"
	// ModeApply also applies the plan.
	ModeApply = "apply"
)

// RootModes are the allowed values of a root's mode.
var RootModes = []string{ModeCatalog, ModePlan, ModeApply}

// rootKeys are the keys of a [[library.roots]] table.
var rootKeys = []string{"path", "policy", "mode", "watch", "schedule"}

// policyName is the syntax of a policy name: a file name stem in policies.dir,
// without path separators.
var policyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Root is one library root: a plain path of the `[library] roots` list, or a
// `[[library.roots]]` table.
type Root struct {
	// Path is the root directory, absolute and clean.
	Path string
	// Policy is the name of the policy for the root's files, "" for none.
	Policy string
	// Mode is what happens to new or changed files: ModeCatalog, ModePlan or
	// ModeApply.
	Mode string
	// Watch reacts to file system events under Path.
	Watch bool
	// Schedule is the cron expression of the root's full rescan ("" for none):
	// five fields (minute hour day-of-month month day-of-week), a descriptor
	// (@hourly, @daily, @weekly, @monthly) or @every DURATION (at least 1s).
	Schedule string
}

// MinScheduleInterval is the shortest @every schedule: River's periodic jobs
// run at most about once a second.
const MinScheduleInterval = time.Second

// ParseSchedule parses a root's schedule. Times are the daemon's local time
// zone (TZ), as cron's.
func ParseSchedule(expr string) (cron.Schedule, error) {
	if d, ok := strings.CutPrefix(expr, "@every "); ok {
		// cron rounds a shorter delay up to a second silently; say so instead.
		if every, err := time.ParseDuration(strings.TrimSpace(d)); err == nil && every < MinScheduleInterval {
			return nil, fmt.Errorf("@every %s is shorter than %s", every, MinScheduleInterval)
		}
	}
	return cron.ParseStandard(expr)
}

// String writes the root as `vpo config show` lists it: the path, then the
// settings that differ from a plain path's.
func (r Root) String() string {
	var extra []string
	if r.Mode != ModeCatalog {
		extra = append(extra, "mode="+r.Mode)
	}
	if r.Policy != "" {
		extra = append(extra, "policy="+r.Policy)
	}
	if r.Watch {
		extra = append(extra, "watch=true")
	}
	if r.Schedule != "" {
		extra = append(extra, "schedule="+r.Schedule)
	}
	if len(extra) == 0 {
		return r.Path
	}
	return r.Path + " (" + strings.Join(extra, ", ") + ")"
}

// decodeRoots reads library.roots as TOML gave it: each entry a string (a path) or
// a table. go-toml decodes a mixed array into []any, so the table's keys and types
// are checked here, naming the entry.
func decodeRoots(entries []any) ([]Root, error) {
	roots := make([]Root, 0, len(entries))
	for i, e := range entries {
		n := i + 1
		switch v := e.(type) {
		case string:
			roots = append(roots, Root{Path: v, Mode: ModeCatalog})
		case map[string]any:
			r := Root{Mode: ModeCatalog}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				val := v[k]
				var ok bool
				switch k {
				case "path":
					r.Path, ok = val.(string)
				case "policy":
					r.Policy, ok = val.(string)
				case "mode":
					r.Mode, ok = val.(string)
				case "schedule":
					r.Schedule, ok = val.(string)
				case "watch":
					var b bool
					b, ok = val.(bool)
					r.Watch = b
					if !ok {
						return nil, fmt.Errorf("entry %d: watch: wrong type: want true or false", n)
					}
					continue
				default:
					return nil, fmt.Errorf("entry %d: unknown key %q (want one of %s)", n, k, strings.Join(rootKeys, ", "))
				}
				if !ok {
					return nil, fmt.Errorf("entry %d: %s: wrong type: want a string", n, k)
				}
			}
			if _, ok := v["path"]; !ok {
				return nil, fmt.Errorf("entry %d: path is required", n)
			}
			roots = append(roots, r)
		default:
			return nil, fmt.Errorf("entry %d: wrong type: want a path or a table with path, policy, mode, watch, schedule", n)
		}
	}
	return roots, nil
}

// validateRoots checks library.roots: absolute paths, known modes, policy names,
// a policy for the modes that need one, and no overlap between roots whose policy
// or mode differ (which of them would a file under both follow?). It sets
// Library.Roots to the paths.
func (c *Config) validateRoots() error {
	const key = "library.roots"
	c.Library.Roots = nil
	for i := range c.Library.RootConfigs {
		r := &c.Library.RootConfigs[i]
		n := i + 1
		if r.Path == "" {
			return c.fail(key, "entry %d: path is empty", n)
		}
		if !filepath.IsAbs(r.Path) {
			return c.fail(key, "entry %d %q is not an absolute path", n, r.Path)
		}
		r.Path = filepath.Clean(r.Path)
		if !oneOf(r.Mode, RootModes) {
			return c.fail(key, "entry %d (%s): mode %q is not one of %s", n, r.Path, r.Mode, strings.Join(RootModes, ", "))
		}
		if r.Policy != "" && !policyName.MatchString(r.Policy) {
			return c.fail(key, "entry %d (%s): policy %q is not a policy name (letters, digits, '.', '_' and '-', at most 64, no path)", n, r.Path, r.Policy)
		}
		if r.Mode != ModeCatalog && r.Policy == "" {
			return c.fail(key, "entry %d (%s): mode %s needs a policy", n, r.Path, r.Mode)
		}
		if r.Schedule != "" {
			if _, err := ParseSchedule(r.Schedule); err != nil {
				return c.fail(key, "entry %d (%s): schedule %q is not a cron schedule (5 fields, @daily, or @every 10m): %v", n, r.Path, r.Schedule, err)
			}
		}
		c.Library.Roots = append(c.Library.Roots, r.Path)
	}
	for i, r := range c.Library.RootConfigs {
		if r.Mode == ModeApply && r.Watch && c.Apply.Settle > c.Library.Settle {
			return c.fail(key, "entry %d (%s): a watched root in mode apply needs apply.settle (%gs) at most library.settle (%gs), or the files it hands over are still settling for the apply",
				i+1, r.Path, c.Apply.Settle.Seconds(), c.Library.Settle.Seconds())
		}
	}
	for i, a := range c.Library.RootConfigs {
		for j := i + 1; j < len(c.Library.RootConfigs); j++ {
			b := c.Library.RootConfigs[j]
			if a.Path == b.Path {
				return c.fail(key, "entries %d and %d are the same directory %s", i+1, j+1, a.Path)
			}
			if (within(a.Path, b.Path) || within(b.Path, a.Path)) && (a.Policy != b.Policy || a.Mode != b.Mode) {
				return c.fail(key, "entries %d (%s) and %d (%s) overlap with a different policy or mode", i+1, a.Path, j+1, b.Path)
			}
		}
	}
	return nil
}

// within reports whether p is dir or lies under it (both clean and absolute).
func within(p, dir string) bool {
	if dir == "/" {
		return true
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// Package version reports the version of the vpo binary.
package version

import "runtime/debug"

// version is set at build time with
// -ldflags "-X github.com/vpo-project/vpo/internal/version.version=v1.2.3".
var version string

// String returns the version set at build time, else the main module's version from
// the build info (a tagged module version or "(devel)"), else "dev".
func String() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "devel-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

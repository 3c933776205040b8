package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestRoots reads library.roots in both forms: the plain list and
// [[library.roots]] tables, mixed in one array too.
func TestRoots(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		file      string
		want      []Root
		wantPaths []string
	}{
		{name: "plain list", file: "[library]\nroots = [\"/srv/a\", \"/srv/b/\"]\n",
			want:      []Root{{Path: "/srv/a", Mode: ModeCatalog}, {Path: "/srv/b", Mode: ModeCatalog}},
			wantPaths: []string{"/srv/a", "/srv/b"}},
		{name: "tables", file: "[[library.roots]]\npath = \"/srv/movies\"\npolicy = \"movies\"\nmode = \"catalog\"\nwatch = true\n\n[[library.roots]]\npath = \"/srv/tv\"\n",
			want:      []Root{{Path: "/srv/movies", Policy: "movies", Mode: ModeCatalog, Watch: true}, {Path: "/srv/tv", Mode: ModeCatalog}},
			wantPaths: []string{"/srv/movies", "/srv/tv"}},
		{name: "mixed array", file: "[library]\nroots = [\"/srv/a\", {path = \"/srv/b\", watch = true}]\nsettle = 5\n",
			want:      []Root{{Path: "/srv/a", Mode: ModeCatalog}, {Path: "/srv/b", Mode: ModeCatalog, Watch: true}},
			wantPaths: []string{"/srv/a", "/srv/b"}},
		{name: "plan mode is accepted by the config", file: "[[library.roots]]\npath = \"/srv/a\"\nmode = \"plan\"\npolicy = \"p-1.v2\"\n",
			want:      []Root{{Path: "/srv/a", Mode: ModePlan, Policy: "p-1.v2"}},
			wantPaths: []string{"/srv/a"}},
		{name: "schedules", file: "[[library.roots]]\npath = \"/srv/a\"\nschedule = \"0 3 * * *\"\n[[library.roots]]\npath = \"/srv/b\"\nschedule = \"@every 2s\"\n",
			want:      []Root{{Path: "/srv/a", Mode: ModeCatalog, Schedule: "0 3 * * *"}, {Path: "/srv/b", Mode: ModeCatalog, Schedule: "@every 2s"}},
			wantPaths: []string{"/srv/a", "/srv/b"}},
		{name: "nested roots with the same settings", file: "[library]\nroots = [\"/srv\", \"/srv/a\"]\n",
			want:      []Root{{Path: "/srv", Mode: ModeCatalog}, {Path: "/srv/a", Mode: ModeCatalog}},
			wantPaths: []string{"/srv", "/srv/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			path := writeFile(t, home, tt.file)
			cfg, err := Load(Flags{ConfigPath: &path}, Options{Home: home, Getenv: envFrom(nil)})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.Library.RootConfigs, tt.want) {
				t.Errorf("RootConfigs = %#v, want %#v", cfg.Library.RootConfigs, tt.want)
			}
			if !reflect.DeepEqual(cfg.Library.Roots, tt.wantPaths) {
				t.Errorf("Roots = %q, want %q", cfg.Library.Roots, tt.wantPaths)
			}
		})
	}
}

func TestRootsDefaults(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	cfg, err := Load(Flags{}, Options{Home: home, Getenv: envFrom(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Library.Settle != DefaultSettle || len(cfg.Library.RootConfigs) != 0 || len(cfg.Library.Roots) != 0 {
		t.Errorf("settle %v, roots %v %v; want 60s and none", cfg.Library.Settle, cfg.Library.RootConfigs, cfg.Library.Roots)
	}
}

// TestRootsErrors checks each bad library.roots names the key, the entry and
// what is wrong.
func TestRootsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, want string
	}{
		{"unknown key", "[[library.roots]]\npath = \"/a\"\nplicy = \"x\"\n", `library.roots: entry 1: unknown key "plicy" (want one of path, policy, mode, watch, schedule)`},
		{"no path", "[[library.roots]]\nwatch = true\n", "library.roots: entry 1: path is required"},
		{"empty path", "[[library.roots]]\npath = \"\"\n", "library.roots: entry 1: path is empty"},
		{"relative", "[[library.roots]]\npath = \"media\"\n", `library.roots: entry 1 "media" is not an absolute path`},
		{"watch not bool", "[[library.roots]]\npath = \"/a\"\nwatch = \"yes\"\n", "library.roots: entry 1: watch: wrong type: want true or false"},
		{"path not string", "[[library.roots]]\npath = 3\n", "library.roots: entry 1: path: wrong type: want a string"},
		{"entry not path or table", "[library]\nroots = [1]\n", "library.roots: entry 1: wrong type: want a path or a table"},
		{"bad mode", "[[library.roots]]\npath = \"/a\"\nmode = \"fix\"\n", `library.roots: entry 1 (/a): mode "fix" is not one of catalog, plan, apply`},
		{"bad policy name", "[[library.roots]]\npath = \"/a\"\npolicy = \"../etc\"\n", `library.roots: entry 1 (/a): policy "../etc" is not a policy name`},
		{"apply without policy", "[[library.roots]]\npath = \"/a\"\nmode = \"apply\"\n", "library.roots: entry 1 (/a): mode apply needs a policy"},
		{"same twice", "[library]\nroots = [\"/a\", \"/a/\"]\n", "library.roots: entries 1 and 2 are the same directory /a"},
		{"overlap with different policies", "[[library.roots]]\npath = \"/srv\"\npolicy = \"a\"\n[[library.roots]]\npath = \"/srv/tv\"\npolicy = \"b\"\n",
			"library.roots: entries 1 (/srv) and 2 (/srv/tv) overlap with a different policy or mode"},
		{"bad schedule", "[[library.roots]]\npath = \"/a\"\nschedule = \"61 * * * *\"\n", `library.roots: entry 1 (/a): schedule "61 * * * *" is not a cron schedule`},
		{"schedule with seconds", "[[library.roots]]\npath = \"/a\"\nschedule = \"0 0 3 * * *\"\n", `library.roots: entry 1 (/a): schedule "0 0 3 * * *" is not a cron schedule`},
		{"schedule too often", "[[library.roots]]\npath = \"/a\"\nschedule = \"@every 100ms\"\n", "@every 100ms is shorter than 1s"},
		{"schedule not string", "[[library.roots]]\npath = \"/a\"\nschedule = 5\n", "library.roots: entry 1: schedule: wrong type: want a string"},
		{"apply root with a longer apply.settle", "[library]\nsettle = 10\n[[library.roots]]\npath = \"/a\"\nmode = \"apply\"\npolicy = \"p\"\nwatch = true\n",
			"library.roots: entry 1 (/a): a watched root in mode apply needs apply.settle (60s) at most library.settle (10s)"},
		{"settle too short", "[library]\nsettle = 0.5\n", "library.settle: 0.5 is out of range (1-86400 seconds)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			path := writeFile(t, home, tt.file)
			_, err := Load(Flags{ConfigPath: &path}, Options{Home: home, Getenv: envFrom(nil)})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if !IsConfigError(err) {
				t.Fatalf("error %T is not a config error", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "config "+path+": ") || !strings.Contains(msg, tt.want) {
				t.Errorf("error = %q, want config %s: ...%s", msg, path, tt.want)
			}
		})
	}
}

func TestRootString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		r    Root
		want string
	}{
		{Root{Path: "/a", Mode: ModeCatalog}, "/a"},
		{Root{Path: "/a", Mode: ModeApply, Policy: "p", Watch: true}, "/a (mode=apply, policy=p, watch=true)"},
		{Root{Path: "/a", Mode: ModeCatalog, Schedule: "@daily"}, "/a (schedule=@daily)"},
	} {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSpecsWellFormed checks the table itself: each field has the Go type its kind
// needs, defaults are typed as the field, and keys, variables and flags are unique.
func TestSpecsWellFormed(t *testing.T) {
	t.Parallel()
	wantField := map[Kind]reflect.Type{
		KindString: reflect.TypeFor[*string](), KindEnum: reflect.TypeFor[*string](),
		KindPath: reflect.TypeFor[*string](), KindProgram: reflect.TypeFor[*string](),
		KindInt: reflect.TypeFor[*int](), KindPort: reflect.TypeFor[*int](),
		KindSeconds: reflect.TypeFor[*time.Duration](), KindBool: reflect.TypeFor[*bool](),
		KindList: reflect.TypeFor[*[]string](), KindRoots: reflect.TypeFor[*[]Root](),
	}
	seen := map[string]string{}
	unique := func(what, name, key string) {
		if name == "" {
			return
		}
		if other, ok := seen[what+name]; ok {
			t.Errorf("%s %s is used by both %s and %s", what, name, other, key)
		}
		seen[what+name] = key
	}
	var c Config
	for _, s := range Specs() {
		unique("key", s.Key, s.Key)
		unique("environment variable", s.Env, s.Key)
		unique("flag", s.Flag, s.Key)
		unique("shorthand", s.Short, s.Key)
		if strings.Count(s.Key, ".") > 1 || strings.HasPrefix(s.Key, ".") || strings.HasSuffix(s.Key, ".") {
			t.Errorf("%s: a key is name or table.name", s.Key)
		}
		if s.Env != "" && !strings.HasPrefix(s.Env, "VPO_") {
			t.Errorf("%s: variable %s does not start with VPO_", s.Key, s.Env)
		}
		if s.Doc == "" {
			t.Errorf("%s: no description", s.Key)
		}
		want, ok := wantField[s.Kind]
		if !ok {
			t.Errorf("%s: unknown kind %q", s.Key, s.Kind)
			continue
		}
		field := s.field(&c)
		if got := reflect.TypeOf(field); got != want {
			t.Errorf("%s: field is %v, kind %s needs %v", s.Key, got, s.Kind, want)
			continue
		}
		if s.Default != nil && reflect.TypeOf(s.Default) != want.Elem() {
			t.Errorf("%s: default is a %T, the field a %v", s.Key, s.Default, want.Elem())
		}
		if (s.Kind == KindEnum) != (len(s.Allowed) > 0) {
			t.Errorf("%s: Allowed is for enums only, and every enum needs it", s.Key)
		}
		if s.Kind == KindEnum && !slices.Contains(s.Allowed, s.DefaultText()) {
			t.Errorf("%s: default %q is not allowed", s.Key, s.DefaultText())
		}
		if s.bounded() && s.Kind != KindInt && s.Kind != KindPort && s.Kind != KindSeconds {
			t.Errorf("%s: a range is for numbers only", s.Key)
		}
		if s.NotInFile && s.Env == "" && s.Flag == "" {
			t.Errorf("%s: cannot be set anywhere", s.Key)
		}
	}
}

// TestSettingsListsEveryKey checks that the effective settings, which vpo serve logs
// at startup, name every setting of the table once (jobs.max_queued was missing
// before they were derived from it).
func TestSettingsListsEveryKey(t *testing.T) {
	t.Parallel()
	cfg, err := Load(Flags{}, Options{Home: t.TempDir(), Getenv: envFrom(nil)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Setting{}
	for _, s := range cfg.Settings() {
		if _, dup := got[s.Key]; dup {
			t.Errorf("%s listed twice", s.Key)
		}
		got[s.Key] = s
	}
	for _, s := range Specs() {
		if _, ok := got[s.Key]; !ok {
			t.Errorf("Settings() lacks %s", s.Key)
		}
	}
	if len(got) != len(Specs()) {
		t.Errorf("Settings() has %d entries, the table %d", len(got), len(Specs()))
	}
	if s := got["jobs.max_queued"]; s.Value != DefaultMaxQueued || s.Source != SourceDefault {
		t.Errorf("jobs.max_queued = %v from %s, want %d from default", s.Value, s.Source, DefaultMaxQueued)
	}
	if s := got["server.auth_token"]; s.Value != "(not set)" {
		t.Errorf("server.auth_token shown as %v", s.Value)
	}
}

// TestDocTable checks that docs/operations.md's settings table is the one generated
// from the table in code.
func TestDocTable(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReplaceDocTable(string(doc))
	if err != nil {
		t.Fatalf("docs/operations.md: %v", err)
	}
	if string(doc) != want {
		t.Errorf("docs/operations.md's settings table differs from internal/config/settings.go; run go generate ./internal/config. Want:\n%s", DocTable())
	}
	for _, s := range Specs() {
		if !strings.Contains(string(doc), "| `"+s.Key+"`") {
			t.Errorf("docs/operations.md has no row for %s", s.Key)
		}
	}
}

// TestDocExampleSetsEveryKey checks that the config example in docs/operations.md
// shows every key the file accepts: loading it sets each from the file.
func TestDocExampleSetsEveryKey(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(doc), "```toml\n")
	example, _, _ := strings.Cut(rest, "```")
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, dir, strings.ReplaceAll(example, "/etc/vpo/token", token))
	cfg, err := Load(Flags{ConfigPath: &path}, Options{Home: dir, Getenv: envFrom(nil)})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Specs() {
		// database.url excludes database_path: TestDocPostgresExample loads
		// the PostgreSQL example.
		if strings.HasPrefix(s.Key, "database.") {
			continue
		}
		if !s.NotInFile && cfg.Sources[s.Key] != SourceFile {
			t.Errorf("the example in docs/operations.md does not set %s", s.Key)
		}
	}
}

// TestEveryKeyEverySource sets each setting from the file, the environment and a
// flag, wherever the table says it can be, and checks the value and the source.
func TestEveryKeyEverySource(t *testing.T) {
	t.Parallel()
	// A value for each setting, as TOML and as text, that differs from its default.
	values := map[Kind]struct {
		toml, text string
		want       any
	}{
		KindString:  {`"127.0.0.5"`, "127.0.0.5", "127.0.0.5"},
		KindInt:     {"7", "7", 7},
		KindPort:    {"9123", "9123", 9123},
		KindSeconds: {"2.5", "2.5", 2500 * time.Millisecond},
		KindBool:    {"true", "true", true},
		KindList:    {`["x", "y"]`, "x, y", []string{"x", "y"}},
		KindProgram: {`"/opt/bin/tool"`, "/opt/bin/tool", "/opt/bin/tool"},
		KindRoots:   {`["/srv/a"]`, "", []Root{{Path: "/srv/a", Mode: ModeCatalog}}},
	}
	for _, s := range Specs() {
		t.Run(s.Key, func(t *testing.T) {
			t.Parallel()
			v, ok := values[s.Kind]
			switch s.Kind {
			case KindEnum:
				a := s.Allowed[len(s.Allowed)-1]
				v, ok = struct {
					toml, text string
					want       any
				}{`"` + a + `"`, a, a}, true
			case KindPath:
				v, ok = struct {
					toml, text string
					want       any
				}{`"/dev/null"`, "/dev/null", "/dev/null"}, true
			}
			if !ok {
				t.Fatalf("no test value for kind %s", s.Kind)
			}
			if s.Key == "server.auth_token" {
				v.text, v.want = "0123456789abcdef-token", "0123456789abcdef-token"
			}
			if s.Key == "server.auth_token_file" {
				tok := filepath.Join(t.TempDir(), "tok")
				if err := os.WriteFile(tok, []byte("0123456789abcdef0123"), 0o600); err != nil {
					t.Fatal(err)
				}
				v.toml, v.text, v.want = `"`+tok+`"`, tok, tok
			}
			// The PostgreSQL password is for a database.url.
			var extraTOML string
			var extraEnv map[string]string
			if s.Key == "database.url" {
				v.toml, v.text, v.want = `"postgres://vpo@db.example/vpo"`, "postgres://vpo@db.example/vpo", "postgres://vpo@db.example/vpo"
			}
			if s.Key == "database.password_file" {
				extraTOML = "url = \"postgres://vpo@db.example/vpo\"\n"
				extraEnv = map[string]string{"VPO_DATABASE_URL": "postgres://vpo@db.example/vpo"}
				pw := filepath.Join(t.TempDir(), "pw")
				if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				v.toml, v.text, v.want = `"`+pw+`"`, pw, pw
			}
			section, name, nested := strings.Cut(s.Key, ".")
			toml := s.Key + " = " + v.toml + "\n"
			if nested {
				toml = "[" + section + "]\n" + extraTOML + name + " = " + v.toml + "\n"
			}
			check := func(how string, cfg *Config, err error, want Source) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				if got := lookupSpec(s.Key).get(cfg); !reflect.DeepEqual(got, v.want) {
					t.Errorf("%s: %s = %#v, want %#v", how, s.Key, got, v.want)
				}
				if cfg.Sources[s.Key] != want {
					t.Errorf("%s: source %q, want %q", how, cfg.Sources[s.Key], want)
				}
			}
			home := t.TempDir()
			if !s.NotInFile {
				path := writeFile(t, t.TempDir(), toml)
				cfg, err := Load(Flags{ConfigPath: &path}, Options{Home: home, Getenv: envFrom(nil)})
				check("file", cfg, err, SourceFile)
			}
			if s.Env != "" {
				env := map[string]string{s.Env: v.text}
				for k, x := range extraEnv {
					env[k] = x
				}
				cfg, err := Load(Flags{}, Options{Home: home, Getenv: envFrom(env)})
				check("environment", cfg, err, SourceEnv)
			}
			if s.Flag != "" {
				if err := s.ParseFlag(v.text); err != nil {
					t.Fatalf("ParseFlag(%q): %v", v.text, err)
				}
				var f Flags
				f.Set(s.Key, v.text)
				cfg, err := Load(f, Options{Home: home, Getenv: envFrom(nil)})
				check("flag", cfg, err, SourceFlag)
			}
		})
	}
}

func TestFlagParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, text, want string // want "" for no error
	}{
		{"server.port", "8000", ""},
		{"server.port", "0", "not a port number (1-65535)"},
		{"server.port", "x", "not a port number (1-65535)"},
		{"logging.level", "debug", ""},
		{"logging.level", "loud", "must be one of debug, info, warning, error"},
		{"server.bind", "anything", ""},
		{"jobs.workers", "x", `"x" is not an integer`},
		{"jobs.workers", "999", "out of range (1-256)"},
		{"server.shutdown_timeout", "soon", `"soon" is not a number of seconds`},
		{"server.allow_unauthenticated", "maybe", `"maybe" is not true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.text, func(t *testing.T) {
			t.Parallel()
			err := lookupSpec(tt.key).ParseFlag(tt.text)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("err = %v", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestNewSettings covers the settings added for the HTTP edge, policies and the
// MKVToolNix/ffmpeg tools.
func TestNewSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		flags map[string]string
		want  string // error substring; "" for success
		check func(t *testing.T, c *Config)
	}{
		{name: "defaults", check: func(t *testing.T, c *Config) {
			if c.Server.AllowedHosts != nil || c.Tools.FFmpeg != "" || c.Tools.MKVMerge != "" || c.Tools.MKVPropEdit != "" {
				t.Errorf("defaults: hosts %q, tools %+v", c.Server.AllowedHosts, c.Tools)
			}
			if want := filepath.Join(c.DataDir, "policies"); c.Policies.Dir != want {
				t.Errorf("policies.dir = %q, want %q", c.Policies.Dir, want)
			}
		}},
		{name: "allowed hosts from env", env: map[string]string{"VPO_SERVER_ALLOWED_HOSTS": "VPO.lan, 192.168.1.20,[::1],*"},
			check: func(t *testing.T, c *Config) {
				if want := []string{"vpo.lan", "192.168.1.20", "::1", "*"}; !slices.Equal(c.Server.AllowedHosts, want) {
					t.Errorf("allowed hosts = %q, want %q", c.Server.AllowedHosts, want)
				}
			}},
		{name: "allowed host with scheme", file: "[server]\nallowed_hosts = [\"http://vpo.lan\"]\n",
			want: `server.allowed_hosts: entry 1 "http://vpo.lan" has a scheme: give the host name alone`},
		{name: "allowed host with path", file: "[server]\nallowed_hosts = [\"vpo.lan\", \"vpo.lan/x\"]\n",
			want: `server.allowed_hosts: entry 2 "vpo.lan/x" is not a host name or address: give the host name alone, without path`},
		{name: "allowed host with port", env: map[string]string{"VPO_SERVER_ALLOWED_HOSTS": "vpo.lan:8321"},
			want: `config environment VPO_SERVER_ALLOWED_HOSTS: server.allowed_hosts: entry 1 "vpo.lan:8321" has a port: give the host name alone`},
		{name: "allowed host empty entry", env: map[string]string{"VPO_SERVER_ALLOWED_HOSTS": "vpo.lan,"},
			want: `server.allowed_hosts: entry 2 "" is empty`},
		{name: "allowed host bad name", file: "[server]\nallowed_hosts = [\"vpo lan\"]\n",
			want: `server.allowed_hosts: entry 1 "vpo lan" is not a host name or address`},
		{name: "allowed hosts wrong type", file: "[server]\nallowed_hosts = \"vpo.lan\"\n",
			want: ":2:17: server.allowed_hosts: wrong type: got a TOML string, want an array of strings"},
		{name: "relative policies dir", file: "[policies]\ndir = \"mine\"\n", check: func(t *testing.T, c *Config) {
			if want := filepath.Join(c.DataDir, "mine"); c.Policies.Dir != want {
				t.Errorf("policies.dir = %q, want %q", c.Policies.Dir, want)
			}
		}},
		{name: "policies dir from env", env: map[string]string{"VPO_POLICIES_DIR": "/etc/vpo/policies"}, check: func(t *testing.T, c *Config) {
			if c.Policies.Dir != "/etc/vpo/policies" {
				t.Errorf("policies.dir = %q", c.Policies.Dir)
			}
		}},
		{name: "empty policies dir", file: "[policies]\ndir = \"\"\n", want: "policies.dir: must not be empty"},
		{name: "tools from env", env: map[string]string{"VPO_FFMPEG_PATH": "/a/ffmpeg", "VPO_MKVMERGE_PATH": "/a/mkvmerge", "VPO_MKVPROPEDIT_PATH": "mkvpropedit-9"},
			check: func(t *testing.T, c *Config) {
				if want := (ToolsConfig{FFmpeg: "/a/ffmpeg", MKVMerge: "/a/mkvmerge", MKVPropEdit: "mkvpropedit-9"}); c.Tools != want {
					t.Errorf("tools = %+v, want %+v", c.Tools, want)
				}
			}},
		{name: "tools file over env", file: "[tools]\nmkvmerge = \"/b/mkvmerge\"\n", env: map[string]string{"VPO_MKVMERGE_PATH": "/a/mkvmerge"},
			check: func(t *testing.T, c *Config) {
				if c.Tools.MKVMerge != "/b/mkvmerge" || c.Sources["tools.mkvmerge"] != SourceFile {
					t.Errorf("tools.mkvmerge = %q from %s", c.Tools.MKVMerge, c.Sources["tools.mkvmerge"])
				}
			}},
		{name: "max_queued range", file: "[jobs]\nmax_queued = 0\n", want: "jobs.max_queued: 0 is out of range (1-1000000)"},
		{name: "probe timeout range", file: "[jobs]\nprobe_timeout = 0\n", want: "jobs.probe_timeout: 0 is out of range (1-86400 seconds)"},
		{name: "nan seconds", file: "[jobs]\njob_timeout = nan\n", want: "jobs.job_timeout: nan is not a number of seconds"},
		{name: "token is not a file key", file: "[server]\nauth_token = \"0123456789abcdef0123\"\n", want: ":2:1: server.auth_token: unknown key"},
		{name: "flag origin", flags: map[string]string{"server.bind": "0.0.0.0"},
			want: `config flag: server.bind: "0.0.0.0" is not a loopback address`},
		{name: "not a flag", flags: map[string]string{"jobs.workers": "2"}, want: "config flag: jobs.workers: no such flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			flags := Flags{Values: tt.flags}
			if tt.file != "" {
				path := writeFile(t, home, tt.file)
				flags.ConfigPath = &path
			}
			cfg, err := Load(flags, Options{Home: home, Getenv: envFrom(tt.env)})
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg)
		})
	}
}

package config

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of a setting's value. It fixes how the value is written in the
// file, the environment and a flag, and how it is checked.
type Kind string

// The kinds of settings.
const (
	// KindString is text.
	KindString Kind = "string"
	// KindInt is an integer.
	KindInt Kind = "int"
	// KindPort is a TCP port number.
	KindPort Kind = "port"
	// KindSeconds is a duration written as a number of seconds, fractions allowed.
	KindSeconds Kind = "seconds"
	// KindBool is true or false.
	KindBool Kind = "bool"
	// KindEnum is one of the setting's Allowed values.
	KindEnum Kind = "enum"
	// KindList is a list of strings: a TOML array of strings, or comma-separated in
	// the environment and in a flag.
	KindList Kind = "list"
	// KindPath is a file or directory; a relative path resolves against the data dir.
	KindPath Kind = "path"
	// KindProgram is an external program: a path, or a name that is looked up in PATH
	// when it runs. Empty means the program's own name, looked up in PATH.
	KindProgram Kind = "program"
	// KindRoots is library.roots: a TOML array whose entries are paths or tables
	// ([[library.roots]] with path, policy, mode, watch, schedule). File only.
	KindRoots Kind = "roots"
)

// Spec describes one setting. The table of specs (Specs) is the one list of vpo's
// settings: the file decoder, the environment reader, the flags of `vpo serve`, the
// effective settings and docs/operations.md's settings table are derived from it.
type Spec struct {
	// Key is the dotted name. It is also the setting's place in the TOML file:
	// "server.port" is port in the [server] table.
	Key string
	// Env is the environment variable, "" for none.
	Env string
	// Flag is the long flag of `vpo serve` and `vpo config show`, "" for none; Short
	// is its one-letter shorthand, "" for none.
	Flag, Short string
	// Kind is the value's type.
	Kind Kind
	// Allowed lists the values of a KindEnum setting.
	Allowed []string
	// Min and Max bound a number (KindInt, KindPort, KindSeconds), inclusive. Both
	// zero means unbounded.
	Min, Max float64
	// Default is the built-in value, typed as the field is: string, int,
	// time.Duration, bool or []string. Nil is the zero value.
	Default any
	// DefaultDoc describes the default for people where Default would mislead (a
	// value that depends on the machine, or a path under the data dir).
	DefaultDoc string
	// Required rejects an empty value.
	Required bool
	// Secret values are never logged or shown; only whether they are set is.
	Secret bool
	// HidePassword values are URLs shown with their password redacted.
	HidePassword bool
	// NotInFile settings cannot be set in the config file.
	NotInFile bool
	// Doc is a one-line description.
	Doc string

	// field returns a pointer to the setting's field in c: *string, *int,
	// *time.Duration, *bool or *[]string, as Kind says.
	field func(c *Config) any
}

// defaultExtensions are the file extensions counted as video by default.
var defaultExtensions = []string{"mkv", "mp4", "m4v", "avi", "mov", "webm", "ts", "m2ts", "mts", "wmv", "flv", "mpg", "mpeg"}

// specs is the table of settings. Adding a setting is one line here plus its field in
// Config; the rest follows. Keep the order of the file: top-level keys, then the
// tables.
var specs = []Spec{
	{Key: "database_path", Env: "VPO_DATABASE_PATH", Kind: KindPath, Default: "library.db", DefaultDoc: "`~/.vpo/library.db`", Required: true,
		Doc: "the SQLite file holding the catalogue and the job queue (not with `database.url`)", field: func(c *Config) any { return &c.DatabasePath }},
	{Key: "database.url", Env: "VPO_DATABASE_URL", Kind: KindString, HidePassword: true,
		Doc: "PostgreSQL instead of the SQLite file: `postgres://user@host:5432/dbname` (libpq URL; PG* variables and ~/.pgpass apply); not with `database_path`; shown with its password redacted", field: func(c *Config) any { return &c.Database.URL }},
	{Key: "database.password_file", Env: "VPO_DATABASE_PASSWORD_FILE", Kind: KindPath,
		Doc: "file holding the PostgreSQL password, read at startup (else the URL's, `PGPASSWORD` or ~/.pgpass)", field: func(c *Config) any { return &c.Database.PasswordFile }},

	{Key: "node.name", Env: "VPO_NODE_NAME", Kind: KindString, DefaultDoc: "the host name",
		Doc: "this vpo serve's name among the nodes that share a PostgreSQL `database.url`: one daemon per name (its lock), its jobs, `GET /api/nodes`", field: func(c *Config) any { return &c.Node.Name }},

	{Key: "server.bind", Env: "VPO_SERVER_BIND", Flag: "bind", Kind: KindString, Default: DefaultBind,
		Doc: "address to listen on", field: func(c *Config) any { return &c.Server.Bind }},
	{Key: "server.port", Env: "VPO_SERVER_PORT", Flag: "port", Short: "p", Kind: KindPort, Min: 1, Max: 65535, Default: DefaultPort,
		Doc: "TCP port to listen on", field: func(c *Config) any { return &c.Server.Port }},
	{Key: "server.shutdown_timeout", Env: "VPO_SERVER_SHUTDOWN_TIMEOUT", Kind: KindSeconds, Min: 0, Max: 86400, Default: DefaultShutdownTimeout,
		Doc: "seconds that running jobs and requests get to finish on shutdown", field: func(c *Config) any { return &c.Server.ShutdownTimeout }},
	{Key: "server.auth_token_file", Env: "VPO_SERVER_AUTH_TOKEN_FILE", Kind: KindPath,
		Doc: "file holding the bearer token that /api/ requires (required beyond loopback)", field: func(c *Config) any { return &c.Server.AuthTokenFile }},
	{Key: "server.auth_token", Env: "VPO_AUTH_TOKEN", Kind: KindString, Secret: true, NotInFile: true,
		Doc: "the bearer token itself, at least 16 characters; read from auth_token_file when that is set", field: func(c *Config) any { return &c.Server.AuthToken }},
	{Key: "server.allow_unauthenticated", Kind: KindBool, Default: false,
		Doc: "true: allow a non-loopback bind without a token", field: func(c *Config) any { return &c.Server.AllowUnauthenticated }},
	{Key: "server.metrics_public", Kind: KindBool, Default: false,
		Doc: "true: `GET /metrics` needs no token even beyond loopback (on a loopback bind it never does)", field: func(c *Config) any { return &c.Server.MetricsPublic }},
	{Key: "server.allowed_hosts", Env: "VPO_SERVER_ALLOWED_HOSTS", Kind: KindList,
		Doc: "host names or addresses, without port, accepted in the Host header besides the bound address and loopback names; `*` accepts any host", field: func(c *Config) any { return &c.Server.AllowedHosts }},

	{Key: "logging.level", Env: "VPO_LOG_LEVEL", Flag: "log-level", Kind: KindEnum, Allowed: LogLevels, Default: DefaultLogLevel,
		Doc: "log level: debug, info, warning or error", field: func(c *Config) any { return &c.Logging.Level }},
	{Key: "logging.format", Env: "VPO_LOG_FORMAT", Flag: "log-format", Kind: KindEnum, Allowed: LogFormats, Default: DefaultLogFormat,
		Doc: "log format: text or json", field: func(c *Config) any { return &c.Logging.Format }},
	{Key: "logging.journal", Env: "VPO_LOG_JOURNAL", Kind: KindEnum, Allowed: JournalMode, Default: DefaultJournal,
		Doc: "auto: journald's native protocol when stderr is the journal; on; off", field: func(c *Config) any { return &c.Logging.Journal }},

	{Key: "tools.ffprobe", Env: "VPO_FFPROBE_PATH", Kind: KindProgram, DefaultDoc: "`ffprobe` from PATH",
		Doc: "the ffprobe binary, which reads containers and tracks", field: func(c *Config) any { return &c.Tools.FFprobe }},
	{Key: "tools.ffmpeg", Env: "VPO_FFMPEG_PATH", Kind: KindProgram, DefaultDoc: "`ffmpeg` from PATH",
		Doc: "the ffmpeg binary", field: func(c *Config) any { return &c.Tools.FFmpeg }},
	{Key: "tools.mkvmerge", Env: "VPO_MKVMERGE_PATH", Kind: KindProgram, DefaultDoc: "`mkvmerge` from PATH",
		Doc: "the mkvmerge binary (MKVToolNix)", field: func(c *Config) any { return &c.Tools.MKVMerge }},
	{Key: "tools.mkvpropedit", Env: "VPO_MKVPROPEDIT_PATH", Kind: KindProgram, DefaultDoc: "`mkvpropedit` from PATH",
		Doc: "the mkvpropedit binary (MKVToolNix)", field: func(c *Config) any { return &c.Tools.MKVPropEdit }},

	{Key: "jobs.workers", Env: "VPO_JOBS_WORKERS", Kind: KindInt, Min: 1, Max: 256, Default: runtime.NumCPU(), DefaultDoc: "number of CPUs",
		Doc: "jobs at once, and ffprobe processes at once", field: func(c *Config) any { return &c.Jobs.Workers }},
	{Key: "jobs.probe_timeout", Kind: KindSeconds, Min: 1, Max: 86400, Default: DefaultProbeTimeout,
		Doc: "seconds one ffprobe run may take before it is killed with its process group", field: func(c *Config) any { return &c.Jobs.ProbeTimeout }},
	{Key: "jobs.job_timeout", Kind: KindSeconds, Min: 1, Max: 604800, Default: DefaultJobTimeout,
		Doc: "seconds one job may run", field: func(c *Config) any { return &c.Jobs.JobTimeout }},
	{Key: "jobs.max_queued", Kind: KindInt, Min: 1, Max: 1000000, Default: DefaultMaxQueued,
		Doc: "queued jobs at most; more submissions get 429", field: func(c *Config) any { return &c.Jobs.MaxQueued }},

	{Key: "library.roots", Kind: KindRoots,
		Doc: "the library roots: absolute paths, or `[[library.roots]]` tables (path, policy, mode, watch, schedule; see Watched roots); when set, the only directories scans may read", field: func(c *Config) any { return &c.Library.RootConfigs }},
	{Key: "library.settle", Kind: KindSeconds, Min: 1, Max: 86400, Default: DefaultSettle,
		Doc: "seconds a new or changed file in a watched root must keep its size and mtime before vpo handles it", field: func(c *Config) any { return &c.Library.Settle }},
	{Key: "library.extensions", Kind: KindList, Default: defaultExtensions,
		Doc: "file extensions counted as video, without dots", field: func(c *Config) any { return &c.Library.Extensions }},

	{Key: "policies.dir", Env: "VPO_POLICIES_DIR", Kind: KindPath, Default: "policies", DefaultDoc: "`~/.vpo/policies`", Required: true,
		Doc: "directory of policy files, where `vpo policy` reads them", field: func(c *Config) any { return &c.Policies.Dir }},
	{Key: "policies.require_approval", Kind: KindBool, Default: true,
		Doc: "apply jobs run only approved plans; false applies what a fresh plan says at once (the apply jobs of a root with mode apply never wait for approval: see Watched roots)", field: func(c *Config) any { return &c.Policies.RequireApproval }},

	{Key: "apply.settle", Kind: KindSeconds, Min: 0, Max: 86400, Default: DefaultApplySettle,
		Doc: "seconds a file must be unchanged (by mtime) before an apply rewrites it; 0 disables the check", field: func(c *Config) any { return &c.Apply.Settle }},
	{Key: "apply.in_place", Kind: KindEnum, Allowed: InPlaceModes, Default: "never",
		Doc: "auto: metadata-only Matroska edits are made in place by mkvpropedit under a crash journal; never: always a temp file and rename", field: func(c *Config) any { return &c.Apply.InPlace }},
	{Key: "apply.workers", Kind: KindInt, Min: 1, Max: 16, Default: DefaultApplyWorkers,
		Doc: "files one apply job (or `vpo policy run`) works on at once", field: func(c *Config) any { return &c.Apply.Workers }},
	{Key: "apply.backup", Kind: KindEnum, Allowed: BackupModes, Default: "none",
		Doc: "keep: the version a rewrite replaces stays as `NAME.vpo-backup` (a hard link, no copy; the first one is kept, never overwritten); none: no backup", field: func(c *Config) any { return &c.Apply.Backup }},
}

// ConfigPathEnv names the config file to read, like --config.
const ConfigPathEnv = "VPO_CONFIG_PATH"

// Specs returns the table of settings, in the order of the config file.
func Specs() []Spec { return slices.Clone(specs) }

// lookupSpec returns the spec of key, or nil.
func lookupSpec(key string) *Spec {
	for i := range specs {
		if specs[i].Key == key {
			return &specs[i]
		}
	}
	return nil
}

// set stores v, typed as the field is, in c.
func (s *Spec) set(c *Config, v any) {
	switch p := s.field(c).(type) {
	case *string:
		*p = v.(string)
	case *int:
		*p = v.(int)
	case *time.Duration:
		*p = v.(time.Duration)
	case *bool:
		*p = v.(bool)
	case *[]string:
		*p = slices.Clone(v.([]string))
	case *[]Root:
		*p = slices.Clone(v.([]Root))
	default:
		panic(fmt.Sprintf("config: setting %s has a field of unsupported type %T", s.Key, p))
	}
}

// get returns the setting's value in c.
func (s *Spec) get(c *Config) any {
	switch p := s.field(c).(type) {
	case *string:
		return *p
	case *int:
		return *p
	case *time.Duration:
		return *p
	case *bool:
		return *p
	case *[]string:
		return *p
	case *[]Root:
		return *p
	default:
		panic(fmt.Sprintf("config: setting %s has a field of unsupported type %T", s.Key, p))
	}
}

// setDefault stores the built-in default in c.
func (s *Spec) setDefault(c *Config) {
	if s.Default != nil {
		s.set(c, s.Default)
		return
	}
	switch p := s.field(c).(type) {
	case *string:
		*p = ""
	case *int:
		*p = 0
	case *time.Duration:
		*p = 0
	case *bool:
		*p = false
	case *[]string:
		*p = nil
	case *[]Root:
		*p = nil
	}
}

// parseText reads a value written as in the environment or a flag.
func (s *Spec) parseText(text string) (any, error) {
	switch s.Kind {
	case KindInt, KindPort:
		n, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", text)
		}
		return n, nil
	case KindSeconds:
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil || math.IsNaN(f) {
			return nil, fmt.Errorf("%q is not a number of seconds", text)
		}
		return secondsToDuration(f), nil
	case KindBool:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", text)
		}
		return b, nil
	case KindList:
		parts := strings.Split(text, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts, nil
	default:
		return text, nil
	}
}

// ParseFlag checks a flag's value, so that a bad one is a usage error naming what is
// allowed. The value itself reaches Load through Flags.
func (s Spec) ParseFlag(text string) error {
	v, err := s.parseText(text)
	switch s.Kind {
	case KindPort:
		if err != nil || !s.inRange(v) {
			return fmt.Errorf("not a port number (%s)", s.rangeText())
		}
	case KindEnum:
		if !slices.Contains(s.Allowed, text) {
			return fmt.Errorf("must be one of %s", strings.Join(s.Allowed, ", "))
		}
	default:
		if err != nil {
			return err
		}
		if !s.inRange(v) {
			return fmt.Errorf("out of range (%s)", s.rangeText())
		}
	}
	return nil
}

// FlagType names the flag's value in `vpo serve --help`.
func (s Spec) FlagType() string {
	switch s.Kind {
	case KindEnum:
		return strings.Join(s.Allowed, "|")
	case KindList:
		return "strings"
	case KindProgram, KindPath:
		return "string"
	default:
		return string(s.Kind)
	}
}

// DefaultText is the default written as in the environment or a flag, "" for none.
func (s Spec) DefaultText() string {
	switch v := s.Default.(type) {
	case nil:
		return ""
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case time.Duration:
		return strconv.FormatFloat(v.Seconds(), 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case []string:
		return strings.Join(v, ",")
	default:
		return fmt.Sprint(v)
	}
}

func (s *Spec) bounded() bool { return s.Min != 0 || s.Max != 0 }

// inRange reports whether a number is within the setting's bounds.
func (s *Spec) inRange(v any) bool {
	if !s.bounded() {
		return true
	}
	var f float64
	switch n := v.(type) {
	case int:
		f = float64(n)
	case time.Duration:
		f = n.Seconds()
	default:
		return true
	}
	return f >= s.Min && f <= s.Max
}

// rangeText writes the bounds as the error messages show them: "1-65535".
func (s *Spec) rangeText() string {
	t := strconv.FormatFloat(s.Min, 'f', -1, 64) + "-" + strconv.FormatFloat(s.Max, 'f', -1, 64)
	if s.Kind == KindSeconds {
		t += " seconds"
	}
	return t
}

// outOfRange is the message for a value beyond the bounds.
func (s *Spec) outOfRange(v any) string {
	switch n := v.(type) {
	case time.Duration:
		return fmt.Sprintf("%g is out of range (%s)", n.Seconds(), s.rangeText())
	default:
		return fmt.Sprintf("%v is out of range (%s)", n, s.rangeText())
	}
}

// display is the value as the effective settings show it: secrets redacted,
// durations as Go writes them ("30s").
func (s *Spec) display(c *Config) any {
	v := s.get(c)
	if s.Secret {
		return redact(fmt.Sprint(v))
	}
	if s.HidePassword {
		return RedactURL(fmt.Sprint(v))
	}
	switch v := v.(type) {
	case time.Duration:
		return v.String()
	case []string:
		return append([]string{}, v...)
	case []Root:
		out := make([]string, len(v))
		for i, r := range v {
			out[i] = r.String()
		}
		return out
	}
	return v
}

// Package config loads vpo's configuration from built-in defaults, the environment, a
// TOML file and command-line flags, validates it once, and records where each
// effective value came from.
//
// Precedence, as vpo's specification demands, is: flag > config file > environment >
// built-in default. (Most tools put the environment above the file; vpo keeps the
// original Python vpo's order so existing deployments behave the same.)
//
// Every setting is listed once, in the table of settings.go (key, variable, flag,
// kind, default, range, secret, description); the file layout, the environment
// reader, the flags of `vpo serve`, Config.Settings and docs/operations.md's table
// are derived from it. To add a setting, add its field to Config and one line to
// the table, then run go generate ./internal/config.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Source says where an effective setting came from.
type Source string

// The sources of a setting, from weakest to strongest.
const (
	SourceDefault Source = "default"
	SourceEnv     Source = "env"
	SourceFile    Source = "file"
	SourceFlag    Source = "flag"
)

// Built-in defaults.
const (
	DefaultBind            = "127.0.0.1"
	DefaultPort            = 8321
	DefaultShutdownTimeout = 30 * time.Second
	DefaultLogLevel        = "info"
	DefaultLogFormat       = "text"
	DefaultJournal         = "auto"
	DefaultProbeTimeout    = 120 * time.Second
	DefaultJobTimeout      = 6 * time.Hour
	DefaultMaxQueued       = 10000
	DefaultSettle          = 60 * time.Second
	DefaultApplySettle     = 60 * time.Second
	DefaultApplyWorkers    = 2
)

// Allowed values of the enumerated settings.
var (
	LogLevels   = []string{"debug", "info", "warning", "error"}
	LogFormats  = []string{"text", "json"}
	JournalMode = []string{"auto", "on", "off"}
	// InPlaceModes are the values of apply.in_place.
	InPlaceModes = []string{"auto", "never"}
	// BackupModes are the values of apply.backup.
	BackupModes = []string{"none", "keep"}
)

// Config is vpo's effective configuration.
type Config struct {
	// DataDir is vpo's own directory (~/.vpo); relative paths resolve against it.
	DataDir string
	// File is the config file that was read, or "" when none was.
	File string

	// DatabasePath is the SQLite file; "" when Database.URL selects PostgreSQL.
	DatabasePath string
	Database     DatabaseConfig
	Node         NodeConfig

	Server   ServerConfig
	Logging  LoggingConfig
	Tools    ToolsConfig
	Jobs     JobsConfig
	Library  LibraryConfig
	Policies PoliciesConfig
	Apply    ApplyConfig

	// Sources maps each setting's dotted key (for example "server.port") to where its
	// effective value came from.
	Sources map[string]Source
}

// DatabaseConfig is the [database] table: PostgreSQL instead of the SQLite file.
type DatabaseConfig struct {
	// URL is the PostgreSQL connection URL (postgres://user@host:port/dbname?...);
	// "" keeps the SQLite file of database_path. Exactly one of the two is set.
	// It may hold a password: it is shown only with the password redacted.
	URL string
	// PasswordFile holds the PostgreSQL password, read once at startup.
	PasswordFile string
	// Password is the password read from PasswordFile ("" when none: the URL's,
	// PGPASSWORD or ~/.pgpass apply, as libpq's rules say). Secret.
	Password string
}

// NodeConfig is the [node] table.
type NodeConfig struct {
	// Name is this daemon's node name; "" means the host name (see NodeName).
	Name string
}

// NodeName is the node's name: node.name, else the host name, else "vpo".
func (c *Config) NodeName() string {
	if c.Node.Name != "" {
		return c.Node.Name
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "vpo"
}

// Postgres reports whether the configuration selects PostgreSQL.
func (c *Config) Postgres() bool { return c.Database.URL != "" }

// ServerConfig is the [server] table.
type ServerConfig struct {
	Bind            string
	Port            int
	ShutdownTimeout time.Duration
	// AuthTokenFile holds the bearer token that /api/ requires.
	AuthTokenFile string
	// AuthToken is the token itself, read from AuthTokenFile or VPO_AUTH_TOKEN.
	// It is secret: never logged, and redacted wherever settings are shown.
	AuthToken string
	// AllowUnauthenticated lets vpo listen beyond loopback without a token.
	AllowUnauthenticated bool
	// MetricsPublic serves /metrics without the token even beyond loopback.
	MetricsPublic bool
	// AllowedHosts are the host names and addresses (lower-case, without port)
	// accepted in a request's Host header besides the bound address and loopback
	// names; "*" accepts any host.
	AllowedHosts []string
}

// MinTokenLength is the shortest bearer token vpo accepts.
const MinTokenLength = 16

// LoggingConfig is the [logging] table.
type LoggingConfig struct {
	Level   string
	Format  string
	Journal string
}

// ToolsConfig is the [tools] table: the external programs vpo runs. Each is a path,
// or a name looked up in PATH when it runs; "" means the program's own name.
type ToolsConfig struct {
	FFprobe     string
	FFmpeg      string
	MKVMerge    string
	MKVPropEdit string
}

// JobsConfig is the [jobs] table.
type JobsConfig struct {
	Workers      int
	ProbeTimeout time.Duration
	JobTimeout   time.Duration
	// MaxQueued caps the queued jobs; submissions beyond it get 429.
	MaxQueued int
}

// LibraryConfig is the [library] table.
type LibraryConfig struct {
	// RootConfigs are the library roots as configured, in both forms: a plain path
	// (mode catalog, not watched) or a [[library.roots]] table.
	RootConfigs []Root
	// Roots are the paths of RootConfigs (set by validation). When not empty they are
	// the only directories scans may read.
	Roots []string
	// Settle is how long a new or changed file in a watched root must keep its size
	// and mtime before it is handled.
	Settle time.Duration
	// Extensions are the file extensions counted as video, without dots.
	Extensions []string
}

// PoliciesConfig is the [policies] table.
type PoliciesConfig struct {
	// Dir is the directory of policy files (absolute once loaded).
	Dir string
	// RequireApproval makes apply jobs run only approved plans; false applies what
	// a fresh plan says at once.
	RequireApproval bool
}

// ApplyConfig is the [apply] table: how plans are carried out.
type ApplyConfig struct {
	// Settle is how long a file must be unchanged before it is rewritten.
	Settle time.Duration
	// InPlace is "auto" (mkvpropedit edits in place under a journal) or "never".
	InPlace string
	// Backup is "none" or "keep" (the old version stays as NAME.vpo-backup, a
	// hard link).
	Backup string
	// Workers is how many files one apply job works on at once.
	Workers int
}

// Addr returns the listen address in host:port form.
func (c *Config) Addr() string {
	host := c.Server.Bind
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("%s:%d", host, c.Server.Port)
}

// Setting is one effective setting, for logging at startup and `vpo config show`.
type Setting struct {
	Key string
	// Value is the effective value: a string, int, bool or []string; durations as
	// Go writes them ("30s"); secrets only say whether they are set.
	Value  any
	Source Source
}

// Settings lists every effective setting of the table, in key order, with its
// source.
func (c *Config) Settings() []Setting {
	out := make([]Setting, 0, len(specs))
	for i := range specs {
		s := &specs[i]
		src := c.Sources[s.Key]
		if src == "" {
			src = SourceDefault
		}
		out = append(out, Setting{Key: s.Key, Value: s.display(c), Source: src})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// redact shows whether a secret is set, never its value.
func redact(secret string) string {
	if secret == "" {
		return "(not set)"
	}
	return "(set, redacted)"
}

// Error is a configuration error. vpo exits with EX_CONFIG (78) on it, so that
// systemd can be told not to restart a daemon whose configuration is wrong.
type Error struct {
	// Origin names what was wrong: a file path, "environment VPO_X" or "flag --x".
	Origin string
	// Key is the dotted setting, when known.
	Key string
	// Line and Column locate the problem in a file, when known (1-based).
	Line, Column int
	// Msg says what is wrong.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config ")
	b.WriteString(e.Origin)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Flags holds the command-line flags that override the configuration.
type Flags struct {
	// ConfigPath is --config; nil when it was not given.
	ConfigPath *string
	// Values maps a setting's key to the value given as its flag, written as in the
	// environment. Only flags given on the command line belong here.
	Values map[string]string
}

// Set records that the flag of the setting key was given with value.
func (f *Flags) Set(key, value string) {
	if f.Values == nil {
		f.Values = map[string]string{}
	}
	f.Values[key] = value
}

// Options are the inputs of Load other than flags.
type Options struct {
	// Getenv looks up an environment variable; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// Home is the user's home directory; "" means os.UserHomeDir.
	Home string
}

// Default returns the built-in defaults with dataDir as the data directory; paths
// are resolved against it.
func Default(dataDir string) *Config {
	c := &Config{DataDir: dataDir, Sources: map[string]Source{}}
	for i := range specs {
		s := &specs[i]
		s.setDefault(c)
		if p, ok := s.field(c).(*string); ok && s.Kind == KindPath && *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dataDir, *p)
		}
	}
	return c
}

// DataDir returns vpo's data directory, ~/.vpo.
func DataDir(home string) (string, error) {
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", &Error{Origin: "environment HOME", Msg: "cannot find the home directory for ~/.vpo: " + err.Error(), Err: err}
		}
		home = h
	}
	return filepath.Join(home, ".vpo"), nil
}

// Load builds the effective configuration: defaults, then the environment, then the
// config file, then flags; then validates the result once. Every error it returns is
// an *Error.
func Load(flags Flags, opts Options) (*Config, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	lookup := func(name string) (string, bool) {
		v, ok := getenv(name)
		if !ok || v == "" {
			// An empty variable counts as unset: systemd's Environment=VAR= and
			// shell "VAR=" both mean "not configured" to an operator.
			return "", false
		}
		return v, true
	}

	dataDir, err := DataDir(opts.Home)
	if err != nil {
		return nil, err
	}
	cfg := Default(dataDir)

	if err := applyEnv(cfg, lookup); err != nil {
		return nil, err
	}

	// The config file: --config, else VPO_CONFIG_PATH, else ~/.vpo/config.toml. Only
	// the default path may be missing.
	path, explicit := filepath.Join(dataDir, "config.toml"), false
	if v, ok := lookup(ConfigPathEnv); ok {
		path, explicit = v, true
	}
	if flags.ConfigPath != nil {
		path, explicit = *flags.ConfigPath, true
	}
	if err := applyFile(cfg, path, explicit); err != nil {
		return nil, err
	}

	if err := applyFlags(cfg, flags); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func applyFlags(cfg *Config, f Flags) error {
	for i := range specs {
		s := &specs[i]
		text, ok := f.Values[s.Key]
		if !ok {
			continue
		}
		v, err := s.parseText(text)
		if err != nil {
			return &Error{Origin: "flag --" + s.Flag, Key: s.Key, Msg: err.Error()}
		}
		s.set(cfg, v)
		cfg.Sources[s.Key] = SourceFlag
	}
	for key := range f.Values {
		if s := lookupSpec(key); s == nil || s.Flag == "" {
			return &Error{Origin: "flag", Key: key, Msg: "no such flag"}
		}
	}
	return nil
}

// origin describes where key's value came from, for validation messages.
func (c *Config) origin(key string) string {
	switch c.Sources[key] {
	case SourceFile:
		return c.File
	case SourceEnv:
		if s := lookupSpec(key); s != nil && s.Env != "" {
			return "environment " + s.Env
		}
		return "environment"
	case SourceFlag:
		return "flag"
	default:
		return "default"
	}
}

func (c *Config) fail(key, format string, args ...any) error {
	return &Error{Origin: c.origin(key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// validate checks every setting once, at the end, naming the key and its allowed
// values in each message. The table's rules (required, enum values, ranges, paths
// resolved against the data dir) come first, in table order; then the rules that
// need more than one setting or more than a range.
func (c *Config) validate() error {
	for i := range specs {
		if err := c.checkSpec(&specs[i]); err != nil {
			return err
		}
	}
	if strings.TrimSpace(c.Server.Bind) == "" {
		return c.fail("server.bind", "must not be empty (use 127.0.0.1, 0.0.0.0 or an address of this machine)")
	}
	if err := c.validateAuth(); err != nil {
		return err
	}
	if err := c.validateDatabase(); err != nil {
		return err
	}
	if n := c.Node.Name; n != "" && (len(n) > 100 || strings.IndexFunc(n, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0) {
		return c.fail("node.name", "%q must be at most 100 characters without spaces or control characters", n)
	}
	if err := c.validateAllowedHosts(); err != nil {
		return err
	}
	if err := c.validateRoots(); err != nil {
		return err
	}
	if len(c.Library.Extensions) == 0 {
		return c.fail("library.extensions", "must list at least one extension")
	}
	for i, e := range c.Library.Extensions {
		e = strings.ToLower(strings.TrimPrefix(e, "."))
		if e == "" || strings.ContainsAny(e, `./\`) {
			return c.fail("library.extensions", "entry %d %q is not a file extension", i+1, c.Library.Extensions[i])
		}
		c.Library.Extensions[i] = e
	}
	return nil
}

// checkSpec applies the table's rules for one setting.
func (c *Config) checkSpec(s *Spec) error {
	v := s.get(c)
	if str, ok := v.(string); ok {
		if s.Required && str == "" {
			return c.fail(s.Key, "must not be empty")
		}
		if s.Kind == KindPath && str != "" && !filepath.IsAbs(str) {
			s.set(c, filepath.Join(c.DataDir, str))
		}
		if s.Kind == KindEnum && !oneOf(str, s.Allowed) {
			return c.fail(s.Key, "%q is not one of %s", str, strings.Join(s.Allowed, ", "))
		}
	}
	if !s.inRange(v) {
		return c.fail(s.Key, "%s", s.outOfRange(v))
	}
	return nil
}

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// IsConfigError reports whether err is a configuration error.
func IsConfigError(err error) bool {
	var ce *Error
	return errors.As(err, &ce)
}

// validateAuth loads the bearer token and refuses to listen beyond loopback without
// one, unless the operator explicitly allows it.
func (c *Config) validateAuth() error {
	if f := c.Server.AuthTokenFile; f != "" {
		data, err := readConfig(f)
		if err != nil {
			return c.fail("server.auth_token_file", "%s: %s", f, describeReadError(err))
		}
		c.Server.AuthToken = strings.TrimSpace(string(data))
		c.Sources["server.auth_token"] = c.Sources["server.auth_token_file"]
		if c.Server.AuthToken == "" {
			return c.fail("server.auth_token_file", "%s is empty", f)
		}
	}
	if t := c.Server.AuthToken; t != "" {
		if len(t) < MinTokenLength {
			return c.fail("server.auth_token", "the token is %d characters; use at least %d (for example: openssl rand -hex 32)", len(t), MinTokenLength)
		}
		if strings.ContainsAny(t, " \t\r\n") {
			return c.fail("server.auth_token", "the token must not contain whitespace")
		}
	}
	if c.Server.AuthToken == "" && !c.Server.AllowUnauthenticated && !IsLoopback(c.Server.Bind) {
		return c.fail("server.bind", "%q is not a loopback address, and no token is configured: set server.auth_token_file (or VPO_AUTH_TOKEN), or set server.allow_unauthenticated = true to expose the API without authentication", c.Server.Bind)
	}
	return nil
}

// IsLoopback reports whether a bind address only accepts connections from this
// machine.
func IsLoopback(bind string) bool {
	host := strings.Trim(bind, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateAllowedHosts checks server.allowed_hosts: each entry a host name or an IP
// address without scheme, port or path, or "*" for any host. Names are lower-cased
// and IPv6 brackets dropped, so that callers compare them with the Host header's
// host as it is.
func (c *Config) validateAllowedHosts() error {
	for i, h := range c.Server.AllowedHosts {
		bad := func(why string) error {
			return c.fail("server.allowed_hosts", "entry %d %q %s", i+1, h, why)
		}
		switch {
		case h == "":
			return bad("is empty")
		case h == "*":
			continue
		case strings.Contains(h, "://"):
			return bad("has a scheme: give the host name alone")
		case strings.ContainsAny(h, "/?#@"):
			return bad("is not a host name or address: give the host name alone, without path")
		}
		if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); ip != nil {
			c.Server.AllowedHosts[i] = ip.String()
			continue
		}
		if strings.Contains(h, ":") {
			return bad("has a port: give the host name alone")
		}
		if !validHostName(h) {
			return bad("is not a host name or address")
		}
		c.Server.AllowedHosts[i] = strings.ToLower(h)
	}
	return nil
}

// validHostName reports whether h is a DNS name: dot-separated labels of letters,
// digits, '-' and '_', with an optional trailing dot.
func validHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

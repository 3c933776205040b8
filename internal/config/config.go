// Package config loads vpo's configuration from built-in defaults, the environment, a
// TOML file and command-line flags, validates it once, and records where each
// effective value came from.
//
// Precedence, as vpo's specification demands, is: flag > config file > environment >
// built-in default. (Most tools put the environment above the file; vpo keeps the
// original Python vpo's order so existing deployments behave the same.)
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
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
)

// Allowed values of the enumerated settings.
var (
	LogLevels   = []string{"debug", "info", "warning", "error"}
	LogFormats  = []string{"text", "json"}
	JournalMode = []string{"auto", "on", "off"}
)

// Config is vpo's effective configuration.
type Config struct {
	// DataDir is vpo's own directory (~/.vpo); relative paths resolve against it.
	DataDir string
	// File is the config file that was read, or "" when none was.
	File string

	DatabasePath string

	Server  ServerConfig
	Logging LoggingConfig
	Tools   ToolsConfig
	Jobs    JobsConfig
	Library LibraryConfig

	// Sources maps each setting's dotted key (for example "server.port") to where its
	// effective value came from.
	Sources map[string]Source
}

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
}

// MinTokenLength is the shortest bearer token vpo accepts.
const MinTokenLength = 16

// LoggingConfig is the [logging] table.
type LoggingConfig struct {
	Level   string
	Format  string
	Journal string
}

// ToolsConfig is the [tools] table.
type ToolsConfig struct {
	// FFprobe is the ffprobe binary; "" means look it up in PATH.
	FFprobe string
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
	// Roots, when not empty, are the only directories scans may read.
	Roots []string
	// Extensions are the file extensions counted as video, without dots.
	Extensions []string
}

// Addr returns the listen address in host:port form.
func (c *Config) Addr() string {
	host := c.Server.Bind
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("%s:%d", host, c.Server.Port)
}

// Setting is one effective setting, for logging at startup.
type Setting struct {
	Key    string
	Value  any
	Source Source
}

// Settings lists the effective settings in key order with their sources.
func (c *Config) Settings() []Setting {
	values := map[string]any{
		"database_path":                c.DatabasePath,
		"server.bind":                  c.Server.Bind,
		"server.port":                  c.Server.Port,
		"server.shutdown_timeout":      c.Server.ShutdownTimeout.String(),
		"server.auth_token_file":       c.Server.AuthTokenFile,
		"server.auth_token":            redact(c.Server.AuthToken),
		"server.allow_unauthenticated": c.Server.AllowUnauthenticated,
		"logging.level":                c.Logging.Level,
		"logging.format":               c.Logging.Format,
		"logging.journal":              c.Logging.Journal,
		"tools.ffprobe":                c.Tools.FFprobe,
		"jobs.workers":                 c.Jobs.Workers,
		"jobs.probe_timeout":           c.Jobs.ProbeTimeout.String(),
		"jobs.job_timeout":             c.Jobs.JobTimeout.String(),
		"library.roots":                c.Library.Roots,
		"library.extensions":           c.Library.Extensions,
	}
	out := make([]Setting, 0, len(values))
	for k, v := range values {
		src := c.Sources[k]
		if src == "" {
			src = SourceDefault
		}
		out = append(out, Setting{Key: k, Value: v, Source: src})
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

// Flags holds the command-line flags that override the configuration; a nil field
// was not given.
type Flags struct {
	ConfigPath *string
	Bind       *string
	Port       *int
	LogLevel   *string
	LogFormat  *string
}

// Options are the inputs of Load other than flags.
type Options struct {
	// Getenv looks up an environment variable; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// Home is the user's home directory; "" means os.UserHomeDir.
	Home string
}

// Default returns the built-in defaults with dataDir as the data directory.
func Default(dataDir string) *Config {
	return &Config{
		DataDir:      dataDir,
		DatabasePath: filepath.Join(dataDir, "library.db"),
		Server: ServerConfig{
			Bind:            DefaultBind,
			Port:            DefaultPort,
			ShutdownTimeout: DefaultShutdownTimeout,
		},
		Logging: LoggingConfig{Level: DefaultLogLevel, Format: DefaultLogFormat, Journal: DefaultJournal},
		Jobs: JobsConfig{
			Workers:      runtime.NumCPU(),
			ProbeTimeout: DefaultProbeTimeout,
			JobTimeout:   DefaultJobTimeout,
			MaxQueued:    DefaultMaxQueued,
		},
		Library: LibraryConfig{Extensions: []string{
			"mkv", "mp4", "m4v", "avi", "mov", "webm", "ts", "m2ts", "mts", "wmv", "flv", "mpg", "mpeg",
		}},
		Sources: map[string]Source{},
	}
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
	if v, ok := lookup("VPO_CONFIG_PATH"); ok {
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
	if f.Bind != nil {
		cfg.Server.Bind = *f.Bind
		cfg.Sources["server.bind"] = SourceFlag
	}
	if f.Port != nil {
		cfg.Server.Port = *f.Port
		cfg.Sources["server.port"] = SourceFlag
	}
	if f.LogLevel != nil {
		cfg.Logging.Level = *f.LogLevel
		cfg.Sources["logging.level"] = SourceFlag
	}
	if f.LogFormat != nil {
		cfg.Logging.Format = *f.LogFormat
		cfg.Sources["logging.format"] = SourceFlag
	}
	return nil
}

// origin describes where key's value came from, for validation messages.
func (c *Config) origin(key string) string {
	switch c.Sources[key] {
	case SourceFile:
		return c.File
	case SourceEnv:
		if name, ok := envNames[key]; ok {
			return "environment " + name
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
// values in each message.
func (c *Config) validate() error {
	if c.DatabasePath == "" {
		return c.fail("database_path", "must not be empty")
	}
	if !filepath.IsAbs(c.DatabasePath) {
		c.DatabasePath = filepath.Join(c.DataDir, c.DatabasePath)
	}
	if strings.TrimSpace(c.Server.Bind) == "" {
		return c.fail("server.bind", "must not be empty (use 127.0.0.1, 0.0.0.0 or an address of this machine)")
	}
	if c.Server.Port < 1 || c.Server.Port > 65535 {
		return c.fail("server.port", "%d is out of range (1-65535)", c.Server.Port)
	}
	if c.Server.ShutdownTimeout < 0 || c.Server.ShutdownTimeout > 24*time.Hour {
		return c.fail("server.shutdown_timeout", "%g is out of range (0-86400 seconds)", c.Server.ShutdownTimeout.Seconds())
	}
	if err := c.validateAuth(); err != nil {
		return err
	}
	if !oneOf(c.Logging.Level, LogLevels) {
		return c.fail("logging.level", "%q is not one of %s", c.Logging.Level, strings.Join(LogLevels, ", "))
	}
	if !oneOf(c.Logging.Format, LogFormats) {
		return c.fail("logging.format", "%q is not one of %s", c.Logging.Format, strings.Join(LogFormats, ", "))
	}
	if !oneOf(c.Logging.Journal, JournalMode) {
		return c.fail("logging.journal", "%q is not one of %s", c.Logging.Journal, strings.Join(JournalMode, ", "))
	}
	if c.Jobs.Workers < 1 || c.Jobs.Workers > 256 {
		return c.fail("jobs.workers", "%d is out of range (1-256)", c.Jobs.Workers)
	}
	if c.Jobs.ProbeTimeout <= 0 || c.Jobs.ProbeTimeout > 24*time.Hour {
		return c.fail("jobs.probe_timeout", "%g is out of range (1-86400 seconds)", c.Jobs.ProbeTimeout.Seconds())
	}
	if c.Jobs.JobTimeout <= 0 || c.Jobs.JobTimeout > 7*24*time.Hour {
		return c.fail("jobs.job_timeout", "%g is out of range (1-604800 seconds)", c.Jobs.JobTimeout.Seconds())
	}
	if c.Jobs.MaxQueued < 1 || c.Jobs.MaxQueued > 1000000 {
		return c.fail("jobs.max_queued", "%d is out of range (1-1000000)", c.Jobs.MaxQueued)
	}
	for i, r := range c.Library.Roots {
		if !filepath.IsAbs(r) {
			return c.fail("library.roots", "entry %d %q is not an absolute path", i+1, r)
		}
		c.Library.Roots[i] = filepath.Clean(r)
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
		if !filepath.IsAbs(f) {
			f = filepath.Join(c.DataDir, f)
			c.Server.AuthTokenFile = f
		}
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

package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// envNames maps each setting read from the environment to its variable.
var envNames = map[string]string{
	"database_path":           "VPO_DATABASE_PATH",
	"server.bind":             "VPO_SERVER_BIND",
	"server.port":             "VPO_SERVER_PORT",
	"server.shutdown_timeout": "VPO_SERVER_SHUTDOWN_TIMEOUT",
	"logging.level":           "VPO_LOG_LEVEL",
	"logging.format":          "VPO_LOG_FORMAT",
	"logging.journal":         "VPO_LOG_JOURNAL",
	"tools.ffprobe":           "VPO_FFPROBE_PATH",
	"jobs.workers":            "VPO_JOBS_WORKERS",
	"server.auth_token_file":  "VPO_SERVER_AUTH_TOKEN_FILE",
	"server.auth_token":       "VPO_AUTH_TOKEN",
}

// EnvVars lists the environment variables vpo reads, for documentation and tests.
func EnvVars() []string {
	out := []string{"VPO_CONFIG_PATH"}
	for _, v := range envNames {
		out = append(out, v)
	}
	return out
}

func applyEnv(cfg *Config, lookup func(string) (string, bool)) error {
	str := func(key string, dst *string) {
		if v, ok := lookup(envNames[key]); ok {
			*dst = v
			cfg.Sources[key] = SourceEnv
		}
	}
	integer := func(key string, dst *int) error {
		name := envNames[key]
		v, ok := lookup(name)
		if !ok {
			return nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return &Error{Origin: "environment " + name, Key: key, Msg: fmt.Sprintf("%q is not an integer", v)}
		}
		*dst = n
		cfg.Sources[key] = SourceEnv
		return nil
	}
	seconds := func(key string, dst *time.Duration) error {
		name := envNames[key]
		v, ok := lookup(name)
		if !ok {
			return nil
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return &Error{Origin: "environment " + name, Key: key, Msg: fmt.Sprintf("%q is not a number of seconds", v)}
		}
		*dst = secondsToDuration(f)
		cfg.Sources[key] = SourceEnv
		return nil
	}

	str("database_path", &cfg.DatabasePath)
	str("server.bind", &cfg.Server.Bind)
	if err := integer("server.port", &cfg.Server.Port); err != nil {
		return err
	}
	if err := seconds("server.shutdown_timeout", &cfg.Server.ShutdownTimeout); err != nil {
		return err
	}
	str("logging.level", &cfg.Logging.Level)
	str("logging.format", &cfg.Logging.Format)
	str("logging.journal", &cfg.Logging.Journal)
	str("tools.ffprobe", &cfg.Tools.FFprobe)
	str("server.auth_token_file", &cfg.Server.AuthTokenFile)
	str("server.auth_token", &cfg.Server.AuthToken)
	return integer("jobs.workers", &cfg.Jobs.Workers)
}

// secondsToDuration converts seconds to a Duration; out-of-range values stay out of
// range (negative or huge) so that validation reports them.
func secondsToDuration(s float64) time.Duration {
	if s > float64(1<<62)/float64(time.Second) {
		return 1 << 62
	}
	if s < -float64(1<<62)/float64(time.Second) {
		return -1 << 62
	}
	return time.Duration(s * float64(time.Second))
}

package config

import (
	"time"
)

// EnvVars lists the environment variables vpo reads, for documentation and tests.
func EnvVars() []string {
	out := []string{ConfigPathEnv}
	for _, s := range specs {
		if s.Env != "" {
			out = append(out, s.Env)
		}
	}
	return out
}

// applyEnv reads every setting that has a variable. A value that does not parse is
// an error naming the variable; values are checked against their range at the end,
// by validate.
func applyEnv(cfg *Config, lookup func(string) (string, bool)) error {
	for i := range specs {
		s := &specs[i]
		if s.Env == "" {
			continue
		}
		text, ok := lookup(s.Env)
		if !ok {
			continue
		}
		v, err := s.parseText(text)
		if err != nil {
			return &Error{Origin: "environment " + s.Env, Key: s.Key, Msg: err.Error()}
		}
		s.set(cfg, v)
		cfg.Sources[s.Key] = SourceEnv
	}
	return nil
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

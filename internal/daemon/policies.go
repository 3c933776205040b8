package daemon

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/policy"
)

// loadPolicies loads and validates every policy of policies.dir once, at
// startup. An invalid policy is logged at error with its position and served
// as invalid; it does not stop the daemon, and neither does a directory that
// cannot be read (logged; no policies are served). A policy that the
// configuration names (named) must exist and be valid: that is a
// configuration error, and vpo does not start (exit 78).
func loadPolicies(cfg *config.Config, log *slog.Logger, named []configuredPolicy) (*policy.Registry, error) {
	reg, err := policy.LoadRegistry(cfg.Policies.Dir)
	if err != nil {
		log.Error("cannot read the policies directory; serving no policies", "dir", cfg.Policies.Dir, "error", err.Error())
		reg, _ = policy.LoadRegistry("") // empty: "" does not exist
	}
	valid := 0
	for _, e := range reg.Entries() {
		if e.Err == nil {
			valid++
			continue
		}
		var es policy.Errors
		if errors.As(e.Err, &es) && len(es) > 0 {
			log.Error("policy is not valid", "policy", e.Name, "file", e.Path, "line", es[0].Line,
				"column", es[0].Column, "error", es[0].Error(), "problems", len(es))
		} else {
			log.Error("policy is not valid", "policy", e.Name, "file", e.Path, "error", e.Err.Error())
		}
	}
	log.Info("policies loaded", "dir", reg.Dir(), "valid", valid, "invalid", len(reg.Entries())-valid)
	for _, n := range named {
		if err := reg.ValidateNamed([]string{n.name}); err != nil {
			return nil, &config.Error{Origin: n.origin, Key: n.key, Msg: n.context + err.Error(), Err: err}
		}
	}
	return reg, nil
}

// configuredPolicy is a policy named by a setting.
type configuredPolicy struct {
	key, origin string
	// context prefixes the error, e.g. "entry 2 (/srv/tv): ".
	context string
	name    string
}

// configuredPolicies lists the policies the configuration names: each
// library root's policy.
func configuredPolicies(cfg *config.Config) []configuredPolicy {
	var out []configuredPolicy
	for i, rc := range cfg.Library.RootConfigs {
		if rc.Policy != "" {
			out = append(out, configuredPolicy{key: "library.roots", origin: cfg.File,
				context: fmt.Sprintf("entry %d (%s): ", i+1, rc.Path), name: rc.Policy})
		}
	}
	return out
}

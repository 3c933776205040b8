package daemon

import (
	"context"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/httpapi"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/web"
)

// liveKeys are the settings that a reload (SIGHUP) puts in force while vpo runs.
// Every other setting, including any added to the table later, needs a restart: a
// reload logs its change and keeps the value in force. docs/operations.md
// ("Reloading") lists both kinds and why.
var liveKeys = map[string]bool{
	"logging.level":                true, // the logger's LevelVar
	"server.auth_token":            true, // the API's and the UI's live state (SetLive)
	"server.auth_token_file":       true,
	"server.allow_unauthenticated": true, // checked against the bound address below
	"server.allowed_hosts":         true,
	"jobs.max_queued":              true, // the API, the UI and the watcher (d.maxQueued)
	"policies.dir":                 true, // the policies are read again on every reload anyway
}

// reloadPlan is what a reload does: the configuration to put in force (the new one,
// with the settings that need a restart kept at their values in force), and the
// changes of each kind.
type reloadPlan struct {
	cfg     *config.Config
	live    []config.Change
	restart []config.Change
}

// planReload compares the configuration in force (old) with the one just loaded
// (next) and returns the plan, or an error when next cannot be put in force as a
// whole. listenHost is the host the daemon listens on: with next's auth settings it
// must still be allowed, as at startup (a token beyond loopback, unless
// allow_unauthenticated). next is changed in place into the plan's configuration.
func planReload(old, next *config.Config, listenHost string) (reloadPlan, error) {
	p := reloadPlan{cfg: next}
	for _, c := range config.Changes(old, next) {
		if liveKeys[c.Key] {
			p.live = append(p.live, c)
			continue
		}
		p.restart = append(p.restart, c)
		next.Keep(c.Key, old)
	}
	if next.Server.AuthToken == "" && !next.Server.AllowUnauthenticated && !config.IsLoopback(listenHost) {
		origin := next.File
		if origin == "" {
			origin = "reload"
		}
		return reloadPlan{}, &config.Error{Origin: origin, Key: "server.auth_token",
			Msg: fmt.Sprintf("vpo listens on %s, beyond loopback, and no token would be configured: set server.auth_token_file (or VPO_AUTH_TOKEN), or server.allow_unauthenticated = true", listenHost)}
	}
	return p, nil
}

// keys lists the changes' keys.
func keys(cs []config.Change) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Key)
	}
	return out
}

// reload re-reads the configuration file (and the environment and flags of the
// start) and the policies on SIGHUP. Everything is loaded and validated first; on any error nothing
// changes and the error is logged. Otherwise the live settings are put in force at
// once, and those that need a restart are logged with their old and new values and
// keep the old. systemd hears RELOADING=1 before and READY=1 after, either way.
//
// It runs on the goroutine that waits for signals, so reloads never overlap and a
// shutdown signal that arrives meanwhile is handled right after.
func (d *daemon) reload(ctx context.Context) {
	t := time.Now()
	d.notifier.Reloading("reloading the configuration")
	status := ""
	defer func() {
		if status == "" {
			status = statusLine(ctx, d.ln.Addr().String(), d.app.Jobs)
		}
		d.notifier.Ready(status)
	}()
	log := logging.Component(d.logger, "config")
	fail := func(err error) {
		log.Error("reload failed; the configuration in force is unchanged", "error", err.Error())
		status = "reload failed; the previous configuration stays in force: " + err.Error()
	}
	if d.opts.Reload == nil {
		fail(fmt.Errorf("this daemon cannot reload its configuration"))
		return
	}
	next, err := d.opts.Reload()
	if err != nil {
		fail(err)
		return
	}
	host, _, _ := net.SplitHostPort(d.ln.Addr().String())
	p, err := planReload(d.current, next, host)
	if err != nil {
		fail(err)
		return
	}
	policies, err := reloadPolicies(p.cfg)
	if err != nil {
		fail(err)
		return
	}
	for _, c := range p.restart {
		log.Warn("setting changed, but it needs a restart; the old value stays in force",
			"key", c.Key, "old", c.Old, "new", c.New)
	}
	d.apply(p.cfg, policies)
	d.current = p.cfg
	log.Info("configuration reloaded", "config_file", p.cfg.File, "changed", keys(p.live),
		"needs_restart", keys(p.restart), "policies", len(policies.Entries()), "duration_ms", ms(time.Since(t)))
}

// reloadPolicies loads the policies of cfg's policies.dir for a reload. Any problem
// refuses the whole reload, unlike at startup (where an invalid policy that no root
// names is served as invalid): a policy in force is never replaced by a broken
// edit of it, and what the reload would serve is all valid.
func reloadPolicies(cfg *config.Config) (*policy.Registry, error) {
	reg, err := policy.LoadRegistry(cfg.Policies.Dir)
	if err != nil {
		return nil, fmt.Errorf("policies.dir %s: %w", cfg.Policies.Dir, err)
	}
	for _, e := range reg.Entries() {
		if e.Err != nil {
			return nil, fmt.Errorf("policy %q is not valid: %w", e.Name, e.Err)
		}
	}
	for _, n := range configuredPolicies(cfg) {
		if err := reg.ValidateNamed([]string{n.name}); err != nil {
			return nil, &config.Error{Origin: n.origin, Key: n.key, Msg: n.context + err.Error(), Err: err}
		}
	}
	return reg, nil
}

// apply puts cfg's live settings and the policies in force. Each part is swapped
// at once (the API's settings and policies together); none can fail, as cfg and
// the policies have been validated.
func (d *daemon) apply(cfg *config.Config, policies *policy.Registry) {
	d.api.SetLive(httpapi.Live{AuthToken: cfg.Server.AuthToken, AllowedHosts: cfg.Server.AllowedHosts,
		MaxQueued: cfg.Jobs.MaxQueued, Policies: policies})
	d.ui.SetLive(web.Reloadable{Token: cfg.Server.AuthToken, MaxQueued: cfg.Jobs.MaxQueued, Config: cfg,
		Policies: policies})
	d.maxQueued.Store(int64(cfg.Jobs.MaxQueued))
	if d.opts.Level != nil {
		if l, err := logging.ParseLevel(cfg.Logging.Level); err == nil {
			d.opts.Level.Set(l)
		}
	}
}

// liveKeyList is liveKeys sorted, for the documentation test.
func liveKeyList() []string {
	out := make([]string, 0, len(liveKeys))
	for k := range liveKeys {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

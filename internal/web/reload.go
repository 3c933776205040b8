package web

import (
	"crypto/sha256"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/policy"
)

// Reloadable are the UI's settings that a reload (SIGHUP) may change while it
// serves; they start as Deps.Token, Deps.MaxQueued and Deps.Config.
type Reloadable struct {
	// Token is as Deps.Token. A new token ends every session opened with the old
	// one (a session is bound to the token it logged in with).
	Token string
	// MaxQueued is as Deps.MaxQueued.
	MaxQueued int
	// Config is as Deps.Config.
	Config *config.Config
	// Policies are as Deps.Policies (a reload loads them again).
	Policies *policy.Registry
}

// reloadState is what requests read of the Reloadable settings, swapped in whole.
type reloadState struct {
	required  bool
	token     [32]byte // SHA-256 of the token
	maxQueued int
	cfg       *config.Config
	policies  *policy.Registry
}

// SetLive puts new Reloadable settings in force for the requests that begin after
// it.
func (u *UI) SetLive(l Reloadable) {
	u.rl.Store(&reloadState{required: l.Token != "", token: sha256.Sum256([]byte(l.Token)),
		maxQueued: l.MaxQueued, cfg: l.Config, policies: l.Policies})
}

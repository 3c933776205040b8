package httpapi

import (
	"crypto/sha256"
	"net"
	"net/http"
	"slices"

	"github.com/vpo-project/vpo/internal/policy"
)

// Live are the API's settings that a reload (SIGHUP) may change while it serves.
type Live struct {
	// AuthToken, when set, is the bearer token every /api/ request must carry.
	AuthToken string
	// AllowedHosts are as Deps.AllowedHosts.
	AllowedHosts []string
	// MaxQueued caps the queued jobs; 0: no cap.
	MaxQueued int
	// Policies are the policies served; nil: the policy routes answer 503.
	Policies *policy.Registry
}

// liveState is what the request path reads of the Live settings, built once per
// change and swapped in whole, so that a request sees the old settings or the new,
// never a mix.
type liveState struct {
	hasToken  bool
	tokenSum  [sha256.Size]byte
	maxQueued int
	policies  *policy.Registry
	hosts     *hostPolicy
	origins   *http.CrossOriginProtection
}

// SetLive puts new Live settings in force at once for the requests that begin
// after it; requests already past a check finish under the old settings.
func (a *API) SetLive(l Live) {
	a.liveMu.Lock()
	defer a.liveMu.Unlock()
	l.AllowedHosts = slices.Clone(l.AllowedHosts)
	a.liveSet = l
	a.publishLive()
}

// setAddr records the bound address for the Host check and rebuilds the live state.
func (a *API) setAddr(addr net.Addr) {
	a.liveMu.Lock()
	defer a.liveMu.Unlock()
	a.addr = addr
	a.publishLive()
}

// publishLive builds the live state from liveSet and addr and swaps it in; the
// caller holds liveMu.
func (a *API) publishLive() {
	l := a.liveSet
	st := &liveState{
		hasToken:  l.AuthToken != "",
		tokenSum:  sha256.Sum256([]byte(l.AuthToken)),
		maxQueued: l.MaxQueued,
		policies:  l.Policies,
		hosts:     newHostPolicy(a.addr, l.AllowedHosts),
		origins:   newOriginPolicy(l.AllowedHosts),
	}
	a.live.Store(st)
}

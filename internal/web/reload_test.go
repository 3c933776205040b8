package web

import (
	"net/http"
	"net/url"
	"testing"
)

// A reload's new token ends the sessions of the old one and is the only one the
// login form accepts.
func TestSetLiveToken(t *testing.T) {
	const newToken = "a-new-token-after-the-reload"
	b := setup(t, setupOpts{token: testToken})
	c := b.client(t)
	r := c.post("/ui/login", url.Values{"csrf": {c.csrf("/ui/login")}, "token": {testToken}})
	mustStatus(t, "login", r, http.StatusSeeOther)
	mustStatus(t, "settings while logged in", c.get("/ui/settings"), http.StatusOK)

	b.ui.SetLive(Reloadable{Token: newToken, MaxQueued: 10, Config: b.cfg})
	mustStatus(t, "settings after the token changed", c.get("/ui/settings"), http.StatusSeeOther)
	r = c.post("/ui/login", url.Values{"csrf": {c.csrf("/ui/login")}, "token": {testToken}})
	mustStatus(t, "login with the old token", r, http.StatusUnauthorized)
	r = c.post("/ui/login", url.Values{"csrf": {c.csrf("/ui/login")}, "token": {newToken}})
	mustStatus(t, "login with the new token", r, http.StatusSeeOther)
	mustStatus(t, "settings with the new session", c.get("/ui/settings"), http.StatusOK)

	// No token at all: the UI is open.
	b.ui.SetLive(Reloadable{Config: b.cfg})
	mustStatus(t, "settings without a token", b.client(t).get("/ui/settings"), http.StatusOK)
}

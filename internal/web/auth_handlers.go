package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type loginData struct {
	Next    string
	Error   string
	NoToken bool
}

// safeNext keeps a post-login destination only if it is a page of the UI.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix
	}
	return next
}

func (u *UI) handleLoginForm(w http.ResponseWriter, r *http.Request, v visitor) error {
	next := safeNext(r.URL.Query().Get("next"))
	if v.authed {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	return u.render(w, r, v, view{name: "login", title: "Log in", data: loginData{Next: next}})
}

func (u *UI) handleLogin(w http.ResponseWriter, r *http.Request, v visitor) error {
	next := safeNext(r.PostFormValue("next"))
	live := u.rl.Load() // one token for the check and the session
	if !live.required {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	peer := peerOf(r)
	if ok, wait, first := u.logins.allow(peer); !ok {
		if first {
			u.log.Warn("ui login refused: too many failed logins from this peer", "peer", peer)
		}
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return u.render(w, r, v, view{name: "login", title: "Log in", status: http.StatusTooManyRequests,
			data: loginData{Next: next, Error: "Too many failed logins from your address; wait " + strconv.Itoa(secs) + " s and try again."}})
	}
	got := sha256.Sum256([]byte(r.PostFormValue("token")))
	if subtle.ConstantTimeCompare(got[:], live.token[:]) != 1 {
		u.logins.fail(peer)
		u.log.Warn("ui login failed: wrong token", "peer", peer, "remote_addr", r.RemoteAddr)
		return u.render(w, r, v, view{name: "login", title: "Log in", status: http.StatusUnauthorized,
			data: loginData{Next: next, Error: "That is not vpo's token."}})
	}
	// A new ID at login: an ID planted before it (session fixation) stays anonymous.
	id, exp := u.sessions.open(live.token)
	u.setCookie(w, r, sessionCookie, id, exp)
	u.log.Info("ui login", "peer", peer, "expires", exp.UTC().Format(time.RFC3339))
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (u *UI) handleLogout(w http.ResponseWriter, r *http.Request, v visitor) error {
	u.sessions.close(v.id)
	u.setCookie(w, r, sessionCookie, "", time.Unix(1, 0))
	u.log.Info("ui logout", "peer", peerOf(r))
	http.Redirect(w, r, "/ui/login?notice=logged-out", http.StatusSeeOther)
	return nil
}

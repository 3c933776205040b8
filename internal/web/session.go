package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Sessions live in memory only: a restart (and so a change of the token, which
// takes one) logs everybody out. A login session is a random ID in the session
// cookie that the server has in its table; the login form fills the table, and
// logout, expiry and restarts empty it. A visitor without a session carries another
// random ID in a second cookie, which keys their CSRF token (the login form's
// included). Two cookies, so that a request that comes without the session cookie
// (SameSite=Strict keeps it from requests that other sites start) never replaces it.

// The cookies' names. Their path is /ui, so they never go to the API, which takes
// the bearer token only.
const (
	sessionCookie = "vpo_session"
	anonCookie    = "vpo_visitor"
)

// maxSessions bounds the session table; the oldest session goes first.
const maxSessions = 1000

type session struct {
	expires time.Time
	token   [32]byte // digest of the token the session was opened with
}

type sessionStore struct {
	lifetime time.Duration
	mu       sync.Mutex
	m        map[string]session
}

func newSessionStore(lifetime time.Duration) *sessionStore {
	return &sessionStore{lifetime: lifetime, m: map[string]session{}}
}

// open records a new login session for a fresh ID and returns the ID.
func (s *sessionStore) open(token [32]byte) (string, time.Time) {
	id := newID()
	exp := time.Now().Add(s.lifetime)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for k, v := range s.m {
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	for len(s.m) >= maxSessions {
		var oldest string
		var at time.Time
		for k, v := range s.m {
			if oldest == "" || v.expires.Before(at) {
				oldest, at = k, v.expires
			}
		}
		delete(s.m, oldest)
	}
	s.m[id] = session{expires: exp, token: token}
	return id, exp
}

// valid reports whether id is a live login session opened with token.
func (s *sessionStore) valid(id string, token [32]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[id]
	if !ok {
		return false
	}
	if time.Now().After(ss.expires) || subtle.ConstantTimeCompare(ss.token[:], token[:]) != 1 {
		delete(s.m, id)
		return false
	}
	return true
}

func (s *sessionStore) close(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

func (s *sessionStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// newID is 256 random bits, URL-safe.
func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// wellFormedID accepts what newID makes, so that nothing else is echoed or stored.
func wellFormedID(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// visitor is who sent a request: their cookie's ID, whether it is a login session,
// and the CSRF token their forms must carry.
type visitor struct {
	id     string
	authed bool
	csrf   string
}

// visitorOf resolves the request's visitor: a live login session, or an anonymous
// visitor, who gets a new ID (set as a cookie on a GET) when they have none.
func (u *UI) visitorOf(w http.ResponseWriter, r *http.Request) visitor {
	var v visitor
	if c, err := r.Cookie(sessionCookie); err == nil && wellFormedID(c.Value) && u.sessions.valid(c.Value, u.rl.Load().token) {
		v.id, v.authed = c.Value, true
	} else if c, err := r.Cookie(anonCookie); err == nil && wellFormedID(c.Value) {
		v.id = c.Value
	} else {
		v.id = newID()
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			u.setCookie(w, r, anonCookie, v.id, time.Time{})
		}
	}
	if !u.authRequired() {
		v.authed = true
	}
	v.csrf = u.csrfToken(v.id)
	return v
}

// setCookie sets a cookie of the UI; a zero expiry makes it last until the browser
// closes, a past one deletes it.
func (u *UI) setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/ui",
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   overTLS(r),
	}
	if !expires.IsZero() {
		c.Expires = expires
		c.MaxAge = int(math.Ceil(time.Until(expires).Seconds()))
		if c.MaxAge <= 0 {
			c.MaxAge = -1
		}
	}
	http.SetCookie(w, c)
}

// overTLS reports whether the browser reached vpo over HTTPS: directly, or through a
// reverse proxy on loopback that says so in X-Forwarded-Proto. A proxy elsewhere is
// not trusted with the claim.
func overTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return fromLoopback(r) && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// peerOf names the client for logs and the login limiter: the TCP peer, or the
// address a reverse proxy on loopback forwards for.
func peerOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if fromLoopback(r) {
		if fwd := r.Header.Get("X-Forwarded-For"); fwd != "" {
			parts := strings.Split(fwd, ",")
			if ip := net.ParseIP(strings.TrimSpace(parts[len(parts)-1])); ip != nil {
				return ip.String()
			}
		}
	}
	return host
}

// csrfToken is the CSRF token of the visitor with the given ID: an HMAC of the ID
// under a key made at startup. It needs no server-side state, and a page of another
// site can read neither the cookie nor the token.
func (u *UI) csrfToken(id string) string {
	m := hmac.New(sha256.New, u.key[:])
	m.Write([]byte("csrf\x00"))
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether a mutating request carries the visitor's CSRF token, in
// the form field "csrf" or the X-CSRF-Token header.
func (u *UI) checkCSRF(r *http.Request, v visitor) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(v.csrf)) == 1
}

// Failed logins are limited per peer: loginBurst failures, then one more per
// loginRefill. The token has at least 16 characters, so guessing is hopeless
// anyway; the limit keeps the log and the CPU quiet under a guessing script.
const (
	loginBurst     = 5
	loginRefill    = 12 * time.Second
	maxLoginPeers  = 10000
	loginPeerStale = 10 * time.Minute
)

type loginLimiter struct {
	mu    sync.Mutex
	peers map[string]*peerBucket
}

type peerBucket struct {
	tokens float64
	at     time.Time
	warned bool // the "limited" warning was logged for the current run of refusals
}

func newLoginLimiter() *loginLimiter { return &loginLimiter{peers: map[string]*peerBucket{}} }

// allow reports whether peer may try a login now; if not, it returns how long to
// wait and whether this is the first refusal of a run (to log it once).
func (l *loginLimiter) allow(peer string) (ok bool, wait time.Duration, first bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(peer)
	if b.tokens >= 1 {
		return true, 0, false
	}
	first = !b.warned
	b.warned = true
	return false, time.Duration((1 - b.tokens) * float64(loginRefill)), first
}

// fail takes a token from peer's bucket.
func (l *loginLimiter) fail(peer string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(peer)
	b.tokens--
	if b.tokens < 0 {
		b.tokens = 0
	}
}

// bucket returns peer's bucket, refilled to now. l.mu is held.
func (l *loginLimiter) bucket(peer string) *peerBucket {
	now := time.Now()
	b, ok := l.peers[peer]
	if !ok {
		if len(l.peers) >= maxLoginPeers {
			for k, v := range l.peers {
				if now.Sub(v.at) > loginPeerStale || len(l.peers) >= maxLoginPeers {
					delete(l.peers, k)
				}
			}
		}
		b = &peerBucket{tokens: loginBurst, at: now}
		l.peers[peer] = b
		return b
	}
	b.tokens += now.Sub(b.at).Seconds() / loginRefill.Seconds()
	if b.tokens >= 1 {
		b.warned = false
	}
	if b.tokens > loginBurst {
		b.tokens = loginBurst
	}
	b.at = now
	return b
}

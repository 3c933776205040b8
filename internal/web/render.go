package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vpo-project/vpo/internal/catalog"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// engine holds one template set per page: the layout and the partials (files
// starting with "_") cloned, plus the page's own file (miniflux's
// internal/template/engine.go). Every page is parsed at startup.
type engine struct {
	pages map[string]*template.Template
}

func newEngine() (*engine, error) {
	entries, err := fs.ReadDir(templateFS, "templates")
	if err != nil {
		return nil, fmt.Errorf("web: read templates: %w", err)
	}
	common := template.New("").Funcs(funcs)
	var pages []string
	for _, e := range entries {
		name := e.Name()
		if name == "layout.html" || strings.HasPrefix(name, "_") {
			if _, err := common.ParseFS(templateFS, "templates/"+name); err != nil {
				return nil, fmt.Errorf("web: parse template %s: %w", name, err)
			}
			continue
		}
		pages = append(pages, name)
	}
	eng := &engine{pages: map[string]*template.Template{}}
	for _, name := range pages {
		t, err := common.Clone()
		if err != nil {
			return nil, fmt.Errorf("web: clone templates: %w", err)
		}
		if _, err := t.ParseFS(templateFS, "templates/"+name); err != nil {
			return nil, fmt.Errorf("web: parse template %s: %w", name, err)
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("web: template %s defines no \"content\"", name)
		}
		eng.pages[strings.TrimSuffix(name, ".html")] = t
	}
	return eng, nil
}

// execute renders the page name into a buffer, so that a template error becomes a
// clean 500 and not half a page.
func (e *engine) execute(name string, data any) ([]byte, error) {
	t, ok := e.pages[name]
	if !ok {
		return nil, fmt.Errorf("web: no template %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return nil, fmt.Errorf("web: render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// pageData is what the layout needs besides the page's own Data.
type pageData struct {
	Title        string
	Nav          string // the active navigation entry
	Page         string // the page's name, for the script
	CSRF         string
	Authed       bool
	AuthRequired bool
	Version      string
	Notice       string
	// LiveJobs lists the IDs of unfinished jobs shown, for the live updates.
	LiveJobs string
	CSS, JS  string
	Icon     string
	Data     any
}

// view is a page to render.
type view struct {
	name, title, nav string
	status           int
	notice           string
	liveJobs         []int64
	data             any
}

func (u *UI) render(w http.ResponseWriter, r *http.Request, v visitor, p view) error {
	d := pageData{
		Title: p.title, Nav: p.nav, Page: p.name, CSRF: v.csrf, Authed: v.authed && u.authRequired(),
		AuthRequired: u.authRequired(), Version: u.deps.Version, Notice: p.notice,
		CSS: u.assets.url("app.css"), JS: u.assets.url("app.js"), Icon: u.assets.url("favicon.svg"), Data: p.data,
	}
	if d.Notice == "" {
		d.Notice = notices[r.URL.Query().Get("notice")]
	}
	ids := make([]string, len(p.liveJobs))
	for i, id := range p.liveJobs {
		ids[i] = strconv.FormatInt(id, 10)
	}
	d.LiveJobs = strings.Join(ids, ",")
	body, err := u.tmpl.execute(p.name, d)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	status := p.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// notices are the messages a redirect can ask for with ?notice=; only these, so
// that a link cannot make vpo's page say what it likes.
var notices = map[string]string{
	"cancel-requested":   "Cancellation requested. A running job stops at its next checkpoint.",
	"already-finished":   "The job had already finished; nothing was cancelled.",
	"scan-started":       "Scan queued.",
	"logged-out":         "You are logged out.",
	"login-first":        "Log in with vpo's token to continue.",
	"plan-approved":      "Plan approved. Apply approved plans to carry it out.",
	"plan-rejected":      "Plan rejected: it will not be applied.",
	"plans-approved":     "The selected plans were approved.",
	"plans-rejected":     "The selected plans were rejected.",
	"plans-some-skipped": "Some of the selected plans were no longer pending or approved and were left as they are.",
	"apply-started":      "Apply job queued: it applies every approved plan.",
	"preview-started":    "Preview queued: a plan job evaluates the policy on the catalogued files under the directory.",
}

// httpError is an error with the status and the message the visitor sees.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// renderError is the one place that turns a handler's error into a page: an
// *httpError keeps its status and message; anything else is logged and shown as a
// 500 (or 503 for a busy or full database) without its details.
func (u *UI) renderError(w http.ResponseWriter, r *http.Request, v visitor, err error) {
	var he *httpError
	switch {
	case errors.As(err, &he):
	case errors.Is(err, catalog.ErrBusy):
		w.Header().Set("Retry-After", "5")
		he = &httpError{http.StatusServiceUnavailable, "The database is busy; retry in a moment."}
	case errors.Is(err, catalog.ErrFull):
		he = &httpError{http.StatusServiceUnavailable, "The disk holding the database is full."}
	case errors.Is(err, catalog.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		he = &httpError{http.StatusServiceUnavailable, "The database server cannot be reached; retry in a moment."}
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return // the browser went away
	default:
		u.log.Error("ui request failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
		he = &httpError{http.StatusInternalServerError, "Internal error; see the vpo log."}
	}
	if he.status >= 500 && he.status != http.StatusInternalServerError {
		u.log.Warn("ui request refused", "method", r.Method, "path", r.URL.Path, "status", he.status, "error", he.msg)
	}
	title := http.StatusText(he.status)
	if rerr := u.render(w, r, v, view{name: "error", title: title, status: he.status,
		data: map[string]any{"Status": he.status, "Title": title, "Message": he.msg}}); rerr != nil {
		u.log.Error("ui error page failed", "error", rerr.Error())
		http.Error(w, he.msg, he.status)
	}
}

// routeOpt changes how u.page serves a route.
type routeOpt int

const (
	// public routes need no login.
	public routeOpt = 1 << iota
	// streamingRoute is a long-lived response (server-sent events).
	streamingRoute
)

// maxFormBytes bounds a form's body.
const maxFormBytes = 64 << 10

type handlerFunc func(w http.ResponseWriter, r *http.Request, v visitor) error

// page registers a route: it resolves the visitor, sends an anonymous one to the
// login form (when the token is required), checks the CSRF token of every mutating
// request, and renders a returned error.
func (u *UI) page(pattern string, h handlerFunc, opts ...routeOpt) {
	var o routeOpt
	for _, x := range opts {
		o |= x
	}
	u.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		v := u.visitorOf(w, r)
		if o&streamingRoute == 0 {
			w.Header().Set("Cache-Control", "no-store")
		}
		mutating := r.Method != http.MethodGet && r.Method != http.MethodHead
		if mutating {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		}
		if o&public == 0 && !v.authed {
			switch {
			case o&streamingRoute != 0:
				http.Error(w, "log in first", http.StatusUnauthorized)
			case mutating:
				u.renderError(w, r, v, errorf(http.StatusForbidden, "Log in with vpo's token first."))
			default:
				next := r.URL.RequestURI()
				http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(next), http.StatusSeeOther)
			}
			return
		}
		if mutating && !u.checkCSRF(r, v) {
			u.log.Warn("ui request refused: missing or wrong CSRF token", "peer", peerOf(r),
				"method", r.Method, "path", r.URL.Path)
			u.renderError(w, r, v, errorf(http.StatusForbidden,
				"This form has expired or did not come from vpo's own page (its CSRF token is missing or wrong). Reload the page and try again."))
			return
		}
		if err := h(w, r, v); err != nil {
			u.renderError(w, r, v, err)
		}
	})
}

func (u *UI) handleNotFound(w http.ResponseWriter, r *http.Request, v visitor) error {
	return errorf(http.StatusNotFound, "There is no page at this address.")
}

// assets are the embedded static files, served with a content hash in their URL so
// that browsers may cache them for good.
type assets struct {
	files map[string]asset
}

type asset struct {
	body  []byte
	hash  string
	ctype string
}

func newAssets() (*assets, error) {
	a := &assets{files: map[string]asset{}}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("web: read assets: %w", err)
	}
	for _, e := range entries {
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("web: read asset %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(e.Name()))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		a.files[e.Name()] = asset{body: b, hash: hex.EncodeToString(sum[:6]), ctype: ctype}
	}
	return a, nil
}

// url is the asset's address, with its hash.
func (a *assets) url(name string) string {
	return "/ui/static/" + name + "?v=" + a.files[name].hash
}

func (a *assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, r.PathValue("file"))
}

func (a *assets) serve(w http.ResponseWriter, r *http.Request, name string) {
	f, ok := a.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", `"`+f.hash+`"`)
	if r.URL.Query().Get("v") == f.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == `"`+f.hash+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(f.body)
	}
}

var funcs = template.FuncMap{
	"bytes":    humanBytes,
	"duration": humanDuration,
	"when":     when,
	"whenp": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return when(*t)
	},
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"path": displayPath,
	"pct": func(done, total int64) int64 {
		if total <= 0 {
			return 0
		}
		return int64(math.Min(100, math.Floor(float64(done)*100/float64(total))))
	},
	"processed": processed,
	"bitrate": func(bps int64) string {
		if bps <= 0 {
			return ""
		}
		return fmt.Sprintf("%.0f kb/s", float64(bps)/1000)
	},
	"fps": func(f float64) string {
		if f <= 0 {
			return ""
		}
		return strconv.FormatFloat(math.Round(f*1000)/1000, 'f', -1, 64) + " fps"
	},
	"ms": func(d time.Duration) string {
		return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + " ms"
	},
	"fmt": func(v any) string { return fmt.Sprint(v) },
	// pe escapes a path segment (a policy's name, which is a file name).
	"pe": url.PathEscape,
	"pageq": func(state, policy, prefix string) string {
		return pageQuery(map[string]string{"state": state, "policy": policy, "path_prefix": prefix}, "", "")
	},
	"last": func(s []string) string {
		if len(s) == 0 {
			return ""
		}
		return s[len(s)-1]
	},
}

// humanBytes writes a size in binary units: 1.5 GiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// humanDuration writes seconds as h:mm:ss, or m:ss under an hour.
func humanDuration(sec float64) string {
	if sec <= 0 {
		return ""
	}
	s := int64(math.Round(sec))
	if s < 3600 {
		return fmt.Sprintf("%d:%02d", s/60, s%60)
	}
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}

// when writes a time in UTC, to the second.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// displayPath shows a path that may not be valid UTF-8: valid text as it is, each
// invalid byte as \xNN, so that two different names never look the same. (The
// template escapes the result like any other text.)
func displayPath(p string) string {
	if utf8.ValidString(p) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && size <= 1 {
			fmt.Fprintf(&b, `\x%02x`, p[i])
			i++
			continue
		}
		b.WriteString(p[i : i+size])
		i += size
	}
	return b.String()
}

// processed is how many files a job has handled: a plan or apply job counts
// them (Done), a scan probed, skipped or failed them.
func processed(c catalog.Counts) int64 {
	if c.Done > 0 {
		return c.Done
	}
	return c.Probed + c.Unchanged + c.Failed
}

package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/probe"
)

// maxFilterLen bounds a filter's text.
const maxFilterLen = 4096

type libraryFilter struct {
	PathPrefix, Container, Codec, Language, Missing string
	// Search is text the path contains.
	Search string
	// Sort is a catalog sort (path, size, modified; "" the catalogue's order)
	// and Order "desc" reverses it.
	Sort, Order string
	// Policy with Conformant ("yes" or "no") keeps the files the policy would
	// leave as they are, or change.
	Policy, Conformant string
}

// Active reports whether any filter is set.
func (f libraryFilter) Active() bool {
	return f.PathPrefix != "" || f.Container != "" || f.Codec != "" || f.Language != "" || f.Missing != "" ||
		f.Search != "" || f.Conformant != ""
}

func (f libraryFilter) query() map[string]string {
	return map[string]string{"path_prefix": f.PathPrefix, "container": f.Container, "codec": f.Codec,
		"language": f.Language, "missing": f.Missing, "q": f.Search, "sort": f.Sort, "order": f.Order,
		"policy": f.Policy, "conformant": f.Conformant}
}

// sortLink is the library's address sorted by key, the other filters kept:
// the same key again flips the order.
func (f libraryFilter) SortLink(key string) string {
	q := f.query()
	order := ""
	if f.Sort == key && f.Order != "desc" {
		order = "desc"
	}
	q["sort"], q["order"] = key, order
	return "/ui/library" + pageQuery(q, "", "")
}

// SortMark is the column's aria-sort value.
func (f libraryFilter) SortMark(key string) string {
	if f.Sort != key {
		return "none"
	}
	if f.Order == "desc" {
		return "descending"
	}
	return "ascending"
}

// conformanceWindow bounds the files a conformance-filtered page evaluates:
// the policy runs on at most this many files after the cursor (read
// conformanceBatch at a time, with their tracks), so a page costs a few tens of
// milliseconds whatever the catalogue's size, and the next page goes on from
// where it stopped.
const (
	conformanceWindow = 500
	conformanceBatch  = 100
)

type libraryData struct {
	Filter libraryFilter
	Files  []catalog.File
	Next   string
	First  string
	// Suggestions for the filter fields, from the cached totals.
	Containers, Codecs, Languages []string
	Sorts                         []string
	// Policies are the valid policies, for the conformance filter.
	Policies []string
	// Examined, with a conformance filter: the files evaluated for this page,
	// up to ExaminedTo (a file id).
	Examined   int
	ExaminedTo int64
}

func (u *UI) handleLibrary(w http.ResponseWriter, r *http.Request, v visitor) error {
	q := r.URL.Query()
	f := libraryFilter{
		PathPrefix: strings.TrimSpace(q.Get("path_prefix")),
		Container:  strings.TrimSpace(q.Get("container")),
		Codec:      strings.TrimSpace(q.Get("codec")),
		Language:   strings.TrimSpace(q.Get("language")),
		Missing:    q.Get("missing"),
		Search:     strings.TrimSpace(q.Get("q")),
		Sort:       q.Get("sort"),
		Order:      q.Get("order"),
		Policy:     strings.TrimSpace(q.Get("policy")),
		Conformant: q.Get("conformant"),
	}
	for name, val := range f.query() {
		if len(val) > maxFilterLen {
			return errorf(http.StatusBadRequest, "The %s filter is longer than %d bytes.", name, maxFilterLen)
		}
	}
	filter := catalog.FileFilter{Container: f.Container, Codec: f.Codec, Language: f.Language, Search: f.Search,
		Limit: pageSize + 1}
	if f.PathPrefix != "" {
		if !filepath.IsAbs(f.PathPrefix) {
			return errorf(http.StatusBadRequest, "The directory filter %q is not an absolute path (it starts with /).", displayPath(f.PathPrefix))
		}
		filter.PathPrefix = f.PathPrefix
	}
	switch f.Missing {
	case "":
	case "yes", "no":
		m := f.Missing == "yes"
		filter.Missing = &m
	default:
		return errorf(http.StatusBadRequest, "The missing filter %q is not yes or no.", f.Missing)
	}
	if !slices.Contains(catalog.FileSorts, f.Sort) {
		return errorf(http.StatusBadRequest, "The sort %q is not path, size or modified.", f.Sort)
	}
	if f.Order != "" && f.Order != "desc" {
		return errorf(http.StatusBadRequest, "The order %q is not desc.", f.Order)
	}
	filter.Sort, filter.Desc = f.Sort, f.Order == "desc"
	after, err := cursorParam(q.Get("cursor"))
	if err != nil {
		return err
	}
	filter.After = after
	d := libraryData{Filter: f, Sorts: catalog.FileSorts[1:]}
	var ev *policy.Evaluator
	switch f.Conformant {
	case "":
	case "yes", "no":
		if f.Policy == "" {
			return errorf(http.StatusBadRequest, "Choose the policy the files should conform to.")
		}
		if f.Sort != "" || f.Order != "" {
			return errorf(http.StatusBadRequest, "The conformance filter lists files in the catalogue's order only: remove the sort.")
		}
		reg := u.registry()
		if reg == nil {
			return errorf(http.StatusBadRequest, "This vpo serves no policies.")
		}
		if ev, _, err = reg.Evaluator(f.Policy); err != nil {
			return errorf(http.StatusBadRequest, "The policy %q cannot be used: %v.", f.Policy, err)
		}
	default:
		return errorf(http.StatusBadRequest, "The conformant filter %q is not yes or no.", f.Conformant)
	}
	var files []catalog.File
	if ev != nil {
		files, d.Examined, d.ExaminedTo, err = u.conformingFiles(r, filter, ev, f.Conformant == "yes")
		if err != nil {
			return err
		}
		if d.ExaminedTo > 0 {
			d.Next = pageQuery(f.query(), "cursor", strconv.FormatInt(d.ExaminedTo, 10))
		}
	} else {
		if files, err = u.deps.Store.ListFiles(r.Context(), filter); err != nil {
			return err
		}
		if len(files) > pageSize {
			files = files[:pageSize]
			d.Next = pageQuery(f.query(), "cursor", strconv.FormatInt(files[len(files)-1].ID, 10))
		}
	}
	if after > 0 {
		d.First = pageQuery(f.query(), "", "")
	}
	d.Files = files
	if reg := u.registry(); reg != nil {
		for _, e := range reg.Entries() {
			if e.Err == nil {
				d.Policies = append(d.Policies, e.Name)
			}
		}
	}
	if t, ok := u.totals.peek(); ok {
		d.Containers, d.Codecs, d.Languages = t.names(t.Containers), t.names(t.Codecs), t.names(t.Languages)
	} else {
		u.totals.refresh(time.Time{})
	}
	return u.render(w, r, v, view{name: "library", title: "Library", nav: "library", data: d})
}

// conformingFiles evaluates the policy on the files filter selects after its
// cursor, at most conformanceWindow of them, and keeps those that conform (or
// not). It returns them, how many files it evaluated, and the id to continue
// after (0 when the catalogue is exhausted).
func (u *UI) conformingFiles(r *http.Request, filter catalog.FileFilter, ev *policy.Evaluator, want bool) ([]catalog.File, int, int64, error) {
	var out []catalog.File
	examined, last := 0, filter.After
	for examined < conformanceWindow {
		filter.After, filter.Limit = last, conformanceBatch
		files, err := u.deps.Store.ListFilesWithTracks(r.Context(), filter)
		if err != nil {
			return nil, 0, 0, err
		}
		for _, f := range files {
			examined++
			last = f.ID
			if f.ProbedAt != nil && f.ProbeError == "" {
				p := ev.Evaluate(policy.FileInfoFromProbe(f.Path, f.Size,
					probe.Result{Container: f.Container, Duration: f.Duration, Tracks: f.Tracks}))
				if p.Conformant() == want {
					out = append(out, f)
				}
			}
			if len(out) == pageSize {
				return out, examined, last, nil
			}
		}
		if len(files) < conformanceBatch {
			return out, examined, 0, nil
		}
	}
	return out, examined, last, nil
}

// fileListLimit bounds the stored plans and history entries a file's page
// lists.
const fileListLimit = 50

type fileData struct {
	File catalog.File
	// Dir is the file's directory, for the link to its neighbours.
	Dir string
	// Policies is what each policy would do to the file as catalogued.
	Policies     []filePolicyPlan
	MorePolicies bool
	// Stored are the file's stored plans, oldest first.
	Stored []catalog.StoredPlan
	// HistoryRows are the applies of plans to the file, oldest first.
	HistoryRows []historyRow
}

// historyRow is a history entry with its tracks decoded.
type historyRow struct {
	catalog.HistoryEntry
	Before, After []policy.Track
}

func historyRowOf(h catalog.HistoryEntry) historyRow {
	r := historyRow{HistoryEntry: h}
	_ = json.Unmarshal(h.TracksBefore, &r.Before)
	_ = json.Unmarshal(h.TracksAfter, &r.After)
	return r
}

func (u *UI) handleFile(w http.ResponseWriter, r *http.Request, v visitor) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	f, err := u.deps.Store.GetFile(r.Context(), id)
	if errors.Is(err, catalog.ErrNotFound) {
		return errorf(http.StatusNotFound, "There is no file %d in the catalogue.", id)
	}
	if err != nil {
		return err
	}
	d := fileData{File: f, Dir: filepath.Dir(f.Path)}
	d.Policies, d.MorePolicies = u.filePlans(f)
	if d.Stored, err = u.deps.Store.ListPlans(r.Context(), catalog.PlanFilter{FileID: id, Limit: fileListLimit}); err != nil {
		return err
	}
	history, err := u.deps.Store.FileHistory(r.Context(), id, 0, fileListLimit)
	if err != nil {
		return err
	}
	for _, h := range history {
		d.HistoryRows = append(d.HistoryRows, historyRowOf(h))
	}
	return u.render(w, r, v, view{name: "file", title: filepath.Base(displayPath(f.Path)), nav: "library", data: d})
}

// pageQuery is "?"+ the non-empty filters of base, plus key=value when key is set.
func pageQuery(base map[string]string, key, value string) string {
	vals := url.Values{}
	keys := make([]string, 0, len(base))
	for k := range base {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if base[k] != "" {
			vals.Set(k, base[k])
		}
	}
	if key != "" {
		vals.Set(key, value)
	}
	if len(vals) == 0 {
		return "?"
	}
	return "?" + vals.Encode()
}

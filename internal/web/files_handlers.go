package web

import (
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
)

// maxFilterLen bounds a filter's text.
const maxFilterLen = 4096

type libraryFilter struct {
	PathPrefix, Container, Codec, Language, Missing string
}

// Active reports whether any filter is set.
func (f libraryFilter) Active() bool {
	return f.PathPrefix != "" || f.Container != "" || f.Codec != "" || f.Language != "" || f.Missing != ""
}

func (f libraryFilter) query() map[string]string {
	return map[string]string{"path_prefix": f.PathPrefix, "container": f.Container, "codec": f.Codec,
		"language": f.Language, "missing": f.Missing}
}

type libraryData struct {
	Filter libraryFilter
	Files  []catalog.File
	Next   string
	First  string
	// Suggestions for the filter fields, from the cached totals.
	Containers, Codecs, Languages []string
}

func (u *UI) handleLibrary(w http.ResponseWriter, r *http.Request, v visitor) error {
	q := r.URL.Query()
	f := libraryFilter{
		PathPrefix: strings.TrimSpace(q.Get("path_prefix")),
		Container:  strings.TrimSpace(q.Get("container")),
		Codec:      strings.TrimSpace(q.Get("codec")),
		Language:   strings.TrimSpace(q.Get("language")),
		Missing:    q.Get("missing"),
	}
	for name, val := range f.query() {
		if len(val) > maxFilterLen {
			return errorf(http.StatusBadRequest, "The %s filter is longer than %d bytes.", name, maxFilterLen)
		}
	}
	filter := catalog.FileFilter{Container: f.Container, Codec: f.Codec, Language: f.Language, Limit: pageSize + 1}
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
	after, err := cursorParam(q.Get("cursor"))
	if err != nil {
		return err
	}
	filter.After = after
	files, err := u.deps.Store.ListFiles(r.Context(), filter)
	if err != nil {
		return err
	}
	d := libraryData{Filter: f}
	if len(files) > pageSize {
		files = files[:pageSize]
		d.Next = pageQuery(f.query(), "cursor", strconv.FormatInt(files[len(files)-1].ID, 10))
	}
	if after > 0 {
		d.First = pageQuery(f.query(), "", "")
	}
	d.Files = files
	if t, ok := u.totals.peek(); ok {
		d.Containers, d.Codecs, d.Languages = t.names(t.Containers), t.names(t.Codecs), t.names(t.Languages)
	} else {
		u.totals.refresh(time.Time{})
	}
	return u.render(w, r, v, view{name: "library", title: "Library", nav: "library", data: d})
}

type fileData struct {
	File catalog.File
	// Dir is the file's directory, for the link to its neighbours.
	Dir string
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
	return u.render(w, r, v, view{name: "file", title: filepath.Base(displayPath(f.Path)), nav: "library",
		data: fileData{File: f, Dir: filepath.Dir(f.Path)}})
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

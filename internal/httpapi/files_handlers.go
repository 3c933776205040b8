package httpapi

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/probe"
)

// FileView is a catalogued file as the API shows it.
type FileView struct {
	ID   int64  `json:"id"`
	Path string `json:"path"`
	// PathBytes is the path's exact bytes, base64, present only when the path is not
	// valid UTF-8 (Path then shows the invalid bytes as U+FFFD).
	PathBytes   string        `json:"path_bytes,omitempty"`
	Size        int64         `json:"size"`
	ModTime     time.Time     `json:"mtime"`
	Fingerprint string        `json:"fingerprint"`
	Container   string        `json:"container"`
	Duration    float64       `json:"duration"`
	BitRate     int64         `json:"bit_rate"`
	ProbeError  string        `json:"probe_error,omitempty"`
	ProbedAt    *time.Time    `json:"probed_at"`
	Missing     bool          `json:"missing"`
	FirstSeen   time.Time     `json:"first_seen"`
	UpdatedAt   time.Time     `json:"updated_at"`
	Tracks      []probe.Track `json:"tracks,omitempty"`
}

func fileView(f catalog.File) FileView {
	v := FileView{ID: f.ID, Path: f.Path, Size: f.Size, ModTime: f.ModTime, Fingerprint: f.Fingerprint,
		Container: f.Container, Duration: f.Duration, BitRate: f.BitRate, ProbeError: f.ProbeError,
		ProbedAt: f.ProbedAt, Missing: f.Missing, FirstSeen: f.FirstSeen, UpdatedAt: f.UpdatedAt, Tracks: f.Tracks}
	if !utf8.ValidString(f.Path) {
		v.PathBytes = base64.StdEncoding.EncodeToString([]byte(f.Path))
	}
	return v
}

func (a *API) handleListFiles(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "path_prefix", "container", "codec", "language", "missing", "limit", "cursor"); err != nil {
		return err
	}
	limit, err := pageLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	after, err := cursor(q.Get("cursor"))
	if err != nil {
		return err
	}
	f := catalog.FileFilter{PathPrefix: q.Get("path_prefix"), Container: q.Get("container"),
		Codec: q.Get("codec"), Language: q.Get("language"), After: after, Limit: limit}
	if f.PathPrefix != "" && f.PathPrefix[0] != '/' {
		return errorf(http.StatusBadRequest, "invalid_query", fmt.Sprintf("path_prefix %q is not an absolute path", f.PathPrefix))
	}
	if m := q.Get("missing"); m != "" {
		b, err := strconv.ParseBool(m)
		if err != nil {
			return errorf(http.StatusBadRequest, "invalid_query", fmt.Sprintf("missing %q is not true or false", m))
		}
		f.Missing = &b
	}
	entries, err := a.deps.Store.ListFileEntries(r.Context(), f)
	if err != nil {
		return err
	}
	var next string
	if len(entries) == limit {
		next = strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	writeFileList(w, entries, next)
	return nil
}

func (a *API) handleGetFile(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	f, err := a.deps.Store.GetFile(r.Context(), id)
	if errors.Is(err, catalog.ErrNotFound) {
		return errorf(http.StatusNotFound, "not_found", fmt.Sprintf("no file %d", id))
	}
	if err != nil {
		return err
	}
	v := fileView(f)
	if v.Tracks == nil {
		v.Tracks = []probe.Track{}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

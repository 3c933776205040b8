package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/probe"
)

// stdJSON is what encoding/json writes for v, as writeJSON does (no HTML escaping).
func stdJSON(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

var appendStringSeeds = []string{
	"", "plain", `quote " and backslash \`, "tab\tnew\nline\rcr\bbs\fff", "\x00\x01\x1f\x7f", "<html> & 'x'",
	"invalid \xff\xfe bytes", "truncated \xe2\x82", "\xc3\x28", "line\u2028sep\u2029para", "Français 5.1", "日本語 🎬",
	"/lib/bad\xffname.mkv", "\"\\\"\\",
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range appendStringSeeds {
		t.Run(strconv.Quote(s), func(t *testing.T) {
			if got, want := string(appendString(nil, s)), stdJSON(t, s); got != want {
				t.Errorf("appendString(%q) = %s, encoding/json writes %s", s, got, want)
			}
		})
	}
}

// FuzzAppendString: whatever the string, appendString writes what encoding/json does.
func FuzzAppendString(f *testing.F) {
	for _, s := range appendStringSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendString(nil, s)), stdJSON(t, s); got != want {
			t.Fatalf("appendString(%q) = %s, encoding/json writes %s", s, got, want)
		}
	})
}

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 1.5, 2700.5, 0.1, 1e-7, 1.5e-9, 123456789012, 1e20, 1e21, 3.2e25, math.MaxFloat64,
		math.SmallestNonzeroFloat64, -2.5e-8, 29.97002997002997} {
		if got, want := string(appendFloat(nil, f)), stdJSON(t, f); got != want {
			t.Errorf("appendFloat(%v) = %s, encoding/json writes %s", f, got, want)
		}
	}
	if got := string(appendFloat(nil, math.NaN())); got != "null" {
		t.Errorf("appendFloat(NaN) = %s, want null", got)
	}
}

// TestListFilesShowsWhatGetFileShows: each entry of GET /api/files has the fields
// of GET /api/files/{id}, with the same values, and its tracks' summary; the page
// is valid JSON with the right Content-Length.
func TestListFilesShowsWhatGetFileShows(t *testing.T) {
	b := newBundle(t, nil)
	ctx := context.Background()
	mkv := []probe.Track{
		{Index: 0, Type: "video", Codec: "h264", Width: 160, Height: 120, FrameRate: 25},
		{Index: 1, Type: "audio", Codec: "aac", Language: "eng", Title: "English", Default: true, Channels: 2},
		{Index: 2, Type: "audio", Codec: "ac3", Language: "fra", Channels: 6},
		{Index: 3, Type: "subtitle", Codec: "subrip", Language: "eng", Forced: true},
	}
	for _, o := range []catalog.Observation{
		{Path: "/lib/film.mkv", Size: 89350, ModTime: time.Unix(1700000000, 123456789), Fingerprint: "xxh3:9c56",
			Result: &probe.Result{Container: "matroska,webm", Duration: 1.04, BitRate: 687307, Tracks: mkv}},
		{Path: "/lib/bad\xffname \"<x>\".mkv", Size: 1, ModTime: time.Unix(1, 0), ProbeError: "ffprobe failed: \"Invalid data\"\n"},
		{Path: "/lib/later.mp4", Size: 2, ModTime: time.Unix(2, 0), ProbeError: "ffprobe not found", Retry: true},
		{Path: "/lib/whole.mkv", Size: 3, ModTime: time.Unix(3, 0),
			Result: &probe.Result{Container: "matroska,webm", Duration: 1e-7, Tracks: mkv[1:2]}},
	} {
		if _, err := b.store.RecordFile(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.store.MarkMissing(ctx, []int64{4}); err != nil {
		t.Fatal(err)
	}
	h := b.api.Handler()
	get := func(target string) (*httptest.ResponseRecorder, map[string]any) {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, newRequest("GET", target, nil))
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", target, w.Code, w.Body)
		}
		var v map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Fatalf("GET %s: %v in %s", target, err, w.Body)
		}
		return w, v
	}
	w, page := get("/api/files?limit=3")
	if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(w.Body.Len()) {
		t.Errorf("Content-Length %s, body %d bytes", cl, w.Body.Len())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if page["next_cursor"] != "3" {
		t.Errorf("next_cursor %v, want \"3\"", page["next_cursor"])
	}
	_, rest := get("/api/files?limit=3&cursor=3")
	if _, ok := rest["next_cursor"]; ok {
		t.Errorf("last page has a next_cursor: %v", rest)
	}
	entries := append(page["files"].([]any), rest["files"].([]any)...)
	if len(entries) != 4 {
		t.Fatalf("%d files listed, want 4", len(entries))
	}
	for _, e := range entries {
		entry := e.(map[string]any)
		_, file := get(fmt.Sprintf("/api/files/%v", entry["id"]))
		detail, _ := file["tracks"].([]any)
		summary, ok := entry["tracks"].([]any)
		if !ok {
			t.Errorf("file %v: tracks %v, want a list", entry["id"], entry["tracks"])
		}
		delete(entry, "tracks")
		delete(file, "tracks")
		if !reflect.DeepEqual(entry, file) {
			t.Errorf("listed:\n%v\nGET /api/files/%v:\n%v", entry, entry["id"], file)
		}
		var want []any
		for _, d := range detail {
			tr := d.(map[string]any)
			s := map[string]any{}
			for _, k := range []string{"index", "type", "codec", "language", "default", "forced"} {
				s[k] = tr[k]
				if k == "language" && tr[k] == nil {
					s[k] = ""
				}
			}
			want = append(want, s)
		}
		if len(want) != len(summary) || (len(want) > 0 && !reflect.DeepEqual(summary, want)) {
			t.Errorf("file %v: track summary %v, want %v", entry["id"], summary, want)
		}
	}
	if _, ok := entries[1].(map[string]any)["path_bytes"]; !ok {
		t.Error("the non-UTF-8 path has no path_bytes")
	}
}

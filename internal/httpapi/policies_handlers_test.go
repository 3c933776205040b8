package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/app"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/testmedia"
)

const testPolicy = `schema_version: 13
description: English first
config:
  audio_languages: [eng, fra]
phases:
  - name: tracks
    keep_audio:
      languages: [eng, fra]
    track_order: [video, audio_main, audio_alternate, audio_commentary]
    default_flags:
      set_preferred_audio_default: true
`

const brokenTestPolicy = "schema_version: 13\nphases:\n  - name: x\n    keep_audio:\n      minimum: 0\n"

// policyServer is the real API over loopback HTTP with a real catalogue, the
// policies movies (valid) and broken (invalid), and one probed file: the
// policy test media. It returns the base URL and the file's id.
func policyServer(t *testing.T) (string, int64) {
	t.Helper()
	dir, root, pdir := t.TempDir(), t.TempDir(), t.TempDir()
	for name, body := range map[string]string{"movies.yaml": testPolicy, "broken.yaml": brokenTestPolicy} {
		if err := os.WriteFile(filepath.Join(pdir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := policy.LoadRegistry(pdir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default(dir)
	cfg.Library.Roots, cfg.Jobs.Workers = []string{root}, 1
	ctx := context.Background()
	core, err := app.Open(ctx, cfg, logging.Discard(), app.Migrate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.Close(ctx) })
	f, err := core.Scanner.ProbeFile(ctx, testmedia.MakePolicyMKV(t, root), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	a := New(Deps{Logger: logging.Discard(), Database: core.Store, Started: time.Now(), Jobs: core.Jobs,
		Store: core.Store, Scanner: core.Scanner, Policies: reg})
	a.SetReady()
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv.URL, f.ID
}

func TestPolicyEndpoints(t *testing.T) {
	base, fileID := policyServer(t)
	id := strconv.FormatInt(fileID, 10)
	tests := []struct {
		name        string
		method, url string
		contentType string
		body        string
		status      int
		want        []string // substrings of the body
	}{
		{name: "list", method: "GET", url: "/api/policies", status: 200, want: []string{
			`{"name":"broken","file":"`, `"valid":false,"errors":[{"line":5,"column":7,"path":"phases[0].keep_audio.languages","message":"is required","text":"`,
			`{"name":"movies","description":"English first","file":"`, `movies.yaml","valid":true}`}},
		{name: "get valid", method: "GET", url: "/api/policies/movies", status: 200, want: []string{
			`"valid":true`, `"sha256":"`, `"audio_languages":["eng","fra"]`, `"subtitle_languages":["eng","und"]`,
			`"phases":[{"name":"tracks","operations":["keep_audio","track_order","default_flags"]}]`}},
		{name: "get invalid", method: "GET", url: "/api/policies/broken", status: 200, want: []string{
			`"valid":false`, `"path":"phases[0].keep_audio.minimum","message":"must be >= 1"`}},
		{name: "get unknown", method: "GET", url: "/api/policies/nope", status: 404, want: []string{`"code":"not_found"`, `no policy \"nope\" in `}},
		{name: "validate yaml", method: "POST", url: "/api/policies/validate?name=mine.yaml", contentType: "application/yaml",
			body: testPolicy, status: 200, want: []string{`"name":"mine.yaml"`, `"valid":true`, `"operations":["keep_audio"`}},
		{name: "validate text/yaml broken", method: "POST", url: "/api/policies/validate", contentType: "text/yaml; charset=utf-8",
			body: brokenTestPolicy, status: 200, want: []string{`"valid":false`,
				`"text":"policy.yaml:5:16: phases[0].keep_audio.minimum: must be >= 1"`}},
		{name: "validate json", method: "POST", url: "/api/policies/validate", contentType: "application/json",
			body: `{"name":"x.yaml","yaml":"schema_version: 12\nphases: [{name: a}]\n"}`, status: 200,
			want: []string{`"valid":false`, `"line":1,"column":17,"path":"schema_version"`}},
		{name: "validate not yaml", method: "POST", url: "/api/policies/validate", contentType: "application/yaml",
			body: "a: [", status: 200, want: []string{`"valid":false`, `not valid YAML`}},
		{name: "validate text/plain", method: "POST", url: "/api/policies/validate", contentType: "text/plain",
			body: testPolicy, status: 415, want: []string{`"code":"unsupported_media_type"`}},
		{name: "yaml elsewhere", method: "POST", url: "/api/jobs", contentType: "application/yaml",
			body: "type: scan", status: 415, want: []string{`send Content-Type: application/json`}},
		{name: "validate wrong type", method: "POST", url: "/api/policies/validate", contentType: "application/xml",
			body: "<p/>", status: 415, want: []string{`"code":"unsupported_media_type"`}},
		{name: "validate unknown param", method: "POST", url: "/api/policies/validate?x=1", contentType: "application/yaml",
			body: testPolicy, status: 400},
		{name: "post to a policy", method: "POST", url: "/api/policies/movies", contentType: "application/json", body: "{}",
			status: 405, want: []string{`"code":"method_not_allowed"`}},
		{name: "delete a policy", method: "DELETE", url: "/api/policies/movies", status: 405},
		{name: "plan", method: "GET", url: "/api/files/" + id + "/plan?policy=movies", status: 200, want: []string{
			`"file_id":` + id, `"policy":"movies"`, `"outcome":"would change","changed":true`,
			`"removals":[{"track":4,"reason":"keep_audio: language und not in languages"}]`,
			`{"track":3,"field":"default","from":false,"to":true}`}},
		{name: "plan without policy", method: "GET", url: "/api/files/" + id + "/plan", status: 400, want: []string{`policy is required`}},
		{name: "plan unknown policy", method: "GET", url: "/api/files/" + id + "/plan?policy=nope", status: 404,
			want: []string{`"code":"policy_not_found"`}},
		{name: "plan invalid policy", method: "GET", url: "/api/files/" + id + "/plan?policy=broken", status: 422,
			want: []string{`"code":"invalid_policy"`, `"errors":[{"line":5,"column":7,`}},
		{name: "plan unknown file", method: "GET", url: "/api/files/999/plan?policy=movies", status: 404, want: []string{`no file 999`}},
		{name: "plan bad id", method: "GET", url: "/api/files/x/plan?policy=movies", status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, base+tt.url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if !json.Valid(body) {
				t.Fatalf("body is not JSON: %s", body)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("body lacks %s:\n%s", w, body)
				}
			}
		})
	}
}

// TestPolicyEndpointsWithoutRegistry: a daemon built without policies
// answers 503, never a panic.
func TestPolicyEndpointsWithoutRegistry(t *testing.T) {
	a := New(Deps{Logger: logging.Discard()})
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, newRequest("GET", "/api/policies", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"code":"no_policies"`) {
		t.Fatalf("HTTP %d %s", rec.Code, rec.Body)
	}
}

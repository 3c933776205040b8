package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every failure is an Errors
// of one-line positioned errors, and that every accepted policy survives the
// `policy show` round trip unchanged.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"schema_version: 13\nphases: [{name: p}]\n",
		"schema_version: 13\nphases: [{name: p, track_order: [video, audio_main], default_flags: {}}]\n",
		"schema_version: 13\nphases: [{name: a}, {name: b, depends_on: [a], run_if: {phase_modified: a}}]\n",
		"schema_version: 13\nx: &a [*a]\nphases: [{name: p}]\n",
		"schema_version: 13\nphases: [{name: p, rules: {match: first, items: [{name: r, when: {not: {count: {track_type: audio, gt: 1}}}, then: {warn: w}}]}}]\n",
		"a: [1, 2\n",
		"schema_version: 13\nphases: [{name: p, rules: {match: all, items: [{name: r, then: {warn: x}, when: &a {or: [*a, {not: *a}]}}]}}]\n",
		"--- \n...\n---\n",
		"{schema_version: 13, phases: [{name: p, keep_audio: {languages: [eng], fallback: {mode: error}}}]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("f.yaml", data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T %q is not a non-empty Errors", err, err)
			}
			for _, e := range es {
				if e.File != "f.yaml" || e.Msg == "" {
					t.Fatalf("malformed error %+v", e)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		out, err := p.EffectiveYAML()
		if err != nil {
			t.Fatalf("EffectiveYAML: %v", err)
		}
		q, err := Parse("f.yaml", out)
		if err != nil {
			t.Fatalf("show output does not parse: %v\n%s", err, out)
		}
		out2, err := q.EffectiveYAML()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != string(out2) {
			t.Fatalf("show not stable:\n%s\n---\n%s", out, out2)
		}
	})
}

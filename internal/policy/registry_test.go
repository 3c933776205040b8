package policy_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpo-project/vpo/internal/policy"
)

func TestRegistry(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"good.yaml": "schema_version: 13\nphases: [{name: a, keep_audio: {languages: [eng]}}]\n",
		"bad.yml":   "schema_version: 12\nphases: [{name: a}]\n",
		"notes.txt": "not a policy",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := policy.LoadRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	entries := reg.Entries()
	if len(entries) != 2 || entries[0].Name != "bad" || entries[1].Name != "good" {
		t.Fatalf("entries = %+v", entries)
	}
	if entries[0].Err == nil || entries[1].Err != nil {
		t.Fatalf("bad.yml err %v, good.yaml err %v", entries[0].Err, entries[1].Err)
	}
	ev, p, err := reg.Evaluator("good")
	if err != nil || ev == nil || p == nil {
		t.Fatalf("Evaluator(good) = %v, %v, %v", ev, p, err)
	}

	tests := []struct {
		name    string
		names   []string
		wantIs  error
		wantMsg string
	}{
		{name: "all valid", names: []string{"good"}},
		{name: "none", names: nil},
		{name: "unknown", names: []string{"good", "gone"}, wantIs: policy.ErrNotFound,
			wantMsg: `policy "gone": no gone.yaml in ` + dir + `: policy not found`},
		{name: "invalid", names: []string{"bad"}, wantIs: policy.ErrInvalid,
			wantMsg: `policy "bad" is not valid: ` + filepath.Join(dir, "bad.yml") + `:1:17: schema_version: `},
		{name: "both", names: []string{"bad", "gone"}, wantIs: policy.ErrInvalid, wantMsg: "\npolicy \"gone\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := reg.ValidateNamed(tt.names)
			if tt.wantIs == nil {
				if err != nil {
					t.Fatalf("ValidateNamed = %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantIs) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("ValidateNamed = %v, want %v containing %q", err, tt.wantIs, tt.wantMsg)
			}
		})
	}
	var es policy.Errors
	if _, _, err := reg.Evaluator("bad"); !errors.As(err, &es) || es[0].Line != 1 {
		t.Errorf("Evaluator(bad) = %v, want the positioned Errors", err)
	}

	empty, err := policy.LoadRegistry(filepath.Join(dir, "missing"))
	if err != nil || len(empty.Entries()) != 0 {
		t.Errorf("LoadRegistry(missing dir) = %v, %v; want an empty registry", empty, err)
	}
}

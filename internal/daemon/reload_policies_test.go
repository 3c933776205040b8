package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vpo-project/vpo/internal/config"
)

// A reload's policies are all valid, or the reload is refused: a broken policy,
// even one no root names, and a root's policy that is gone refuse it.
func TestReloadPolicies(t *testing.T) {
	t.Parallel()
	const good = "schema_version: 13\nphases: [{name: a, keep_audio: {languages: [eng]}}]\n"
	const broken = "schema_version: 13\nphases:\n  - name: x\n    keep_audio:\n      languages: [eng]\n      minimum: 0\n"
	tests := []struct {
		name    string
		files   map[string]string
		policy  string // the root's policy, "" for none
		want    string // in the error; "" for none
		entries int
	}{
		{name: "no directory", entries: 0},
		{name: "valid", files: map[string]string{"good.yaml": good}, policy: "good", entries: 1},
		{name: "broken, named by no root", files: map[string]string{"good.yaml": good, "broken.yaml": broken},
			want: `policy "broken" is not valid: POLICIES/broken.yaml:6:16: phases[0].keep_audio.minimum: must be >= 1`},
		{name: "a root's policy is gone", files: map[string]string{"good.yaml": good}, policy: "gone",
			want: `library.roots: entry 1 (ROOT): policy "gone": no gone.yaml in `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home, root := t.TempDir(), t.TempDir()
			roots := ""
			if tt.policy != "" {
				roots = "[[library.roots]]\npath = " + strconv.Quote(root) + "\npolicy = " + strconv.Quote(tt.policy) + "\n"
			}
			cfg := watchConfig(t, home, root, roots)
			if tt.files != nil {
				if err := os.MkdirAll(cfg.Policies.Dir, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			for name, body := range tt.files {
				if err := os.WriteFile(filepath.Join(cfg.Policies.Dir, name), []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			reg, err := reloadPolicies(cfg)
			if tt.want == "" {
				if err != nil || len(reg.Entries()) != tt.entries {
					t.Fatalf("reloadPolicies = %v, %v; want %d entries", reg, err, tt.entries)
				}
				return
			}
			want := strings.NewReplacer("ROOT", root, "POLICIES", cfg.Policies.Dir).Replace(tt.want)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("reloadPolicies error = %v, want it to contain %q", err, want)
			}
			var ce *config.Error
			if tt.policy == "gone" && !errors.As(err, &ce) {
				t.Errorf("a root's missing policy is not a config error: %T", err)
			}
		})
	}
}

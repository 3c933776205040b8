package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/logging"
)

// TestConfiguredPolicy: a library root naming a policy that is missing or
// invalid is a configuration error (exit 78) before anything starts, with
// the policy's first problem and position; an invalid policy nobody names
// does not stop the daemon (loadPolicies returns it, listed as invalid).
func TestConfiguredPolicy(t *testing.T) {
	tests := []struct {
		name   string
		policy string
		want   string // in the error; "" for no error
	}{
		{name: "missing", policy: "gone", want: `entry 1 (ROOT): policy "gone": no gone.yaml in `},
		{name: "invalid", policy: "broken", want: `entry 1 (ROOT): policy "broken" is not valid: POLICIES/broken.yaml:6:16: phases[0].keep_audio.minimum: must be >= 1`},
		{name: "valid", policy: "good"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home, root := t.TempDir(), t.TempDir()
			cfg := watchConfig(t, home, root,
				"[[library.roots]]\npath = "+strconv.Quote(root)+"\npolicy = "+strconv.Quote(tt.policy)+"\n")
			dir := cfg.Policies.Dir
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			for name, body := range map[string]string{
				"good.yaml":   "schema_version: 13\nphases: [{name: a, keep_audio: {languages: [eng]}}]\n",
				"broken.yaml": "schema_version: 13\nphases:\n  - name: x\n    keep_audio:\n      languages: [eng]\n      minimum: 0\n",
			} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tt.want == "" {
				reg, err := loadPolicies(cfg, logging.Discard(), configuredPolicies(cfg))
				if err != nil || len(reg.Entries()) != 2 {
					t.Fatalf("loadPolicies = %v, %v", reg, err)
				}
				return
			}
			err := Run(context.Background(), cfg, logging.Discard(), Options{Signals: make(chan os.Signal), Started: time.Now()})
			want := strings.NewReplacer("ROOT", root, "POLICIES", dir).Replace(tt.want)
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Key != "library.roots" || !strings.Contains(err.Error(), want) {
				t.Fatalf("Run = %v, want a library.roots config error containing %q", err, want)
			}
			if _, err := os.Stat(cfg.DatabasePath); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the database was created before the configuration error: %v", err)
			}
		})
	}
}

package apply_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/apply"
	"github.com/vpo-project/vpo/internal/testmedia"
)

func inPlaceExecutor(t *testing.T) (*apply.Executor, string) {
	t.Helper()
	jdir := filepath.Join(t.TempDir(), "journal")
	if err := os.Mkdir(jdir, 0o700); err != nil {
		t.Fatal(err)
	}
	e := newExecutor()
	e.InPlace, e.JournalDir = apply.InPlaceAuto, jdir
	return e, jdir
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Errorf("%s: left %v (%v)", dir, left, err)
	}
}

// TestApplyInPlace: a flags-only plan with in_place = auto edits the file
// itself; the result is verified, the journal removed, the media bytes
// untouched, and a second apply changes nothing.
func TestApplyInPlace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := testmedia.MakeRich(t, dir).MKV
	before, _ := os.ReadFile(path)
	pol, req := planFor(t, path, flagsFrench)
	e, jdir := inPlaceExecutor(t)
	res, err := e.Apply(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || !res.InPlace || res.Tool != apply.ToolMKVPropEdit {
		t.Fatalf("res = %+v", res)
	}
	after, _ := os.ReadFile(path)
	// The last 90 % of the file (the clusters) are the same bytes.
	tail := len(before) / 10
	if !bytes.Equal(after[tail:len(before)], before[tail:]) {
		t.Error("the media data changed")
	}
	again := requestFor(t, pol, path)
	if !again.Plan.Conformant() {
		t.Errorf("not conformant:\n%s", planText(again.Plan))
	}
	for _, tr := range again.Plan.File.Tracks {
		if tr.Type == "audio" && tr.Default != (tr.Language == "fra") {
			t.Errorf("track %d default = %t", tr.ID, tr.Default)
		}
	}
	assertEmptyDir(t, jdir)
	assertNoTemp(t, dir)
	state := stateOf(t, path)
	if res, err := e.Apply(context.Background(), again); err != nil || res.Changed {
		t.Errorf("second apply: %+v, %v", res, err)
	}
	assertUntouched(t, path, state)
}

// TestApplyInPlaceUndo: an in-place edit that leaves a wrong file (the fake
// tool runs the real mkvpropedit, then scribbles on the header and appends
// garbage), or is cancelled mid-edit, is undone from the journal: the
// original's bytes and mtime are back and no journal is left.
func TestApplyInPlaceUndo(t *testing.T) {
	t.Parallel()
	realTool, err := exec.LookPath("mkvpropedit")
	if err != nil {
		t.Fatal(err)
	}
	scribble := realTool + ` "$@" >/dev/null || exit 2
printf 'GARBAGEGARBAGE' | dd of="$1" bs=1 seek=60 conv=notrunc 2>/dev/null
head -c 3000 /dev/zero >> "$1"
`
	tests := []struct {
		name    string
		body    string
		cancel  bool
		wantErr error
	}{
		{name: "verification fails", body: scribble + "exit 0", wantErr: apply.ErrVerify},
		{name: "tool fails", body: scribble + "exit 2", wantErr: errors.New("mkvpropedit failed")},
		{name: "cancelled", body: scribble + "touch \"$1.edited\"; sleep 60", cancel: true, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := testmedia.MakeRich(t, dir).MKV
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
			_, req := planFor(t, path, flagsFrench)
			e, jdir := inPlaceExecutor(t)
			e.Tools.MKVPropEdit = fakeTool(t, tt.body)
			before := stateOf(t, path)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				go func() {
					for {
						if _, err := os.Stat(path + ".edited"); err == nil {
							cancel()
							return
						}
						time.Sleep(10 * time.Millisecond)
					}
				}()
			}
			_, err := e.Apply(ctx, req)
			if err == nil {
				t.Fatal("no error")
			}
			var sentinel error
			if errors.Is(tt.wantErr, apply.ErrVerify) || errors.Is(tt.wantErr, context.Canceled) {
				sentinel = tt.wantErr
			}
			if sentinel != nil && !errors.Is(err, sentinel) || sentinel == nil && !strings.Contains(err.Error(), tt.wantErr.Error()) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			_ = os.Remove(path + ".edited")
			assertUntouched(t, path, before)
			assertEmptyDir(t, jdir)
		})
	}
}

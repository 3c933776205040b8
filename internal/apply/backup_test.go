package apply_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vpo-project/vpo/internal/apply"
	"github.com/vpo-project/vpo/internal/testmedia"
)

const clearTitles = header + `phases:
  - name: titles
    audio_actions: {clear_all_titles: true}
`

func inode(t *testing.T, path string) (ino uint64, links uint64) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	s := st.Sys().(*syscall.Stat_t)
	return s.Ino, uint64(s.Nlink)
}

// TestApplyBackupKeep: with backup = keep each rewrite leaves the version it
// replaced as NAME.vpo-backup, a hard link to the original inode (no copy):
// bit-identical to the original, sharing its inode, while the file itself
// is the new verified version. A second apply keeps the first backup (the
// original original), and in_place = auto does not edit in place (the edit
// would change the backup too).
func TestApplyBackupKeep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mp4      bool
		policy   string
		second   string // a second policy applied after the first
		wantTool string
		newExt   string
	}{
		{name: "mkvpropedit with in_place auto uses the temp file", policy: flagsFrench, second: removeFrench, wantTool: apply.ToolMKVPropEdit},
		{name: "mkvmerge", policy: removeFrench, second: clearTitles, wantTool: apply.ToolMKVMerge},
		{name: "ffmpeg mp4", mp4: true, policy: removeFrench, wantTool: apply.ToolFFmpeg},
		{name: "ffmpeg conversion mp4 to mkv", mp4: true, policy: header + `phases:
  - name: convert
    container: {target: mkv}
`, wantTool: apply.ToolFFmpeg, newExt: ".mkv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			media := testmedia.MakeRich(t, dir)
			path := media.MKV
			if tt.mp4 {
				path = media.MP4
				if err := os.Remove(media.MKV); err != nil { // the conversion's new name
					t.Fatal(err)
				}
			}
			origHash := hashFile(t, path)
			origIno, _ := inode(t, path)
			pol, req := planFor(t, path, tt.policy)
			e, jdir := inPlaceExecutor(t)
			e.Backup = apply.BackupKeep
			res, err := e.Apply(context.Background(), req)
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			backup := path + ".vpo-backup"
			if res.Tool != tt.wantTool || res.InPlace || res.Backup != backup || !res.BackupMade {
				t.Fatalf("res = %+v; want tool %s, not in place, backup %s made", res, tt.wantTool, backup)
			}
			assertEmptyDir(t, jdir)
			assertNoTemp(t, dir)
			if got := hashFile(t, backup); got != origHash {
				t.Errorf("backup differs from the original: %s, want %s", got, origHash)
			}
			bIno, bLinks := inode(t, backup)
			if bIno != origIno || bLinks != 1 {
				t.Errorf("backup inode %d (%d links), want the original's %d with 1 link", bIno, bLinks, origIno)
			}
			wantPath := path
			if tt.newExt != "" {
				wantPath = strings.TrimSuffix(path, filepath.Ext(path)) + tt.newExt
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Errorf("the original name is still there after the conversion: %v", err)
				}
			}
			if res.Path != wantPath {
				t.Fatalf("path %s, want %s", res.Path, wantPath)
			}
			if nIno, _ := inode(t, res.Path); nIno == origIno {
				t.Error("the new version shares the original's inode")
			}
			again := requestFor(t, pol, res.Path)
			if !again.Plan.Conformant() {
				t.Errorf("the new version is not conformant:\n%s", planText(again.Plan))
			}
			if tt.second == "" {
				return
			}
			// A second rewrite keeps the first backup.
			_, req2 := planFor(t, res.Path, tt.second)
			if !req2.Plan.Changed() {
				t.Fatalf("second plan changes nothing:\n%s", planText(req2.Plan))
			}
			res2, err := e.Apply(context.Background(), req2)
			if err != nil {
				t.Fatalf("second apply: %v", err)
			}
			if !res2.Changed || res2.InPlace || res2.Backup != backup || res2.BackupMade {
				t.Errorf("second res = %+v; want changed, not in place, the existing backup kept", res2)
			}
			if got := hashFile(t, backup); got != origHash {
				t.Error("the second apply replaced the backup of the original")
			}
			if bIno2, _ := inode(t, backup); bIno2 != origIno {
				t.Error("the backup is no longer the original's inode")
			}
			assertNoTemp(t, dir)
		})
	}
}

// TestApplyInPlaceHardLinked: in_place = auto never edits a file that has
// other hard links in place (they would all change): it edits a copy, and
// the other name keeps the old content.
func TestApplyInPlaceHardLinked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := testmedia.MakeRich(t, dir).MKV
	other := filepath.Join(dir, "other-name.mkv")
	if err := os.Link(path, other); err != nil {
		t.Fatal(err)
	}
	orig := hashFile(t, path)
	_, req := planFor(t, path, flagsFrench)
	e, _ := inPlaceExecutor(t)
	res, err := e.Apply(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.InPlace {
		t.Fatalf("res = %+v; want changed on a copy", res)
	}
	if hashFile(t, other) != orig {
		t.Error("the other hard link changed")
	}
	if hashFile(t, path) == orig {
		t.Error("the file did not change")
	}
}

// TestApplyBackupRefused: a bad backup mode is refused before anything is
// written.
func TestApplyBackupRefused(t *testing.T) {
	t.Parallel()
	path := testmedia.MakeRich(t, "").MKV
	before := stateOf(t, path)
	_, req := planFor(t, path, removeFrench)
	e := newExecutor()
	e.Backup = "copy"
	if _, err := e.Apply(context.Background(), req); err == nil || !strings.Contains(err.Error(), `backup mode "copy"`) {
		t.Errorf("err = %v", err)
	}
	assertUntouched(t, path, before)
}

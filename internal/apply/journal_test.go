package apply

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/testmedia"
)

func trackUIDs(t *testing.T, path string) []string {
	t.Helper()
	cmd := exec.Command("mkvmerge", "-J", path)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mkvmerge -J: %v", err)
	}
	info, err := parseMKVInfo(out)
	if err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, tr := range info.Tracks {
		uids = append(uids, strconv.FormatUint(tr.Properties.UID, 10))
	}
	return uids
}

// TestMKVPropEditWritesOnlyTheHeader is the proof the journal relies on:
// whatever mkvpropedit changes, it writes only before the first Cluster or
// past the old end of the file, on files muxed by ffmpeg and by mkvmerge,
// also when the new header no longer fits where the old one was.
func TestMKVPropEditWritesOnlyTheHeader(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	media := testmedia.MakeRich(t, dir)
	remuxed := filepath.Join(dir, "remuxed.mkv")
	cmd := exec.Command("mkvmerge", "-q", "-o", remuxed, media.MKV)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkvmerge: %v: %s", err, out)
	}
	long := strings.Repeat("A very long title that cannot fit in the old header. ", 200)
	edits := []struct {
		name  string
		grows bool // the new header does not fit: mkvpropedit appends
		args  func(uids []string) []string
	}{
		{name: "flags", args: func(u []string) []string {
			return []string{"--edit", "track:=" + u[1], "--set", "flag-default=0", "--edit", "track:=" + u[2], "--set", "flag-default=1", "--set", "flag-forced=1"}
		}},
		{name: "language", args: func(u []string) []string {
			return []string{"--edit", "track:=" + u[2], "--set", "language=ger"}
		}},
		{name: "names deleted", args: func(u []string) []string {
			return []string{"--edit", "track:=" + u[0], "--delete", "name", "--edit", "track:=" + u[1], "--delete", "name"}
		}},
		{name: "header grows past its space", grows: true, args: func(u []string) []string {
			return []string{"--edit", "track:=" + u[1], "--set", "name=" + long, "--edit", "track:=" + u[len(u)-1], "--set", "name=" + long}
		}},
	}
	for _, src := range []string{media.MKV, remuxed, media.Swapped} {
		for _, ed := range edits {
			t.Run(filepath.Base(src)+"/"+ed.name, func(t *testing.T) {
				t.Parallel()
				p := filepath.Join(t.TempDir(), "x.mkv")
				before, err := os.ReadFile(src)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, before, 0o644); err != nil {
					t.Fatal(err)
				}
				f, err := os.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				off, err := firstCluster(f, int64(len(before)))
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(before[off:], []byte{0x1F, 0x43, 0xB6, 0x75}) {
					t.Fatalf("offset %d is not a Cluster", off)
				}
				uids := trackUIDs(t, p)
				cmd := exec.Command("mkvpropedit", append([]string{p}, ed.args(uids)...)...)
				cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("mkvpropedit: %v: %s", err, out)
				}
				after, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if len(after) < len(before) {
					t.Fatalf("file shrank from %d to %d bytes", len(before), len(after))
				}
				if !bytes.Equal(after[off:len(before)], before[off:]) {
					i := off
					for i < int64(len(before)) && after[i] == before[i] {
						i++
					}
					t.Fatalf("mkvpropedit wrote between the first Cluster (%d) and the old end (%d): first difference at %d", off, len(before), i)
				}
				if ed.grows && len(after) <= len(before) {
					t.Errorf("the header was meant to outgrow its space, but the file did not grow")
				}
				if bytes.Equal(after, before) {
					t.Fatal("mkvpropedit changed nothing")
				}
			})
		}
	}
}

func TestReplayJournals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jdir := filepath.Join(dir, "journal")
	if err := os.Mkdir(jdir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := testmedia.MakeRich(t, dir).MKV
	orig, _ := os.ReadFile(path)
	mtime := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	off, err := firstCluster(f, int64(len(orig)))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeJournal(jdir, &journal{path: path, size: int64(len(orig)), mtime: mtime, prefix: orig[:off]}); err != nil {
		t.Fatal(err)
	}
	// A crash mid-edit: part of the header overwritten, a new element
	// appended.
	broken := append(bytes.Clone(orig), bytes.Repeat([]byte{0xEC}, 5000)...)
	copy(broken[100:], bytes.Repeat([]byte{0xFF}, 200))
	if err := os.WriteFile(path, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	// A torn journal (crash while writing it), a journal whose file is
	// gone, and a half-written temp journal.
	if err := os.WriteFile(filepath.Join(jdir, "torn"+journalSuffix), []byte(journalMagic+"trunc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := writeJournal(jdir, &journal{path: filepath.Join(dir, "gone.mkv"), size: 10, prefix: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(jdir, "x"+journalSuffix+".tmp"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	restored, err := ReplayJournals(jdir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(restored) != 1 || restored[0] != path {
		t.Errorf("restored %q", restored)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, orig) {
		t.Error("file not restored to its original bytes")
	}
	if st, _ := os.Stat(path); !st.ModTime().Equal(mtime) {
		t.Errorf("mtime %s, want %s", st.ModTime(), mtime)
	}
	if left, _ := os.ReadDir(jdir); len(left) != 0 {
		t.Errorf("journal dir not empty: %v", left)
	}
}

func TestFirstClusterRejects(t *testing.T) {
	t.Parallel()
	for name, data := range map[string][]byte{
		"empty":        nil,
		"not ebml":     []byte("hello, this is not a matroska file at all"),
		"header only":  {0x1A, 0x45, 0xDF, 0xA3, 0x80},
		"no cluster":   {0x1A, 0x45, 0xDF, 0xA3, 0x80, 0x18, 0x53, 0x80, 0x67, 0x85, 0xEC, 0x83, 0, 0, 0},
		"unknown size": {0x1A, 0x45, 0xDF, 0xA3, 0x80, 0x18, 0x53, 0x80, 0x67, 0xFF, 0x16, 0x54, 0xAE, 0x6B, 0xFF},
	} {
		if _, err := firstCluster(bytes.NewReader(data), int64(len(data))); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

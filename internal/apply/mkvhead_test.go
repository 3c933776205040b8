package apply

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/testmedia"
)

func tool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 { // 1: warnings
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	return out
}

// headFiles makes Matroska files of several makers and kinds: ffmpeg's
// (rich: languages, non-ASCII titles, default/forced/other flags, subtitles,
// an attachment), its swapped-number variant, and mkvmerge's own remux of
// it with languages, titles and flags set by mkvmerge (BCP 47 elements,
// attachments written by mkvmerge), and that remux edited by mkvpropedit.
func headFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	r := testmedia.MakeRich(t, dir)
	font := filepath.Join(dir, "ünïcode font.ttf")
	if err := os.WriteFile(font, []byte("not really a font"), 0o644); err != nil {
		t.Fatal(err)
	}
	merged := filepath.Join(dir, "merged.mkv")
	tool(t, "mkvmerge", "-q", "-o", merged,
		"--language", "1:ja", "--track-name", "1:日本語 ✓ «stéréo»",
		"--language", "2:pt-BR", "--default-track-flag", "2:1",
		"--forced-display-flag", "5:1", "--track-name", "6:",
		"--attachment-mime-type", "font/ttf", "--attach-file", font, r.MKV)
	edited := filepath.Join(dir, "edited.mkv")
	copyFile(t, merged, edited)
	tool(t, "mkvpropedit", edited, "--edit", "track:a2", "--set", "language=de", "--set", "name=Deutsch ä", "--set", "flag-forced=1")
	return map[string]string{"rich": r.MKV, "swapped": r.Swapped, "mkvmerge": merged, "mkvpropedit": edited}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHeadMatchesMKVMerge: the header read in-process reports what
// `mkvmerge -J` reports, track by track and attachment by attachment.
func TestHeadMatchesMKVMerge(t *testing.T) {
	t.Parallel()
	for name, path := range headFiles(t) {
		t.Run(name, func(t *testing.T) {
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			h, err := readHead(path, st.Size())
			if err != nil {
				t.Fatal(err)
			}
			got, err := h.info()
			if err != nil {
				t.Fatal(err)
			}
			want, err := parseMKVInfo(tool(t, "mkvmerge", "-J", path))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Tracks) != len(want.Tracks) || len(got.Attachments) != len(want.Attachments) {
				t.Fatalf("%d tracks, %d attachments; mkvmerge: %d, %d", len(got.Tracks), len(got.Attachments), len(want.Tracks), len(want.Attachments))
			}
			for i, g := range got.Tracks {
				w := want.Tracks[i]
				gp, wp := g.Properties, w.Properties
				// mkvmerge reports the legacy language in ISO 639-2/B
				// ("fre" for the "fra" ffmpeg wrote): the same language.
				lang := policy.SameLanguage(gp.Language, wp.Language)
				gp.Language, wp.Language = "", ""
				if g.ID != w.ID || g.Type != w.Type || gp != wp || !lang {
					t.Errorf("track %d: in-process %+v %q, mkvmerge %+v %q", i, g, g.Properties.Language, w, w.Properties.Language)
				}
			}
			for i, g := range got.Attachments {
				if w := want.Attachments[i]; g != w {
					t.Errorf("attachment %d: in-process %+v, mkvmerge %+v", i, g, w)
				}
			}
			if name == "mkvmerge" {
				// What the test asked mkvmerge to write is there.
				a := h.tracks[1]
				if a.name != "日本語 ✓ «stéréo»" || a.languageBCP47 != "ja" || a.language != "jpn" {
					t.Errorf("track 1: %+v", a)
				}
				if !h.tracks[5].flagForced || h.tracks[6].name != "" {
					t.Errorf("tracks 5, 6: %+v, %+v", h.tracks[5], h.tracks[6])
				}
			}
		})
	}
}

// TestHeadRefusesWhatItDoesNotRead: a file whose Tracks element is past the
// clusters (mkvpropedit moved it there), or whose Segment has an unknown
// size, is not read in-process: an error wrapping errHead or errNoCluster.
func TestHeadRefusesWhatItDoesNotRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := testmedia.MakeRich(t, dir)
	long := bytes.Repeat([]byte("x"), 800)
	tool(t, "mkvpropedit", r.MKV, "--edit", "track:a1", "--set", "name="+string(long))
	st, _ := os.Stat(r.MKV)
	h, err := readHead(r.MKV, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.info(); !errors.Is(err, errHead) {
		t.Errorf("Tracks moved past the clusters: err = %v, want errHead", err)
	}

	data, _ := os.ReadFile(testmedia.MakeRich(t, t.TempDir()).MKV)
	h, err = parseHead(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	unknown := bytes.Clone(data)
	// The Segment's 8-byte size field, set to "unknown" (all ones).
	copy(unknown[h.segStart+4:h.segData], []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	if _, err := parseHead(bytes.NewReader(unknown), int64(len(unknown))); !errors.Is(err, errHead) {
		t.Errorf("unknown-size Segment: err = %v, want errHead", err)
	}
	if _, err := parseHead(bytes.NewReader(append(bytes.Clone(data), 0, 0, 0)), int64(len(data)+3)); !errors.Is(err, errHead) {
		t.Errorf("bytes past the Segment: err = %v, want errHead", err)
	}
}

// TestHeadTruncatedAndGarbage: a header cut anywhere, or with random bytes
// changed, gives an error or a parse, never a panic; a truncated file is
// always an error.
func TestHeadTruncatedAndGarbage(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(testmedia.MakeRich(t, t.TempDir()).MKV)
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseHead(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < int(h.clusterAt)+200; n++ {
		if _, err := parseHead(bytes.NewReader(data[:n]), int64(n)); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		b := bytes.Clone(data)
		for k := 1 + rng.Intn(4); k > 0; k-- {
			b[rng.Intn(int(h.clusterAt))] = byte(rng.Intn(256))
		}
		if h, err := parseHead(bytes.NewReader(b), int64(len(b))); err == nil {
			_, _ = h.info()
		}
	}
}

// FuzzParseHead: no input makes the reader panic, as a whole file or as a
// run of Segment children (Tracks, Attachments, SeekHead, compared by
// value). `go test` runs the seeds (a real header, its Segment children,
// cut and spoiled ones); `go test -fuzz FuzzParseHead` searches further.
func FuzzParseHead(f *testing.F) {
	data, err := os.ReadFile(testmedia.MakeRich(f, f.TempDir()).MKV)
	if err != nil {
		f.Fatal(err)
	}
	h, err := parseHead(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		f.Fatal(err)
	}
	// The Segment's children alone, which the second half of the target
	// parses as such (a whole file rarely gets past the Segment checks).
	f.Add(data[h.segData:h.clusterAt])
	f.Add(data[:4096])
	f.Add(data[:100])
	f.Add([]byte{0x1A, 0x45, 0xDF, 0xA3, 0x80, 0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		if h, err := parseHead(r, int64(len(b))); err == nil {
			_, _ = h.info()
		}
		if els, err := walk(r, 0, int64(len(b))); err == nil {
			h := &mkvHead{}
			if h.parseChildren(r, els) == nil {
				_, _ = h.info()
			}
			for i := range els {
				for j := range els {
					_ = sameElement(b[els[i].off:els[i].end()], b[els[j].off:els[j].end()])
				}
			}
		}
	})
}

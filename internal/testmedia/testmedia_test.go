package testmedia_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vpo-project/vpo/internal/testmedia"
)

type ffprobeOut struct {
	Streams []struct {
		CodecType   string            `json:"codec_type"`
		CodecName   string            `json:"codec_name"`
		Tags        map[string]string `json:"tags"`
		Disposition map[string]int    `json:"disposition"`
	} `json:"streams"`
	Format struct {
		FormatName string            `json:"format_name"`
		Tags       map[string]string `json:"tags"`
	} `json:"format"`
}

func ffprobe(t *testing.T, path string) (ffprobeOut, error) {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", "file:"+path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var res ffprobeOut
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("decode ffprobe output for %s: %v", path, err)
	}
	return res, nil
}

func TestMake(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := testmedia.Make(t, dir)

	for _, p := range []string{f.MKV, f.MP4, f.Truncated, f.Empty, f.NotVideo} {
		if filepath.Dir(p) != dir {
			t.Errorf("%s not in %s", p, dir)
		}
	}

	mkv, err := ffprobe(t, f.MKV)
	if err != nil {
		t.Fatalf("ffprobe mkv: %v", err)
	}
	var types []string
	for _, s := range mkv.Streams {
		types = append(types, s.CodecType)
	}
	if want := []string{"video", "audio", "audio", "subtitle"}; !slices.Equal(types, want) {
		t.Errorf("mkv stream types = %v, want %v", types, want)
	}
	if mkv.Format.FormatName != "matroska,webm" {
		t.Errorf("mkv format = %q", mkv.Format.FormatName)
	}
	if len(mkv.Streams) == 4 {
		if got := mkv.Streams[2].Tags["language"]; got != "fra" {
			t.Errorf("mkv audio 2 language = %q, want fra", got)
		}
		if got := mkv.Streams[3].Disposition["forced"]; got != 1 {
			t.Errorf("mkv subtitle forced = %d, want 1", got)
		}
	}

	mp4, err := ffprobe(t, f.MP4)
	if err != nil {
		t.Fatalf("ffprobe mp4: %v", err)
	}
	types = types[:0]
	for _, s := range mp4.Streams {
		types = append(types, s.CodecType)
	}
	if want := []string{"video", "audio"}; !slices.Equal(types, want) {
		t.Errorf("mp4 stream types = %v, want %v", types, want)
	}

	for name, p := range map[string]string{"truncated": f.Truncated, "empty": f.Empty, "notvideo": f.NotVideo} {
		if _, err := ffprobe(t, p); err == nil {
			t.Errorf("ffprobe %s (%s) succeeded, want failure", name, p)
		}
	}

	if st, err := os.Stat(f.Empty); err != nil || st.Size() != 0 {
		t.Errorf("empty file: stat=%v err=%v", st, err)
	}
	trunc, err := os.ReadFile(f.Truncated)
	if err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(f.MKV)
	if err != nil {
		t.Fatal(err)
	}
	if len(trunc) == 0 || len(trunc) >= len(full) || !bytes.HasPrefix(full, trunc) {
		t.Errorf("truncated (%d bytes) is not a proper prefix of mkv (%d bytes)", len(trunc), len(full))
	}

	// A second call reuses the cache and yields identical files.
	f2 := testmedia.Make(t, "")
	full2, err := os.ReadFile(f2.MKV)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(full, full2) {
		t.Error("second Make produced a different mkv")
	}
}

func TestMakeMany(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := testmedia.MakeMany(t, dir, 4)
	b := testmedia.MakeMany(t, dir, 3)
	if len(a) != 4 || len(b) != 3 {
		t.Fatalf("got %d and %d paths, want 4 and 3", len(a), len(b))
	}
	if got := testmedia.MakeMany(t, dir, 0); len(got) != 0 {
		t.Errorf("MakeMany(0) = %v", got)
	}
	all := append(slices.Clone(a), b...)
	if !slices.IsSorted(a) || !slices.IsSorted(b) {
		t.Errorf("paths not sorted: %v %v", a, b)
	}
	sums := map[[32]byte]string{}
	titles := map[string]string{}
	for _, p := range all {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if prev, ok := sums[sum]; ok {
			t.Errorf("%s has the same content as %s", p, prev)
		}
		sums[sum] = p
		res, err := ffprobe(t, p)
		if err != nil {
			t.Fatalf("ffprobe %s: %v", p, err)
		}
		if len(res.Streams) != 2 {
			t.Errorf("%s: %d streams, want 2", p, len(res.Streams))
		}
		title := res.Format.Tags["title"]
		if prev, ok := titles[title]; ok {
			t.Errorf("%s has the same title %q as %s", p, title, prev)
		}
		titles[title] = p
	}
}

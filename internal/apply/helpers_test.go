package apply_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/apply"
	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/probe"
	"github.com/vpo-project/vpo/internal/scan"
)

// newExecutor returns an executor on the system's tools.
func newExecutor() *apply.Executor {
	return &apply.Executor{Timeout: 2 * time.Minute}
}

// planFor probes path, evaluates the policy source against it, and returns
// the request apply gets, with the file's state at planning time.
func planFor(t *testing.T, path, src string) (*policy.Policy, apply.Request) {
	t.Helper()
	p, err := policy.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p, requestFor(t, p, path)
}

func requestFor(t *testing.T, p *policy.Policy, path string) apply.Request {
	t.Helper()
	return requestForB(t, p, path)
}

func requestForB(t testing.TB, p *policy.Policy, path string) apply.Request {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := probe.Runner{}.Probe(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := scan.Fingerprint(path, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	plan := policy.Evaluate(p, policy.FileInfoFromProbe(path, st.Size(), *res))
	return apply.Request{Plan: &plan, Size: st.Size(), ModTime: st.ModTime(), Fingerprint: fp, Source: res}
}

func planText(p *policy.Plan) string {
	var b strings.Builder
	_ = p.WriteText(&b)
	return b.String()
}

func hashFile(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fileState is what "untouched" compares: content hash, mtime, mode.
type fileState struct {
	hash  string
	mtime time.Time
	mode  os.FileMode
}

func stateOf(t *testing.T, path string) fileState {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileState{hash: hashFile(t, path), mtime: st.ModTime(), mode: st.Mode()}
}

func assertUntouched(t *testing.T, path string, before fileState) {
	t.Helper()
	if after := stateOf(t, path); after != before {
		t.Errorf("%s changed: before %+v, after %+v", path, before, after)
	}
}

// assertNoTemp fails if dir holds an apply temp file.
func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if apply.IsTemp(e.Name()) {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

// streamStat is one stream as ffprobe -count_packets sees it.
type streamStat struct {
	Index       int               `json:"index"`
	CodecType   string            `json:"codec_type"`
	CodecName   string            `json:"codec_name"`
	Packets     string            `json:"nb_read_packets"`
	Duration    string            `json:"duration"`
	Disposition map[string]int    `json:"disposition"`
	Tags        map[string]string `json:"tags"`
}

func streamStats(t *testing.T, path string) []streamStat {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-count_packets", "-show_streams", "-print_format", "json", "file:"+path).Output()
	if err != nil {
		t.Fatalf("ffprobe -count_packets %s: %v", path, err)
	}
	var v struct {
		Streams []streamStat `json:"streams"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	return v.Streams
}

// duration is the stream's duration in seconds (the stream field, else
// Matroska's DURATION tag), -1 when unknown.
func (s streamStat) duration() float64 {
	if d, err := strconv.ParseFloat(s.Duration, 64); err == nil {
		return d
	}
	for k, v := range s.Tags {
		var h, m int
		var sec float64
		if strings.EqualFold(k, "duration") {
			if _, err := fmt.Sscanf(v, "%d:%d:%f", &h, &m, &sec); err == nil {
				return float64(h*3600+m*60) + sec
			}
		}
	}
	return -1
}

// mkvJ is the part of mkvmerge -J the tests compare.
type mkvJ struct {
	Tracks []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Properties struct {
			Number   int    `json:"number"`
			Language string `json:"language"`
			Name     string `json:"track_name"`
			Default  bool   `json:"default_track"`
			Forced   bool   `json:"forced_track"`
		} `json:"properties"`
	} `json:"tracks"`
	Attachments []struct {
		FileName string `json:"file_name"`
	} `json:"attachments"`
}

func mkvmergeJ(t *testing.T, path string) mkvJ {
	t.Helper()
	cmd := exec.Command("mkvmerge", "-J", path)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mkvmerge -J %s: %v\n%s", path, err, out)
	}
	var v mkvJ
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// summarize renders tracks as "type:codec:lang:title:D/F" lines, without IDs.
func summarize(tracks []policy.Track, titles bool) string {
	var b strings.Builder
	for _, t := range tracks {
		title := t.Title
		if !titles {
			title = "-"
		}
		fmt.Fprintf(&b, "%s:%s:%s:%s:%t/%t\n", t.Type, t.Codec, policy.NormalizeLanguage(t.Language), title, t.Default, t.Forced)
	}
	return b.String()
}

func copyTo(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

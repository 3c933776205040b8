package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

var (
	marker       = []byte("vpo-loadsoak-00000000")
	markerPrefix = []byte("vpo-loadsoak-")
)

// media is a small real .mkv (1 s, 160x120, h264 or mpeg4 + aac) encoded once
// with ffmpeg; copies get distinct contents by rewriting the digits of a title
// marker in place.
type media struct {
	template string
	buf      []byte
	offset   int // of the marker's digits
	counter  int
}

func newMedia(ctx context.Context, workdir string) (*media, error) {
	dir := filepath.Join(workdir, "media-template")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create media dir: %w", err)
	}
	m := &media{template: filepath.Join(dir, "template.mkv")}
	var lastErr string
	ok := false
	for _, vcodec := range [][]string{{"-c:v", "libx264", "-preset", "ultrafast"}, {"-c:v", "mpeg4"}} {
		args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y",
			"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1",
			"-f", "lavfi", "-i", "sine=frequency=440:duration=1"}
		args = append(args, vcodec...)
		args = append(args, "-c:a", "aac", "-metadata", "title="+string(marker), m.template)
		cctx, cancel := context.WithTimeout(ctx, 120*time.Second)
		out, err := exec.CommandContext(cctx, "ffmpeg", args...).CombinedOutput()
		cancel()
		if err == nil {
			ok = true
			break
		}
		lastErr = string(out)
	}
	if !ok {
		return nil, fail("ffmpeg could not encode the test video:\n%s", lastErr)
	}
	b, err := os.ReadFile(m.template)
	if err != nil {
		return nil, fmt.Errorf("read test video: %w", err)
	}
	if n := bytes.Count(b, marker); n != 1 {
		return nil, fail("the title marker occurs %d times in the encoded video (want 1)", n)
	}
	m.buf = b
	m.offset = bytes.Index(b, marker) + len(markerPrefix)
	return m, nil
}

func (m *media) size() int { return len(m.buf) }

// write writes one distinct valid copy to path (through a temporary name).
func (m *media) write(path string) error {
	m.counter++
	digits := len(marker) - len(markerPrefix)
	copy(m.buf[m.offset:m.offset+digits], fmt.Sprintf("%0*d", digits, m.counter))
	tmp := path + ".tmp-loadsoak"
	if err := os.WriteFile(tmp, m.buf, 0o644); err != nil {
		return fmt.Errorf("write test video: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write test video: %w", err)
	}
	return nil
}

// tree writes n copies as root/dNNN/vNNNNN.mkv, 100 to a directory, and returns
// their paths.
func (m *media) tree(root string, n int) ([]string, error) {
	const perDir = 100
	paths := make([]string, 0, n)
	for i := range n {
		d := filepath.Join(root, fmt.Sprintf("d%03d", i/perDir))
		if i%perDir == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, fmt.Errorf("create tree: %w", err)
			}
		}
		p := filepath.Join(d, fmt.Sprintf("v%05d.mkv", i))
		if err := m.write(p); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// ffprobe runs the real ffprobe on the template as vpo runs it.
func (m *media) ffprobe(ctx context.Context) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, "ffprobe", "-v", "error", "-print_format", "json",
		"-show_format", "-show_streams", "--", m.template).Output()
	if err != nil {
		return nil, fmt.Errorf("ffprobe the test video: %w", err)
	}
	return out, nil
}

// probeSeconds is the median wall time of 7 real ffprobe runs on the template.
func (m *media) probeSeconds(ctx context.Context) (float64, error) {
	var times []float64
	for range 7 {
		t0 := time.Now()
		if _, err := m.ffprobe(ctx); err != nil {
			return 0, err
		}
		times = append(times, time.Since(t0).Seconds())
	}
	return median(times), nil
}

// fakeFFprobe writes a fake ffprobe to path: a /bin/sh script that prints what the
// real one says about the template, whatever it is asked. It only fills a
// catalogue quickly before a measurement starts.
func (m *media) fakeFFprobe(ctx context.Context, path string) (string, error) {
	out, err := m.ffprobe(ctx)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path+".json", out, 0o644); err != nil {
		return "", fmt.Errorf("write fake ffprobe: %w", err)
	}
	script := fmt.Sprintf("#!/bin/sh\n# fake ffprobe of scripts/harness\nexec cat '%s.json'\n", path)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("write fake ffprobe: %w", err)
	}
	return path, nil
}

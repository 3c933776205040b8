package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/vpo-project/vpo/internal/config"
)

// DefaultToolTimeout bounds a tool's version run.
const DefaultToolTimeout = 10 * time.Second

// Tool is an external program vpo runs.
type Tool struct {
	// Name is the program's own name: "ffprobe".
	Name string
	// Setting is its key in the configuration ("tools.ffprobe") and Env its
	// environment variable ("VPO_FFPROBE_PATH").
	Setting, Env string
	// Path is the configured value: a path, or a name looked up in PATH; "" means
	// Name.
	Path string
	// Source is where Path came from.
	Source config.Source
	// VersionArgs make the program print its version on the first line.
	VersionArgs []string
	// Package is the Debian package that has it.
	Package string
}

// Tools lists the external programs of cfg: ffprobe, ffmpeg, mkvmerge, mkvpropedit.
func Tools(cfg *config.Config) []Tool {
	tools := []Tool{
		{Name: "ffprobe", Setting: "tools.ffprobe", Path: cfg.Tools.FFprobe, VersionArgs: []string{"-version"}, Package: "ffmpeg"},
		{Name: "ffmpeg", Setting: "tools.ffmpeg", Path: cfg.Tools.FFmpeg, VersionArgs: []string{"-version"}, Package: "ffmpeg"},
		{Name: "mkvmerge", Setting: "tools.mkvmerge", Path: cfg.Tools.MKVMerge, VersionArgs: []string{"--version"}, Package: "mkvtoolnix"},
		{Name: "mkvpropedit", Setting: "tools.mkvpropedit", Path: cfg.Tools.MKVPropEdit, VersionArgs: []string{"--version"}, Package: "mkvtoolnix"},
	}
	env := map[string]string{}
	for _, s := range config.Specs() {
		env[s.Key] = s.Env
	}
	for i := range tools {
		tools[i].Env = env[tools[i].Setting]
		tools[i].Source = cfg.Sources[tools[i].Setting]
		if tools[i].Source == "" {
			tools[i].Source = config.SourceDefault
		}
	}
	return tools
}

// how says how to point vpo at the tool.
func (t Tool) how() string {
	s := "set " + t.Setting
	if t.Env != "" {
		s += " or " + t.Env
	}
	return s
}

// CheckTool resolves the tool as vpo would run it and runs it for its version, with
// LC_ALL=C.UTF-8 (as vpo runs the tools) and a timeout. A missing or broken tool is
// a failure that names the setting to fix.
func CheckTool(ctx context.Context, t Tool, timeout time.Duration) Result {
	if timeout <= 0 {
		timeout = DefaultToolTimeout
	}
	prog := t.Path
	if prog == "" {
		prog = t.Name
	}
	path, err := exec.LookPath(prog)
	if err != nil {
		if !strings.Contains(prog, "/") {
			return fail(t.Name, "%q not found in PATH: install %s or %s to its path", prog, t.Package, t.how())
		}
		return fail(t.Name, "%s (%s, from %s): %s; %s to an executable", prog, t.Setting, t.Source, lookError(prog, err), t.how())
	}
	version, err := runVersion(ctx, path, t.VersionArgs, timeout)
	if err != nil {
		return fail(t.Name, "%s: %v", path, err)
	}
	return ok(t.Name, "%s: %s", path, version)
}

// lookError words why prog, a path, is not a program.
func lookError(prog string, err error) string {
	st, serr := os.Stat(prog)
	switch {
	case errors.Is(serr, fs.ErrNotExist):
		return "does not exist"
	case serr == nil && st.IsDir():
		return "is a directory"
	case serr == nil && st.Mode()&0o111 == 0:
		return "is not executable"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// runVersion runs path with args in its own process group and returns the first
// line of its output. The group is killed on timeout.
func runVersion(ctx context.Context, path string, args []string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &limitedBuffer{buf: &stdout, max: 64 << 10}
	cmd.Stderr = &limitedBuffer{buf: &stderr, max: 4 << 10}
	err := cmd.Run()
	line := strings.Join(strings.Fields(firstLine(stdout.String())), " ")
	// "ffprobe version 5.1.6-0+deb12u1 Copyright (c) 2007-2024 the FFmpeg developers"
	if i := strings.Index(line, " Copyright"); i > 0 {
		line = line[:i]
	}
	argv := strings.Join(append([]string{path}, args...), " ")
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "", fmt.Errorf("%q did not finish within %s", argv, timeout)
	case ctx.Err() != nil:
		return "", ctx.Err()
	case err != nil:
		msg := firstLine(stderr.String())
		if msg == "" {
			msg = line
		}
		if msg != "" {
			return "", fmt.Errorf("%q failed: %w: %s", argv, err, msg)
		}
		return "", fmt.Errorf("%q failed: %w", argv, err)
	case line == "":
		return "", fmt.Errorf("%q printed no version", argv)
	}
	return line, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// limitedBuffer keeps the first max bytes written to it and discards the rest, so
// that a tool that floods its output cannot fill memory.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

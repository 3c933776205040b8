package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	// Not parallel: t.Setenv.
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000") // 2023-11-14
	dir := filepath.Join(t.TempDir(), "man")    // created by run
	if err := run(dir, "v1.2.3"); err != nil {
		t.Fatalf("run: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "vpo-serve.1"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, w := range []string{
		`.TH "VPO-SERVE" "1" "Nov 2023" "vpo v1.2.3" "vpo manual"`,
		`\fB-p\fP, \fB--port\fP=8321`,
	} {
		if !strings.Contains(page, w) {
			t.Errorf("vpo-serve.1 does not contain %q:\n%s", w, page)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 10 {
		t.Errorf("%d pages, want one per command (at least 10)", len(entries))
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "Auto generated") {
			t.Errorf("%s has cobra's auto-generated tag", e.Name())
		}
	}
}

func TestRunUnwritableDir(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(filepath.Join(file, "man"), "")
	if err == nil || !strings.Contains(err.Error(), "create "+filepath.Join(file, "man")+": ") {
		t.Fatalf("run under a file: err = %v, want one naming the directory", err)
	}
}

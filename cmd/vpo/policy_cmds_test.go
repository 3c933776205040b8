package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/vpo-project/vpo/internal/testmedia"
)

// mkpolicymedia DIR: writes DIR/tracks.mkv, the file of testmedia.PolicyTracks
// (several audio languages, commentary by title, forced and SDH subtitles, und
// tracks, an attachment).
func cmdMkPolicyMedia(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: mkpolicymedia DIR")
	}
	_, err := testmedia.WritePolicyMKV(ts.MkAbs(args[0]), testmedia.PolicyFileName)
	ts.Check(err)
}

// mediastate DIR: prints "sha256 mtime_ns size path" for every regular file
// under DIR, sorted by path, so that a script can prove that nothing changed.
func cmdMediaState(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: mediastate DIR")
	}
	root := ts.MkAbs(args[0])
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		lines = append(lines, fmt.Sprintf("%s %d %d %s", hex.EncodeToString(h.Sum(nil)), st.ModTime().UnixNano(), st.Size(), rel))
		return nil
	})
	ts.Check(err)
	sort.Strings(lines)
	fmt.Fprintln(ts.Stdout(), strings.Join(lines, "\n"))
}

// httpyaml URL FILE: POSTs FILE as Content-Type application/yaml and prints
// "HTTP <status>" and the body.
func cmdHTTPYAML(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: httpyaml URL FILE")
	}
	req, err := http.NewRequest("POST", args[0], strings.NewReader(ts.ReadFile(args[1])))
	ts.Check(err)
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "HTTP %d\n%s", resp.StatusCode, b)
}

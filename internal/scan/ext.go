// Package scan discovers video files in a library directory and computes cheap
// content fingerprints for them.
//
// Walk lists a library tree quickly: it reads each directory once, decides from
// the directory entry's type bits (which cost nothing) whether an entry can be a
// video, and stats only the files whose extension matches. Symlinks are followed
// only while they stay inside the library root, and directory loops are cut by
// device and inode. Fingerprint hashes the first and last MiB of a file together
// with its size, which identifies a media file without reading all of it.
package scan

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// DefaultExtensions are the file extensions, without the dot and in lower case,
// that vpo treats as video files unless configured otherwise.
var DefaultExtensions = []string{"mkv", "mp4", "m4v", "avi", "mov", "webm", "ts", "m2ts", "mts", "wmv", "flv", "mpg", "mpeg"}

// ErrInvalidExtension is wrapped by the errors NewExtSet returns for an entry that
// cannot be a file extension.
var ErrInvalidExtension = errors.New("invalid file extension")

// ExtSet is a set of file extensions matched case-insensitively. Build one with
// NewExtSet; the zero ExtSet matches nothing. An ExtSet is safe for concurrent use.
type ExtSet struct {
	exts   map[string]struct{}
	maxLen int // longest extension in bytes, to reject long ones without lowering them
}

// NewExtSet returns the set of the given extensions. Entries are lower-cased, and a
// single leading dot is tolerated and stripped (".MKV" is "mkv"). An entry that is
// empty, contains a dot after that, a path separator (/ or \), a NUL byte or
// invalid UTF-8 is rejected with an error wrapping ErrInvalidExtension, as is an
// empty list.
func NewExtSet(exts []string) (ExtSet, error) {
	if len(exts) == 0 {
		return ExtSet{}, fmt.Errorf("no extensions given: %w", ErrInvalidExtension)
	}
	s := ExtSet{exts: make(map[string]struct{}, len(exts))}
	for _, raw := range exts {
		ext := strings.TrimPrefix(raw, ".")
		var problem string
		switch {
		case ext == "":
			problem = "is empty"
		case strings.Contains(ext, "."):
			problem = "contains a dot"
		case strings.ContainsAny(ext, `/\`):
			problem = "contains a path separator"
		case strings.ContainsRune(ext, 0):
			problem = "contains a NUL byte"
		case !utf8.ValidString(ext):
			problem = "is not valid UTF-8"
		}
		if problem != "" {
			return ExtSet{}, fmt.Errorf("extension %q %s: %w", raw, problem, ErrInvalidExtension)
		}
		ext = strings.ToLower(ext)
		s.exts[ext] = struct{}{}
		s.maxLen = max(s.maxLen, len(ext))
	}
	return s, nil
}

// Match reports whether name's extension is in the set, ignoring case. Only the
// final path element of name is considered, and its extension is the text after
// its last dot, so "a.MKV" matches "mkv" but "a.mkv.part", "a", "a." and the
// dotfile ".mkv" do not.
func (s ExtSet) Match(name string) bool {
	if len(s.exts) == 0 {
		return false
	}
	dot := -1
	for i := len(name) - 1; i >= 0; i-- {
		c := name[i]
		if c == '.' {
			dot = i
			break
		}
		if c == '/' || c == '\\' {
			return false
		}
	}
	// The stem must be non-empty: a dotfile such as ".mkv" has no extension.
	if dot <= 0 || name[dot-1] == '/' || name[dot-1] == '\\' {
		return false
	}
	ext := name[dot+1:]
	if len(ext) == 0 || len(ext) > s.maxLen*utf8.UTFMax {
		return false
	}
	// Fast path: fold ASCII on the stack; map lookups keyed by string(bytes) do
	// not allocate.
	var buf [32]byte
	if len(ext) <= len(buf) {
		ascii := true
		for i := 0; i < len(ext); i++ {
			c := ext[i]
			if c >= utf8.RuneSelf {
				ascii = false
				break
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
		}
		if ascii {
			_, ok := s.exts[string(buf[:len(ext)])]
			return ok
		}
	}
	_, ok := s.exts[strings.ToLower(ext)]
	return ok
}

//go:build !unix

package scan

import (
	"fmt"
	"os"
	"path/filepath"
)

// dirKey identifies a directory for loop detection. Without inodes, the fully
// resolved path stands in for them.
type dirKey struct {
	path string
}

// keyOf returns the resolved path of a directory.
func keyOf(path string, _ os.FileInfo) (dirKey, error) {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return dirKey{}, fmt.Errorf("resolve directory: %w", err)
	}
	return dirKey{path: resolved}, nil
}

const (
	openDirFlags  = 0
	openFileFlags = 0
)

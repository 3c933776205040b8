//go:build unix

package scan

import (
	"fmt"
	"os"
	"syscall"
)

// dirKey identifies a directory for loop detection.
type dirKey struct {
	dev, ino uint64
}

// keyOf returns the device and inode of an open directory.
func keyOf(_ string, fi os.FileInfo) (dirKey, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return dirKey{}, fmt.Errorf("unexpected stat type %T", fi.Sys())
	}
	// The conversions are needed where Dev and Ino are not uint64 (e.g. darwin).
	return dirKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

// openDirFlags makes opening anything but a directory fail with ENOTDIR instead
// of, say, blocking on a FIFO that replaced a directory since it was listed.
const openDirFlags = syscall.O_DIRECTORY

// openFileFlags keeps Fingerprint from blocking when a FIFO sits where a file
// was; reads from regular files ignore O_NONBLOCK.
const openFileFlags = syscall.O_NONBLOCK

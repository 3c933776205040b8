package scan

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"sync"

	"github.com/zeebo/xxh3"
)

// FingerprintPrefix starts every fingerprint; it names the algorithm so that a
// stored fingerprint from a different scheme never compares equal.
const FingerprintPrefix = "xxh3:"

// FingerprintLen is the length of every fingerprint: the prefix and 32
// lower-case hex digits of a 128-bit hash.
const FingerprintLen = len(FingerprintPrefix) + 32

// fingerprintChunk is how much is hashed at each end of a file.
const fingerprintChunk = 1 << 20

// chunkPool recycles the 1 MiB read buffers between calls.
var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, fingerprintChunk)
	return &b
}}

// Fingerprint returns a fast content fingerprint of the regular file at path,
// which must be size bytes long: the XXH3-128 hash of the file's first MiB, its
// last MiB and its size, formatted as FingerprintPrefix followed by 32
// lower-case hex digits. A file of at most 2 MiB is hashed whole.
//
// At most 2 MiB is read, with positioned reads, whatever the file's size. The
// fingerprint therefore changes when the size or anything in the first or last
// MiB changes, but not when only bytes in between do; it is meant to recognise
// a media file that was moved or renamed, not to prove two files identical.
//
// It is an error if path is not a regular file, if its size is not size (the
// file is still being written, say), or if it cannot be read.
func Fingerprint(path string, size int64) (string, error) {
	if size < 0 {
		return "", fmt.Errorf("fingerprint %q: negative size %d", path, size)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openFileFlags, 0)
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	defer f.Close() //nolint:errcheck // read-only; nothing to flush

	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("fingerprint %q: not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() != size {
		return "", fmt.Errorf("fingerprint %q: size is %d bytes, expected %d", path, fi.Size(), size)
	}

	bufp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bufp)
	buf := *bufp

	h := xxh3.New128()
	// Offsets of the chunks to hash: the whole file in 1 MiB steps when it is at
	// most 2 MiB, else its first and its last MiB.
	offsets := [2]int64{0, fingerprintChunk}
	if size > 2*fingerprintChunk {
		offsets[1] = size - fingerprintChunk
	}
	for _, off := range offsets {
		n := min(int64(fingerprintChunk), size-off)
		if n <= 0 {
			break
		}
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return "", fmt.Errorf("fingerprint: read %d bytes at offset %d: %w", n, off, err)
		}
		_, _ = h.Write(buf[:n]) // never fails
	}
	var sz [8]byte
	binary.LittleEndian.PutUint64(sz[:], uint64(size))
	_, _ = h.Write(sz[:])

	sum := h.Sum128().Bytes()
	out := make([]byte, FingerprintLen)
	copy(out, FingerprintPrefix)
	hex.Encode(out[len(FingerprintPrefix):], sum[:])
	return string(out), nil
}

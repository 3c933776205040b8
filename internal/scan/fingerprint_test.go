package scan

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

const mib = 1 << 20

var fingerprintRE = regexp.MustCompile(`^xxh3:[0-9a-f]{32}$`)

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// fingerprintOf writes content to a new file and fingerprints it.
func fingerprintOf(t *testing.T, content []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.mkv")
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	fp, err := Fingerprint(p, int64(len(content)))
	if err != nil {
		t.Fatalf("Fingerprint: %v", err)
	}
	if !fingerprintRE.MatchString(fp) || len(fp) != FingerprintLen {
		t.Fatalf("Fingerprint = %q, want %s", fp, fingerprintRE)
	}
	return fp
}

// with returns a copy of b with the byte at off flipped.
func with(b []byte, off int) []byte {
	c := bytes.Clone(b)
	c[off] ^= 0xff
	return c
}

func TestFingerprint(t *testing.T) {
	big := randomBytes(3*mib, 1)
	small := randomBytes(1500*1024, 2) // between 1 and 2 MiB: hashed whole
	tests := []struct {
		name     string
		a, b     []byte
		wantSame bool
	}{
		{name: "same content", a: big, b: bytes.Clone(big), wantSame: true},
		{name: "change in the first MiB", a: big, b: with(big, 10), wantSame: false},
		{name: "change in the last MiB", a: big, b: with(big, 3*mib-10), wantSame: false},
		{name: "last byte changed", a: big, b: with(big, 3*mib-1), wantSame: false},
		// Documented property: only the first and last MiB are read.
		{name: "change in the middle is not seen", a: big, b: with(big, 3*mib/2), wantSame: true},
		{name: "change just after the first MiB is not seen", a: big, b: with(big, mib), wantSame: true},
		{name: "different size", a: big, b: append(bytes.Clone(big[:mib]), big[mib+1:]...), wantSame: false},
		{name: "appended byte", a: big, b: append(bytes.Clone(big), 0), wantSame: false},
		{name: "small file, same content", a: small, b: bytes.Clone(small), wantSame: true},
		{name: "small file, change in the middle", a: small, b: with(small, len(small)/2), wantSame: false},
		{name: "exactly 2 MiB, change in the middle", a: big[:2*mib], b: with(big[:2*mib], mib), wantSame: false},
		{name: "tiny files differ", a: []byte("abc"), b: []byte("abd"), wantSame: false},
		{name: "empty and one NUL byte differ", a: []byte{}, b: []byte{0}, wantSame: false},
		{name: "zero-filled files of different sizes differ", a: make([]byte, 100), b: make([]byte, 101), wantSame: false},
		{name: "empty files", a: nil, b: []byte{}, wantSame: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fa, fb := fingerprintOf(t, tt.a), fingerprintOf(t, tt.b)
			if (fa == fb) != tt.wantSame {
				t.Errorf("fingerprints %s and %s: same = %v, want %v", fa, fb, fa == fb, tt.wantSame)
			}
		})
	}
}

func TestFingerprintErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.mkv")
	if err := os.WriteFile(file, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		size int64
	}{
		{name: "missing file", path: filepath.Join(dir, "missing.mkv"), size: 5},
		{name: "directory", path: dir, size: 0},
		{name: "size smaller than the file", path: file, size: 4},
		{name: "size larger than the file", path: file, size: 3 * mib},
		{name: "negative size", path: file, size: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp, err := Fingerprint(tt.path, tt.size)
			if err == nil {
				t.Fatalf("Fingerprint(%q, %d) = %q, want an error", tt.path, tt.size, fp)
			}
		})
	}
}

func BenchmarkFingerprint(b *testing.B) {
	p := filepath.Join(b.TempDir(), "big.mkv")
	content := randomBytes(64*mib, 3)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(2 * mib)
	for b.Loop() {
		if _, err := Fingerprint(p, int64(len(content))); err != nil {
			b.Fatal(err)
		}
	}
}

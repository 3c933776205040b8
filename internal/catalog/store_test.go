package catalog_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/catalog/storetest"
	"github.com/vpo-project/vpo/internal/logging"
)

func openAt(t *testing.T, path string) *catalog.Store {
	t.Helper()
	s, err := catalog.Open(context.Background(), path, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// TestSQLite runs the store conformance suite on SQLite files in t.TempDir().
func TestSQLite(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) *catalog.Store {
			return openAt(t, filepath.Join(t.TempDir(), "library.db"))
		},
		HoldWriteLock: func(t *testing.T, s *catalog.Store) {
			// A second pool on the same file, as another process would be.
			db, err := sql.Open("sqlite", catalog.DSN(s.Path()))
			if err != nil {
				t.Fatal(err)
			}
			tx, err := db.BeginTx(context.Background(), nil) // _txlock=immediate: takes the lock
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tx.Rollback(); _ = db.Close() })
		},
		OpenReadOnly: func(t *testing.T) error {
			dir := t.TempDir()
			path := filepath.Join(dir, "library.db")
			s, err := catalog.Open(context.Background(), path, logging.Discard())
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			readOnlyDir(t, dir)
			s, err = catalog.Open(context.Background(), path, logging.Discard())
			if err == nil {
				s.Close(context.Background())
			}
			return err
		},
		OpenCorrupt: func(t *testing.T) error {
			path := filepath.Join(t.TempDir(), "library.db")
			junk := make([]byte, 8192)
			copy(junk, "this is not a SQLite database")
			if err := os.WriteFile(path, junk, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := catalog.Open(context.Background(), path, logging.Discard())
			if err == nil {
				s.Close(context.Background())
			}
			return err
		},
	})
}

// readOnlyDir makes dir and what is in it unwritable: a read-only bind mount as
// root (who ignores permissions), else permissions.
func readOnlyDir(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if err := os.Chmod(filepath.Join(dir, e.Name()), 0o444); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
		return
	}
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount %s read-only: %v", dir, err)
	}
}

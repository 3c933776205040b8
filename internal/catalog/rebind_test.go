package catalog

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestRebind(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":              "SELECT 1",
		"a = ? AND b IN (?, ?)": "a = $1 AND b IN ($2, $3)",
		`x LIKE ? ESCAPE '\' AND y = '?' AND "?" = ?`: `x LIKE $1 ESCAPE '\' AND y = '?' AND "?" = $2`,
		"a = ? -- is it?\nAND b = ?":                  "a = $1 -- is it?\nAND b = $2",
		"SELECT $1, $2":                               "SELECT $1, $2",
		"x = 'unterminated ?":                         "x = 'unterminated ?",
	} {
		if got := rebind(in); got != want {
			t.Errorf("rebind(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClassifyPostgres(t *testing.T) {
	for code, want := range map[string]error{
		"55P03": ErrBusy, "40001": ErrBusy, "40P01": ErrBusy, "53100": ErrFull, "25006": ErrReadOnly,
		"XX001": ErrCorrupt, "08006": ErrUnavailable, "57P01": ErrUnavailable, "53300": ErrUnavailable,
		"28P01": ErrUnavailable, "23505": nil,
	} {
		err := Classify(fmt.Errorf("exec: %w", &pgconn.PgError{Code: code, Message: "m"}))
		for _, s := range []error{ErrBusy, ErrFull, ErrReadOnly, ErrCorrupt, ErrUnavailable} {
			if errors.Is(err, s) != errors.Is(s, want) {
				t.Errorf("SQLSTATE %s: errors.Is(%v) = %v", code, s, errors.Is(err, s))
			}
		}
	}
	if err := Classify(&pgconn.ConnectError{}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("connect error: %v, want ErrUnavailable", err)
	}
	if err := Classify(&net.OpError{Op: "read", Err: syscall.ECONNRESET}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("connection reset: %v, want ErrUnavailable", err)
	}
}

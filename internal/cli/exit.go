package cli

import (
	"errors"
	"fmt"
)

// Exit codes. 78 is EX_CONFIG from sysexits.h: vpo.service sets
// RestartPreventExitStatus=78 so that systemd does not restart-loop a daemon whose
// configuration is wrong.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
	ExitConfig  = 78
)

// ExitError carries the process exit code for an error. Reported means the error was
// already logged and must not be printed again.
type ExitError struct {
	Code     int
	Err      error
	Reported bool
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// usageError marks err as bad command-line usage (exit 2).
func usageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// usagef formats a usage error.
func usagef(format string, args ...any) error { return usageError(fmt.Errorf(format, args...)) }

// ExitCode maps an error returned by the root command to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}

// Reported reports whether err was already logged.
func Reported(err error) bool {
	var ee *ExitError
	return errors.As(err, &ee) && ee.Reported
}

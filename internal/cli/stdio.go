package cli

import (
	"os"
	"syscall"
)

// EnsureStdio opens /dev/null on any of file descriptors 0, 1 and 2 that is closed.
// Otherwise the next file vpo opens (the database!) would get that number, and log
// records written to "stderr" would land in it.
func EnsureStdio() {
	for fd := 0; fd <= 2; fd++ {
		if _, err := fcntlGetfd(fd); err == nil {
			continue
		}
		f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			return
		}
		if int(f.Fd()) != fd {
			_ = syscall.Dup2(int(f.Fd()), fd)
			f.Close()
		}
	}
}

func fcntlGetfd(fd int) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

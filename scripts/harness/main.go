// Command harness drives `vpo serve` for scripts/load.sh, scripts/soak.sh and
// scripts/bench-serve.sh: it starts the daemon on loopback with a private HOME,
// makes test media with ffmpeg, runs wrk, samples /proc, and prints a report with
// a verdict. See docs/reliability.md, "Load and soak", and docs/benchmarks.md.
//
//	harness load  -bin BIN -shown SHOWN -work DIR -pidfile FILE -seconds N
//	harness soak  -bin BIN -shown SHOWN -work DIR -pidfile FILE -seconds N -csv FILE
//	harness bench-serve -bin BIN -shown SHOWN -work DIR -pidfile FILE
//
// BIN is a private copy of SHOWN (the binary named in the report). Every process
// it starts is recorded as a "PID ARGV0" line in the pidfile, so that the shell
// wrapper's EXIT trap (cleanup.bash) can stop what this program could not. It
// talks to loopback only. SIGINT and SIGTERM end a run early: its children are
// stopped and the exit status is 128 + the signal.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// failure ends a run with an exit status and a message.
type failure struct {
	code int
	msg  string
}

func (f *failure) Error() string { return f.msg }

// fail returns a failure with exit status 1.
func fail(format string, args ...any) error {
	return &failure{code: 1, msg: fmt.Sprintf(format, args...)}
}

// opts are the flags every subcommand takes.
type opts struct {
	bin, shown, work, pidfile, csv string
	seconds                        int
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: harness load|soak|bench-serve -bin BIN -shown SHOWN -work DIR -pidfile FILE [-seconds N] [-csv FILE]")
		os.Exit(2)
	}
	name := os.Args[1]
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	var o opts
	fs.StringVar(&o.bin, "bin", "", "the vpo binary to run (a private copy)")
	fs.StringVar(&o.shown, "shown", "", "the binary's name in the report")
	fs.StringVar(&o.work, "work", "", "the work directory (deleted by the wrapper)")
	fs.StringVar(&o.pidfile, "pidfile", "", `file of "PID ARGV0" lines of every process started`)
	fs.IntVar(&o.seconds, "seconds", 60, "the run's length (load, soak)")
	fs.StringVar(&o.csv, "csv", "", "where soak writes its samples")
	_ = fs.Parse(os.Args[2:])
	if o.shown == "" {
		o.shown = o.bin
	}

	var (
		run    func(ctx context.Context, h *harness, o opts) (int, error)
		budget time.Duration
	)
	switch name {
	case "load":
		run, budget = runLoad, time.Duration(o.seconds+300)*time.Second
	case "soak":
		run, budget = runSoak, time.Duration(o.seconds+300)*time.Second
	case "bench-serve":
		run, budget = runBenchServe, benchBudget
	default:
		fmt.Fprintf(os.Stderr, "harness: unknown subcommand %q (want load, soak or bench-serve)\n", name)
		os.Exit(2)
	}
	if o.bin == "" || o.work == "" || o.pidfile == "" {
		fmt.Fprintf(os.Stderr, "harness %s: -bin, -work and -pidfile are required\n", name)
		os.Exit(2)
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	var sig atomic.Int32
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := (<-sigs).(syscall.Signal)
		sig.Store(int32(s))
		cancel(fmt.Errorf("stopped by %s", s))
	}()
	ctx, cancelBudget := context.WithTimeoutCause(ctx, budget, fmt.Errorf("the run exceeded its time budget of %s", budget))
	h := &harness{pidfile: o.pidfile}
	rc, err := run(ctx, h, o)
	h.stopAll()
	cancelBudget()
	if err != nil {
		var f *failure
		if errors.As(err, &f) {
			rc = f.code
		} else {
			rc = 1
		}
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		if name == "bench-serve" { // it reports, it has no verdict
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		} else {
			fmt.Fprintf(os.Stderr, "%s: FAIL: %v\n", name, err)
			fmt.Println("VERDICT: FAIL")
		}
	}
	if s := sig.Load(); s != 0 {
		rc = 128 + int(s)
	}
	os.Exit(rc)
}

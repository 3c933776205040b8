package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
)

// recordingObserver records what the engine tells it.
type recordingObserver struct {
	mu      sync.Mutex
	started []string
	ended   []string // "kind outcome"
}

func (o *recordingObserver) ObserveJobStart(kind string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.started = append(o.started, kind)
}

func (o *recordingObserver) ObserveJob(kind, outcome string, took time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if took <= 0 {
		panic("non-positive duration")
	}
	o.ended = append(o.ended, kind+" "+outcome)
}

func (o *recordingObserver) snapshot() (started, ended []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.started), slices.Clone(o.ended)
}

// TestObserverAndCountsByKind: each attempt is observed with its kind and
// outcome, and CountsByKind reports the jobs by kind in vpo's state words.
func TestObserverAndCountsByKind(t *testing.T) {
	db := openTestDB(t)
	obs := &recordingObserver{}
	e := newTestEngine(t, db, Config{Observer: obs, Workers: 2}, func(ctx context.Context, job *river.Job[testArgs]) error {
		switch job.Args.Name {
		case "fail":
			return errors.New("boom")
		case "refuse":
			return river.JobCancel(errors.New("bad path"))
		}
		return nil
	})

	// Before any run: queued jobs counted by kind.
	mustInsert(t, e, testArgs{Name: "ok"})
	mustInsert(t, e, otherArgs{})
	counts, err := e.CountsByKind(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(counts), "[{test queued 1} {test_other queued 1}]"; got != want {
		t.Errorf("CountsByKind = %s, want %s", got, want)
	}

	startEngine(t, e)
	ids := []int64{
		mustInsert(t, e, testArgs{Name: "fail", Max: 1}),
		mustInsert(t, e, testArgs{Name: "refuse"}),
	}
	waitState(t, e, ids[0], StateFailed)
	waitState(t, e, ids[1], StateCancelled)
	waitFor(t, 10*time.Second, "4 attempts observed", func() bool {
		_, ended := obs.snapshot()
		return len(ended) == 4
	})
	started, ended := obs.snapshot()
	slices.Sort(started)
	slices.Sort(ended)
	if got, want := fmt.Sprint(started), "[test test test test_other]"; got != want {
		t.Errorf("started %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(ended), "[test cancelled test completed test failed test_other completed]"; got != want {
		t.Errorf("ended %s, want %s", got, want)
	}

	// River records an attempt's end after the middleware returns.
	want := "[{test cancelled 1} {test completed 1} {test failed 1} {test_other completed 1}]"
	waitFor(t, 10*time.Second, "CountsByKind = "+want, func() bool {
		counts, err = e.CountsByKind(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(counts) == want
	})
}

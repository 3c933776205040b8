package daemon

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestComponents(t *testing.T) {
	errBoom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		failAt  string // the component whose start fails; "" for none
		wantErr error
		want    []string // the calls, in order, after startAll (and stopAll when it succeeded)
	}{
		{name: "start in order, stop in reverse",
			want: []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}},
		{name: "a failed start stops the started ones", failAt: "c", wantErr: errBoom,
			want: []string{"start a", "start b", "start c", "stop b", "stop a"}},
		{name: "the first failing stops nothing", failAt: "a", wantErr: errBoom,
			want: []string{"start a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls []string
			mk := func(name string) *component {
				return &component{name: name,
					start: func(context.Context) error {
						calls = append(calls, "start "+name)
						if name == tc.failAt {
							return errBoom
						}
						return nil
					},
					stop: func(context.Context) { calls = append(calls, "stop "+name) },
				}
			}
			cs := []*component{mk("a"), mk("b"), mk("c")}
			stopCtx := func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }
			err := startAll(context.Background(), stopCtx, cs)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("startAll = %v, want %v", err, tc.wantErr)
			}
			// Stopping everything again (as a shutdown after a failed start would) is
			// harmless: each stop runs at most once, and only after its start.
			stopAll(context.Background(), cs)
			stopAll(context.Background(), cs)
			if !slices.Equal(calls, tc.want) {
				t.Errorf("calls = %q\nwant    %q", calls, tc.want)
			}
		})
	}
}

func TestComponentStopBeforeStart(t *testing.T) {
	var calls []string
	c := &component{name: "x",
		start: func(context.Context) error { calls = append(calls, "start"); return nil },
		stop:  func(context.Context) { calls = append(calls, "stop") },
	}
	c.Stop(context.Background())
	if err := c.Start(context.Background()); err == nil {
		t.Error("Start after Stop succeeded; a component is single-use")
	}
	if len(calls) != 0 {
		t.Errorf("calls = %q, want none", calls)
	}
}

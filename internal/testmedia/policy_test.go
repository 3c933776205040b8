package testmedia_test

import (
	"context"
	"testing"

	"github.com/vpo-project/vpo/internal/probe"
	"github.com/vpo-project/vpo/internal/testmedia"
)

// TestMakePolicyMKV probes the generated file and checks every track against
// PolicyTracks: its type, language, title and flags, in ffprobe's order.
func TestMakePolicyMKV(t *testing.T) {
	path := testmedia.MakePolicyMKV(t, "")
	res, err := probe.Runner{}.Probe(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tracks) != len(testmedia.PolicyTracks) {
		t.Fatalf("%d tracks, want %d: %+v", len(res.Tracks), len(testmedia.PolicyTracks), res.Tracks)
	}
	for i, want := range testmedia.PolicyTracks {
		got := res.Tracks[i]
		if got.Index != i || got.Type != want.Type || got.Language != want.Language || got.Title != want.Title ||
			got.Default != want.Default || got.Forced != want.Forced {
			t.Errorf("track %d = %+v, want %+v", i, got, want)
		}
	}
	if a := res.Tracks[9]; a.Codec == "" {
		t.Errorf("attachment codec is empty: %+v", a)
	}
}

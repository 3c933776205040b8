package apply_test

import (
	"context"
	"testing"

	"github.com/vpo-project/vpo/internal/apply"
	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/testmedia"
)

// BenchmarkApplyMetadata measures a flags-only apply (mkvpropedit) per file,
// editing a copy (in_place = never) and in place under a journal (auto).
// The plan is made outside the timer; the apply includes every check
// (fingerprint, ffprobe before and after, mkvmerge -J).
func BenchmarkApplyMetadata(b *testing.B) {
	pol, err := policy.Parse("bench.yaml", []byte(header+`phases:
  - name: flags
    default_flags: {set_first_video_default: true, set_preferred_audio_default: false}
    audio_actions: {clear_all_default: true}
`))
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{apply.InPlaceNever, apply.InPlaceAuto} {
		b.Run("in_place="+mode, func(b *testing.B) {
			e := newExecutor()
			e.InPlace, e.JournalDir = mode, b.TempDir()
			dir := b.TempDir()
			for b.Loop() {
				b.StopTimer()
				path := testmedia.MakeMany(b, dir, 1)[0]
				req := requestForB(b, pol, path)
				b.StartTimer()
				res, err := e.Apply(context.Background(), req)
				if err != nil || !res.Changed {
					b.Fatalf("apply: %+v, %v", res, err)
				}
			}
		})
	}
}

package policy

import (
	"strings"
	"testing"
)

// TestEvaluateLoadedPolicy evaluates a policy as the loader reads it, so
// that the loader's defaults and the evaluator agree.
func TestEvaluateLoadedPolicy(t *testing.T) {
	const src = `schema_version: 13
name: Tidy
config:
  audio_languages: [en, ja]
  subtitle_languages: [en]
phases:
  - name: filter
    keep_audio:
      languages: [eng, jpn]
      fallback: {mode: keep_first}
    keep_subtitles:
      languages: [eng]
      preserve_forced: true
    filter_attachments: {remove_all: true}
  - name: arrange
    track_order: [video, audio_main, audio_alternate, audio_commentary, subtitle_forced, subtitle_main, subtitle_commentary]
    default_flags: {}
  - name: encode
    transcode:
      video: {to: hevc}
`
	p, err := Parse("tidy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	f := mkvFile(def(vid(0)), aud(1, "fre", ""), def(aud(2, "eng", "Commentary")), aud(3, "jpn", ""), aud(4, "eng", ""),
		sub(5, "fre", ""), forced(sub(6, "eng", "Signs")), sub(7, "eng", "SDH"), att(8))
	plan := Evaluate(p, f)
	if got, want := summary(plan.Result().Tracks), "0v-D 4a-eng-D 3a-jpn 2a-eng 6s-eng-F 7s-eng"; got != want {
		var b strings.Builder
		_ = plan.WriteText(&b)
		t.Errorf("result = %s, want %s\n%s", got, want, b.String())
	}
	if got := plan.Phases[2].Unsupported; len(got) != 1 || got[0] != "transcode: not supported by this vpo" {
		t.Errorf("unsupported = %q", got)
	}
	mustIdempotent(t, p, plan)
}

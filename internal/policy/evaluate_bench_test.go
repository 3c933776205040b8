package policy

import (
	"testing"
	"time"
)

// benchPolicy is a realistic policy: clean-up, filters, order, flags and a
// rule in one phase, then a run_if phase.
func benchPolicy() *Policy {
	ka := keepAudio("eng", "jpn")
	ka.Fallback = &Fallback{Mode: FallbackContentLanguage}
	return testPolicy(
		Phase{Name: "normalize", SubtitleActions: &TrackActions{ClearAllDefault: true}, KeepAudio: ka,
			KeepSubtitles: &KeepSubtitles{Languages: []string{"eng"}, PreserveForced: true}, FilterAttachments: &FilterAttachments{RemoveAll: true},
			TrackOrder: defaultOrder(), DefaultFlags: &DefaultFlags{SetFirstVideoDefault: true, SetPreferredAudioDefault: true, ClearOtherDefaults: true,
				SetSubtitleDefaultWhenAudioDiffers: true, PreferredAudioCodec: []string{"truehd"}},
			Rules: &Rules{Match: MatchFirst, Items: []Rule{{Name: "anime", When: When{Condition: &Condition{Exists: &TrackCondition{TrackType: KindAudio,
				TrackFilter: TrackFilter{Language: []string{"jpn"}}}}}, Then: []Action{{Warn: "{filename} has Japanese audio"}}}}}},
		Phase{Name: "tidy", AudioActions: &TrackActions{ClearAllTitles: true}, RunIf: &RunIf{PhaseModified: "normalize"}},
	)
}

func benchFile() FileInfo {
	return mkvFile(def(vid(0)), def(aud(1, "jpn", "")), codec(aud(2, "eng", "Dolby TrueHD 7.1"), "truehd"), aud(3, "eng", "Commentary"),
		aud(4, "fre", ""), sub(5, "eng", ""), forced(sub(6, "eng", "Signs")), def(sub(7, "fre", "")), sub(8, "eng", "SDH"), att(9), att(10))
}

// BenchmarkEvaluate measures one file's evaluation with a compiled policy
// (the dry-run's inner loop). Target: ≤ 20 µs per file (≥ 50,000 files/s).
func BenchmarkEvaluate(b *testing.B) {
	e, err := Compile(benchPolicy())
	if err != nil {
		b.Fatal(err)
	}
	f := benchFile()
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		_ = e.Evaluate(f)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "files/s")
}

// BenchmarkEvaluateUncompiled is Evaluate(p, f): compiling the policy on
// every call.
func BenchmarkEvaluateUncompiled(b *testing.B) {
	p, f := benchPolicy(), benchFile()
	b.ReportAllocs()
	for b.Loop() {
		_ = Evaluate(p, f)
	}
}

// BenchmarkEvaluateOutcome is what a dry run does per file: evaluate, then
// take the plan's outcome for the summary.
func BenchmarkEvaluateOutcome(b *testing.B) {
	e, err := Compile(benchPolicy())
	if err != nil {
		b.Fatal(err)
	}
	f := benchFile()
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		p := e.Evaluate(f)
		_ = p.Outcome()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "files/s")
}

package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func mustLoad(t *testing.T, path string) *Policy {
	t.Helper()
	p, err := Load(path)
	if err != nil {
		var es Errors
		if errors.As(err, &es) {
			for _, e := range es {
				t.Error(e)
			}
		}
		t.Fatalf("Load(%s): %v", path, err)
	}
	return p
}

func TestLoadEveryKey(t *testing.T) {
	path := filepath.Join("testdata", "every-key.yaml")
	p := mustLoad(t, path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if p.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256 = %s, want the sha256 of the file", p.SHA256)
	}
	if p.File != path || p.Name != "Every key" || p.Category != "test" || p.Description != "Exercises the whole format." {
		t.Errorf("top level = %q %q %q %q", p.File, p.Name, p.Category, p.Description)
	}
	c := p.Config
	if !slices.Equal(c.AudioLanguages, []string{"jpn", "eng", "und"}) || !slices.Equal(c.SubtitleLanguages, []string{"eng"}) || c.OnError != OnErrorSkip {
		t.Errorf("config = %+v", c)
	}
	cl, err := NewClassifier(c.CommentaryPatterns, c.AudioLanguages, c.SubtitleLanguages)
	if err != nil {
		t.Fatal(err)
	}
	for title, want := range map[string]bool{"Commentary by X": true, "COMENTARY": true, "The Director": false, "director": true, "Behind The Scenes": true, "Main": false} {
		if got := cl.IsCommentary(title); got != want {
			t.Errorf("IsCommentary(%q) = %v, want %v", title, got, want)
		}
	}
	if len(p.Phases) != 8 {
		t.Fatalf("phases = %d, want 8", len(p.Phases))
	}
	ph := p.Phases
	if *ph[0].AudioActions != (TrackActions{ClearAllForced: true, ClearAllTitles: true}) ||
		*ph[0].SubtitleActions != (TrackActions{ClearAllForced: true}) ||
		*ph[0].VideoActions != (TrackActions{ClearAllTitles: true, ClearAllDefault: true}) {
		t.Errorf("actions = %+v %+v %+v", ph[0].AudioActions, ph[0].SubtitleActions, ph[0].VideoActions)
	}
	if ph[0].EffectiveOnError(&c) != OnErrorFail || ph[1].EffectiveOnError(&c) != OnErrorSkip {
		t.Errorf("on_error = %q, %q", ph[0].EffectiveOnError(&c), ph[1].EffectiveOnError(&c))
	}
	if ph[0].TrackOrder != nil || ph[0].DefaultFlags != nil || ph[0].KeepAudio != nil {
		t.Errorf("phase 0 has operations it does not name: %+v", ph[0])
	}
	wantKeep := KeepAudio{Languages: []string{"jpn", "en"}, Minimum: 2, Fallback: &Fallback{Mode: FallbackKeepFirst},
		KeepSFXTracks: true, ExcludeNonSpeechFromLanguageFilter: true}
	if !reflect.DeepEqual(*ph[1].KeepAudio, wantKeep) {
		t.Errorf("keep_audio = %+v, want %+v", *ph[1].KeepAudio, wantKeep)
	}
	if !reflect.DeepEqual(*ph[1].KeepSubtitles, KeepSubtitles{Languages: []string{"eng", "fre"}, PreserveForced: true}) || !ph[1].FilterAttachments.RemoveAll {
		t.Errorf("keep_subtitles = %+v, filter_attachments = %+v", ph[1].KeepSubtitles, ph[1].FilterAttachments)
	}
	if !slices.Equal(ph[1].DependsOn, []string{"cleanup"}) || ph[2].RunIf.PhaseModified != "Filter_1" {
		t.Errorf("depends_on = %v, run_if = %+v", ph[1].DependsOn, ph[2].RunIf)
	}
	if !slices.Equal(ph[2].TrackOrder, Slots) {
		t.Errorf("track_order = %v", ph[2].TrackOrder)
	}
	wantSkip := SkipWhen{Mode: SkipAny, VideoCodec: []string{"hevc", "av1"}, AudioCodecExists: "truehd", SubtitleLanguageExists: "eng",
		Container: []string{"mkv"}, Resolution: "1080p", ResolutionUnder: "720p", FileSizeUnder: "500MB", FileSizeOver: "1.5 GB",
		DurationUnder: "30m", DurationOver: "1h30m", FileSizeUnderBytes: 500 << 20, FileSizeOverBytes: 3 << 29,
		DurationUnderSec: 1800, DurationOverSec: 5400}
	if !reflect.DeepEqual(*ph[2].SkipWhen, wantSkip) {
		t.Errorf("skip_when = %+v\nwant %+v", *ph[2].SkipWhen, wantSkip)
	}
	wantFlags := DefaultFlags{SetPreferredAudioDefault: true, SetPreferredSubtitleDefault: true, SetSubtitleDefaultWhenAudioDiffers: true,
		SetSubtitleForcedWhenAudioDiffers: true, PreferredAudioCodec: []string{"truehd"}}
	if !reflect.DeepEqual(*ph[2].DefaultFlags, wantFlags) {
		t.Errorf("default_flags = %+v", *ph[2].DefaultFlags)
	}
	// YAML 1.1 booleans, as the original's parser reads them.
	if !ph[1].FilterAttachments.RemoveAll || ph[1].KeepSubtitles.RemoveAll {
		t.Errorf("remove_all: yes / no read as %v / %v", ph[1].FilterAttachments.RemoveAll, ph[1].KeepSubtitles.RemoveAll)
	}
	// An empty default_flags block is present, with the defaults.
	if !reflect.DeepEqual(*ph[3].DefaultFlags, DefaultFlags{SetFirstVideoDefault: true, SetPreferredAudioDefault: true, ClearOtherDefaults: true}) {
		t.Errorf("default_flags {} = %+v", *ph[3].DefaultFlags)
	}
	if !reflect.DeepEqual(*ph[3].Container, Container{Target: ContainerMKV, OnIncompatibleCodec: IncompatibleSkip}) {
		t.Errorf("container = %+v", *ph[3].Container)
	}
	wantMap := map[string]CodecMapping{"truehd": {Codec: "aac", Bitrate: "256k"}, "dts": {Codec: "ac3", Bitrate: "0.64m", Action: "transcode"},
		"hdmv_pgs_subtitle": {Codec: "mov_text", Action: "remove"}}
	if !reflect.DeepEqual(ph[4].Container.CodecMappings, wantMap) || !ph[4].Container.PreserveMetadata {
		t.Errorf("codec_mappings = %+v", ph[4].Container)
	}

	r := ph[5].Rules
	if r.Match != MatchAll || len(r.Items) != 5 {
		t.Fatalf("rules = %+v", r)
	}
	r0 := r.Items[0]
	if r0.Name != "no english audio" || r0.When.Condition.Not.Exists.TrackType != KindAudio || *r0.When.Condition.Not.Exists.NotCommentary != true {
		t.Errorf("rule 0 = %+v", r0)
	}
	if *r0.Then[0].SetForced != (SetFlag{TrackType: KindSubtitle, Language: "eng", Value: true}) ||
		*r0.Then[1].SetDefault != (SetFlag{TrackType: KindSubtitle, Language: "eng", Value: true}) ||
		len(r0.Else) != 1 || r0.Else[0].Warn != "english audio present" {
		t.Errorf("rule 0 actions = %+v / %+v", r0.Then, r0.Else)
	}
	and := r.Items[1].When.Condition.And
	if cnt := and[0].Count; cnt.TrackType != KindAudio || *cnt.Compare != (Comparison{OpGte, 3}) || !slices.Equal(cnt.Codec, []string{"ac3", "dts"}) {
		t.Errorf("count = %+v", and[0].Count)
	}
	if v := and[1].Or[0].Exists; *v.Height != (Comparison{OpGte, 2160}) || *v.Width != (Comparison{OpEq, 3840}) {
		t.Errorf("exists video = %+v", v)
	}
	if v := and[1].Or[1].Exists; *v.Channels != (Comparison{OpLt, 6}) || !*v.IsDefault || *v.IsForced {
		t.Errorf("exists audio = %+v", v)
	}
	if sl := r.Items[1].Then[0].SetLanguage; *sl != (SetLanguage{TrackType: KindAudio, NewLanguage: "und", MatchLanguage: "zxx"}) {
		t.Errorf("set_language = %+v", sl)
	}
	or := r.Items[2].When.Condition.Or
	if or[0].Exists.Title.Contains != "SDH" || or[1].Exists.Title.Regexp() == nil || !or[1].Exists.Title.Regexp().MatchString("English (SDH)") || or[2].Exists.Title.Contains != "font" {
		t.Errorf("titles = %+v %+v %+v", or[0].Exists.Title, or[1].Exists.Title, or[2].Exists.Title)
	}
	if !*r.Items[2].Then[0].SkipTrackFilter || r.Items[2].Then[1].Fail != "stop: {title}" {
		t.Errorf("rule 2 then = %+v", r.Items[2].Then)
	}
	if r.Items[4].When.Expr != "exists(audio, lang == eng)" || r.Items[4].When.Condition != nil {
		t.Errorf("expression when = %+v", r.Items[4].When)
	}
	pm := r.Items[3].When.Condition.Or[1].PluginMetadata
	if *pm != (MetadataCondition{Plugin: "radarr", Field: "original_language", Value: "jpn", Operator: "eq"}) {
		t.Errorf("plugin_metadata = %+v", pm)
	}
	if v := r.Items[3].When.Condition.Or[2].PluginMetadata.Value; v != 2000 {
		t.Errorf("plugin_metadata value = %#v", v)
	}
	if v := r.Items[3].When.Condition.Or[6].PluginMetadata.Value; v != 7.0 {
		t.Errorf("plugin_metadata float value = %#v", v)
	}
	if *r.Items[3].When.Condition.Or[4].IsOriginal != (OriginalCondition{Value: true, MinConfidence: 0.7}) {
		t.Errorf("is_original = %+v", r.Items[3].When.Condition.Or[4].IsOriginal)
	}

	later := ph[6]
	if later.Transcode.Video.To != "hevc" || *later.Transcode.Video.CRF != 20 || later.Transcode.Audio.To != "opus" ||
		later.AudioSynthesis.Tracks[0].Codec != "aac" || later.AudioSynthesis.Tracks[1].Channels != "6" ||
		later.AudioSynthesis.Tracks[1].Position != "2" || later.AudioSynthesis.Tracks[1].Language != "eng" ||
		later.AudioSynthesis.Tracks[1].CreateIf.Expr == "" || later.Transcription.ConfidenceThreshold != 0.75 ||
		*later.FileTimestamp != (FileTimestamp{Mode: "release_date", Fallback: "now", DateSource: "radarr"}) {
		t.Errorf("unsupported operations decoded wrong: %+v", later)
	}
	if a := ph[7].Transcode.Audio; !reflect.DeepEqual(*a, AudioTranscode{Preserve: []string{"truehd", "dts-hd", "flac", "pcm_s24le"}, To: "aac", Bitrate: "192k"}) {
		t.Errorf("transcode.audio defaults = %+v", a)
	}
	if *ph[7].FileTimestamp != (FileTimestamp{Mode: "preserve", Fallback: "preserve", DateSource: "auto"}) {
		t.Errorf("file_timestamp defaults = %+v", ph[7].FileTimestamp)
	}

	wantUnsupported := [][]string{
		nil, nil, nil, nil,
		{"container.on_incompatible_codec: transcode", "container.codec_mappings"},
		{
			"rules.items[3].when.or[0].audio_is_multi_language",
			"rules.items[3].when.or[1].plugin_metadata",
			"rules.items[3].when.or[2].plugin_metadata",
			"rules.items[3].when.or[3].container_metadata",
			"rules.items[3].when.or[4].is_original",
			"rules.items[3].when.or[5].is_dubbed",
			"rules.items[3].when.or[6].plugin_metadata",
			"rules.items[3].then[0].skip_video_transcode",
			"rules.items[3].then[1].skip_audio_transcode",
			"rules.items[3].then[2].set_container_metadata",
			"rules.items[3].then[3].set_container_metadata",
			"rules.items[3].then[4].set_language.from_plugin_metadata",
			"rules.items[4].when (expression string)",
		},
		{"transcode", "audio_synthesis", "transcription", "file_timestamp", "run_if.phase_completed"},
		{"transcode", "file_timestamp"},
	}
	for i := range ph {
		if got := ph[i].Unsupported(); !slices.Equal(got, wantUnsupported[i]) {
			t.Errorf("phases[%d].Unsupported() = %q\nwant %q", i, got, wantUnsupported[i])
		}
	}
}

func TestParseDefaults(t *testing.T) {
	p := mustLoad(t, filepath.Join("testdata", "minimal.yaml"))
	want := Config{
		AudioLanguages:     []string{"eng", "und"},
		SubtitleLanguages:  []string{"eng", "und"},
		CommentaryPatterns: []string{"commentary", "director", "audio description"},
		OnError:            OnErrorContinue,
	}
	got := p.Config
	got.commentary = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config = %+v, want %+v", got, want)
	}
	cl, err := NewClassifier(p.Config.CommentaryPatterns, p.Config.AudioLanguages, p.Config.SubtitleLanguages)
	if err != nil {
		t.Fatal(err)
	}
	if !cl.IsCommentary("Audio Description (English)") || cl.IsCommentary("English 5.1") || cl.IsCommentary("Commentary-free") {
		t.Error("default commentary patterns do not match as expected")
	}
	ph := p.Phases[0]
	want0 := Phase{Name: "only", KeepAudio: &KeepAudio{Languages: []string{"eng"}, Minimum: 1,
		KeepMusicTracks: true, ExcludeMusicFromLanguageFilter: true, KeepSFXTracks: true,
		ExcludeSFXFromLanguageFilter: true, KeepNonSpeechTracks: true, ExcludeNonSpeechFromLanguageFilter: true}}
	if !reflect.DeepEqual(ph, want0) {
		t.Errorf("phase = %+v\nwant %+v", ph, want0)
	}
	if ph.TrackOrder != nil || ph.DefaultFlags != nil {
		t.Error("a phase without track_order/default_flags must not get them")
	}
	if u := ph.Unsupported(); len(u) != 0 {
		t.Errorf("Unsupported() = %v", u)
	}
}

// TestParseErrors checks the exact text and position of each error.
func TestParseErrors(t *testing.T) {
	head := "schema_version: 13\nphases:\n  - name: p\n"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"empty file", "", []string{"t.yaml: empty file (a policy needs schema_version: 13 and phases)"}},
		{"not yaml", "a: [1, 2\n", []string{"t.yaml:1: not valid YAML: did not find expected ',' or ']'"}},
		{"not a mapping", "- 1\n", []string{"t.yaml:1:1: must be a mapping, not a list"}},
		{"two documents", head + "---\nb: 1\n", []string{"t.yaml:4:1: more than one YAML document (a policy file holds one)"}},
		{"missing required", "name: x\n", []string{
			"t.yaml:1:1: schema_version: is required",
			"t.yaml:1:1: phases: is required",
		}},
		{"wrong schema version", "schema_version: 12\nphases: [{name: p}]\n", []string{
			"t.yaml:1:17: schema_version: must be 13 (this vpo reads V13 policies), not 12",
		}},
		{"schema version string", "schema_version: '13'\nphases: [{name: p}]\n", []string{
			"t.yaml:1:17: schema_version: must be an integer, not a string",
		}},
		{"no phases", "schema_version: 13\nphases: []\n", []string{"t.yaml:2:9: phases: must have at least one phase"}},
		{"unknown keys everywhere", head + "    audio_filter: {languages: [eng]}\n    conditional: []\nconfig:\n  audio_langs: [eng]\nextra: 1\n", []string{
			"t.yaml:4:5: phases[0].audio_filter: unknown key (V13 calls it keep_audio)",
			"t.yaml:5:5: phases[0].conditional: unknown key (V13 calls it rules)",
			"t.yaml:7:3: config.audio_langs: unknown key",
			"t.yaml:8:1: extra: unknown key",
		}},
		{"misspelt keys", head + "    keep_audios: {languages: [eng]}\n    default_flags: {clear_other_default: true}\n", []string{
			"t.yaml:4:5: phases[0].keep_audios: unknown key (did you mean keep_audio?)",
			"t.yaml:5:21: phases[0].default_flags.clear_other_default: unknown key (did you mean clear_other_defaults?)",
		}},
		{"duplicate key", head + "    name: q\n", []string{"t.yaml:4:5: phases[0].name: duplicate key"}},
		{"minimum", "schema_version: 13\nphases:\n  - name: a\n  - name: b\n    keep_audio:\n      languages: [eng]\n      minimum: 0\n", []string{
			"t.yaml:7:16: phases[1].keep_audio.minimum: must be >= 1",
		}},
		{"keep_audio needs languages", head + "    keep_audio: {minimum: 2}\n", []string{
			"t.yaml:4:17: phases[0].keep_audio.languages: is required",
		}},
		{"keep_audio empty languages", head + "    keep_audio: {languages: []}\n", []string{
			"t.yaml:4:29: phases[0].keep_audio.languages: must list at least one language",
		}},
		{"bad languages", "schema_version: 13\nconfig:\n  audio_languages: [eng, ENG, english, 3]\nphases: [{name: p}]\n", []string{
			`t.yaml:3:26: config.audio_languages[1]: "ENG" is not a language code (2 or 3 lower-case letters, ISO 639, e.g. eng, de)`,
			`t.yaml:3:31: config.audio_languages[2]: "english" is not a language code (2 or 3 lower-case letters, ISO 639, e.g. eng, de)`,
			"t.yaml:3:40: config.audio_languages[3]: must be a string, not an integer",
		}},
		{"bad regex", "schema_version: 13\nconfig:\n  commentary_patterns: [ok, '(unclosed', '(?=look)']\nphases: [{name: p}]\n", []string{
			"t.yaml:3:29: config.commentary_patterns[1]: bad regular expression: missing closing ): `(unclosed`",
			"t.yaml:3:42: config.commentary_patterns[2]: bad regular expression: invalid or unsupported Perl syntax: `(?=`",
		}},
		{"on_error", "schema_version: 13\nconfig: {on_error: stop}\nphases: [{name: p, on_error: ignore}]\n", []string{
			`t.yaml:2:20: config.on_error: must be one of continue, skip, fail, not "stop"`,
			`t.yaml:3:30: phases[0].on_error: must be one of continue, skip, fail, not "ignore"`,
		}},
		{"phase names", "schema_version: 13\nphases:\n  - name: 1st\n  - name: Config\n  - name: dup\n  - name: DUP\n  - {}\n", []string{
			`t.yaml:3:11: phases[0].name: "1st" is not a phase name (a letter, then up to 63 letters, digits, _ or -)`,
			`t.yaml:4:11: phases[1].name: "Config" is reserved (config, schema_version and phases cannot name a phase)`,
			`t.yaml:6:11: phases[3].name: "DUP" is already the name of phases[2] (names are unique ignoring case)`,
			"t.yaml:7:5: phases[4].name: is required",
		}},
		{"depends_on and run_if", "schema_version: 13\nphases:\n  - name: a\n    depends_on: [a, b, nope]\n    run_if: {phase_modified: b}\n  - name: b\n    depends_on: [A]\n    run_if: {}\n", []string{
			`t.yaml:4:18: phases[0].depends_on[0]: "a" is not an earlier phase (a phase can only refer to phases before it)`,
			`t.yaml:4:21: phases[0].depends_on[1]: "b" is not an earlier phase (a phase can only refer to phases before it)`,
			`t.yaml:4:24: phases[0].depends_on[2]: no phase is named "nope"`,
			`t.yaml:5:30: phases[0].run_if.phase_modified: "b" is not an earlier phase (a phase can only refer to phases before it)`,
			`t.yaml:7:18: phases[1].depends_on[0]: no phase is named "A"`,
			"t.yaml:8:13: phases[1].run_if: must name exactly one of phase_modified and phase_completed",
		}},
		{"track_order", head + "    track_order: [video, audio, Audio_Main]\n  - name: q\n    track_order: []\n", []string{
			`t.yaml:4:26: phases[0].track_order[1]: "audio" is not a slot (one of video, audio_main, audio_alternate, audio_commentary, audio_music, audio_sfx, audio_non_speech, subtitle_main, subtitle_forced, subtitle_commentary, attachment)`,
			`t.yaml:4:33: phases[0].track_order[2]: "Audio_Main" is not a slot (one of video, audio_main, audio_alternate, audio_commentary, audio_music, audio_sfx, audio_non_speech, subtitle_main, subtitle_forced, subtitle_commentary, attachment)`,
			"t.yaml:6:18: phases[1].track_order: must list at least one slot (leave track_order out to keep the order)",
		}},
		{"wrong types", head + "    default_flags: {clear_other_defaults: 'yes', preferred_audio_codec: 3}\n    keep_subtitles: [eng]\n    audio_actions: true\n", []string{
			"t.yaml:4:43: phases[0].default_flags.clear_other_defaults: must be true or false, not a string",
			"t.yaml:4:73: phases[0].default_flags.preferred_audio_codec: must be a string, not an integer",
			"t.yaml:5:21: phases[0].keep_subtitles: must be a mapping, not a list",
			"t.yaml:6:20: phases[0].audio_actions: must be a mapping, not a boolean",
		}},
		{"fallback and container", head + "    keep_audio: {languages: [eng], fallback: {}}\n    container: {target: avi, on_incompatible_codec: ignore}\n", []string{
			"t.yaml:4:46: phases[0].keep_audio.fallback.mode: is required",
			`t.yaml:5:25: phases[0].container.target: must be one of mkv, mp4, not "avi"`,
			`t.yaml:5:53: phases[0].container.on_incompatible_codec: must be one of error, skip, transcode, not "ignore"`,
		}},
		{"codec mapping bitrate", head + "    container: {target: mp4, codec_mappings: {dts: {codec: aac, bitrate: '256'}}}\n", []string{
			"t.yaml:4:74: phases[0].container.codec_mappings.dts.bitrate: must end in k or m (e.g. 256k); a bare number would mean bits per second",
		}},
		{"rules", head + "    rules:\n      match: some\n      items:\n        - name: ''\n          when: {exists: {track_type: audio}, count: {track_type: audio}}\n          then: []\n        - name: r\n          when: {and: [{not: {exists: {track_type: data}}}]}\n          then: {bogus: 1}\n", []string{
			`t.yaml:5:14: phases[0].rules.match: must be one of first, all, not "some"`,
			"t.yaml:7:17: phases[0].rules.items[0].name: must not be empty",
			"t.yaml:8:17: phases[0].rules.items[0].when: must be exactly one condition, not exists and count",
			"t.yaml:8:54: phases[0].rules.items[0].when.count: must have one count comparison (eq, lt, lte, gt or gte)",
			"t.yaml:9:17: phases[0].rules.items[0].then: must have at least one action",
			"t.yaml:11:23: phases[0].rules.items[1].when.and: must have at least two conditions",
			`t.yaml:11:52: phases[0].rules.items[1].when.and[0].not.exists.track_type: must be one of video, audio, subtitle, attachment, not "data"`,
			"t.yaml:12:17: phases[0].rules.items[1].then: must have at least one action (skip_video_transcode, skip_audio_transcode, skip_track_filter, warn, fail, set_forced, set_default, set_language, set_container_metadata)",
			"t.yaml:12:18: phases[0].rules.items[1].then.bogus: unknown key",
		}},
		{"rule filters", head + "    rules:\n      match: first\n      items:\n        - name: r\n          when: {exists: {track_type: audio, channels: {gt: 2, lt: 8}, title: {regex: '['}, language: [EN]}}\n          then: {set_default: {language: eng}, set_forced: {track_type: audio}}\n", []string{
			"t.yaml:8:56: phases[0].rules.items[0].when.exists.channels: must have exactly one of eq, lt, lte, gt, gte",
			"t.yaml:8:87: phases[0].rules.items[0].when.exists.title.regex: bad regular expression: missing closing ]: `[`",
			`t.yaml:8:104: phases[0].rules.items[0].when.exists.language[0]: "EN" is not a language code (2 or 3 lower-case letters, ISO 639, e.g. eng, de)`,
			"t.yaml:9:31: phases[0].rules.items[0].then.set_default.track_type: is required",
			`t.yaml:9:73: phases[0].rules.items[0].then.set_forced.track_type: must be one of subtitle, not "audio"`,
		}},
		{"skip_when", head + "    skip_when: {mode: any}\n  - name: q\n    skip_when: {mode: all, file_size_over: 5 GiB, duration_under: soon, resolution: 8k}\n", []string{
			"t.yaml:4:16: phases[0].skip_when: must have at least one condition besides mode",
			`t.yaml:6:44: phases[1].skip_when.file_size_over: "5 GiB" is not a file size (e.g. 500MB, 5GB, 1.5TB)`,
			`t.yaml:6:67: phases[1].skip_when.duration_under: "soon" is not a duration (e.g. 90s, 30m, 2h, 1h30m)`,
			`t.yaml:6:85: phases[1].skip_when.resolution: must be one of 480p, 720p, 1080p, 1440p, 2160p, 4k, not "8k"`,
		}},
		{"unsupported operations are still validated", head + "    transcode: {video: {to: mpeg2, crf: 60, ffmpeg_args: ['-y; rm -rf /']}}\n    transcription: {confidence_threshold: 2}\n    file_timestamp: {mode: later}\n    audio_synthesis: {tracks: []}\n", []string{
			`t.yaml:4:29: phases[0].transcode.video.to: must be one of h264, hevc, vp9, av1, not "mpeg2"`,
			"t.yaml:4:41: phases[0].transcode.video.crf: must be between 0 and 51",
			`t.yaml:4:58: phases[0].transcode.video.ffmpeg_args[0]: must not contain the shell metacharacter ";"`,
			"t.yaml:5:43: phases[0].transcription.confidence_threshold: must be between 0 and 1",
			`t.yaml:6:28: phases[0].file_timestamp.mode: must be one of preserve, release_date, now, not "later"`,
			"t.yaml:7:31: phases[0].audio_synthesis.tracks: must have at least one track",
		}},
		{"name", "schema_version: 13\nname: '   '\nphases: [{name: p}]\n", []string{
			"t.yaml:2:7: name: must not be empty (leave the key out instead)",
		}},
		{"merge keys", "schema_version: 13\nbase: &b {name: p}\nphases: [{<<: *b}]\n", []string{
			"t.yaml:2:1: base: unknown key",
			"t.yaml:3:10: phases[0].name: is required",
			"t.yaml:3:11: phases[0]: keys must be plain names (merge keys and complex keys are not supported)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("t.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", p)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T %v is not an Errors", err, err)
			}
			got := make([]string, len(es))
			for i, e := range es {
				got[i] = e.Error()
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			first := tt.want[0]
			if len(tt.want) > 1 {
				first += " (and " + strconv.Itoa(len(tt.want)-1) + " more)"
			}
			if err.Error() != first || strings.Contains(err.Error(), "\n") {
				t.Errorf("Error() = %q, want %q", err.Error(), first)
			}
		})
	}
}

// TestEffectiveYAMLRoundTrip checks that `policy show` output is a valid
// policy equal to the original, with the defaults written out.
func TestEffectiveYAMLRoundTrip(t *testing.T) {
	for _, name := range []string{"every-key.yaml", "minimal.yaml"} {
		t.Run(name, func(t *testing.T) {
			p := mustLoad(t, filepath.Join("testdata", name))
			out, err := p.EffectiveYAML()
			if err != nil {
				t.Fatal(err)
			}
			q, err := Parse("shown.yaml", out)
			if err != nil {
				t.Fatalf("reparse: %v\n%s", err, out)
			}
			out2, err := q.EffectiveYAML()
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != string(out2) {
				t.Errorf("show is not stable:\n%s\n---\n%s", out, out2)
			}
			p.File, p.SHA256, q.File, q.SHA256 = "", "", "", ""
			if !reflect.DeepEqual(p, q) {
				t.Errorf("policy differs after the round trip:\n%+v\n%+v", p, q)
			}
			for _, want := range []string{"on_error: continue", "minimum: 1", "keep_music_tracks: true", "audio description"} {
				if name == "minimal.yaml" && !strings.Contains(string(out), want) {
					t.Errorf("show output lacks default %q:\n%s", want, out)
				}
			}
			if name == "minimal.yaml" && (strings.Contains(string(out), "track_order") || strings.Contains(string(out), "default_flags")) {
				t.Errorf("show output adds operations the phase does not name:\n%s", out)
			}
		})
	}
}

func TestLoadDirAndResolve(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	good := "schema_version: 13\ndescription: good one\nphases: [{name: p}]\n"
	write("movies.yaml", good)
	write("tv.yml", good)
	write("movies.yml", good)
	write("broken.yaml", "schema_version: 13\nphases: [{name: p, keep_audio: {minimum: 0, languages: [eng]}}]\n")
	write("notes.txt", "not a policy")
	if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}

	es, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		s := e.Name + "=" + filepath.Base(e.Path)
		if e.Err != nil {
			s += " ERR " + strings.ReplaceAll(e.Err.Error(), dir+string(os.PathSeparator), "")
		} else if e.Policy.Description != "good one" {
			s += " wrong policy"
		}
		got = append(got, s)
	}
	want := []string{
		"broken=broken.yaml ERR broken.yaml:2:42: phases[0].keep_audio.minimum: must be >= 1",
		"movies=movies.yaml",
		`movies=movies.yml ERR movies.yml: policy "movies" is also defined by movies.yaml`,
		"tv=tv.yml",
	}
	if !slices.Equal(got, want) {
		t.Errorf("LoadDir:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if _, err := LoadDir(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadDir(missing) error = %v, want fs.ErrNotExist", err)
	}

	for _, tt := range []struct{ arg, wantFile string }{
		{"movies", filepath.Join(dir, "movies.yaml")},
		{"tv", filepath.Join(dir, "tv.yml")},
		{"tv.yml", filepath.Join(dir, "tv.yml")},
		{filepath.Join(dir, "movies.yml"), filepath.Join(dir, "movies.yml")},
	} {
		p, err := Resolve(dir, tt.arg)
		if err != nil || p.File != tt.wantFile {
			t.Errorf("Resolve(%q) = %v, %v; want file %s", tt.arg, p, err, tt.wantFile)
		}
	}
	if _, err := Resolve(dir, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve(nope) error = %v, want ErrNotFound", err)
	}
	if _, err := Resolve(dir, "broken"); err == nil || !strings.HasSuffix(err.Error(), "phases[0].keep_audio.minimum: must be >= 1") {
		t.Errorf("Resolve(broken) error = %v", err)
	}
	if _, err := Resolve(dir, filepath.Join(dir, "gone.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Resolve(missing path) error = %v, want fs.ErrNotExist", err)
	}
}

func TestParseLimits(t *testing.T) {
	big := make([]byte, MaxFileSize+1)
	if _, err := Parse("big.yaml", big); err == nil || err.Error() != "big.yaml: file is larger than 1048576 bytes" {
		t.Errorf("big file error = %v", err)
	}
	// Nested aliases expand exponentially (10^11 conditions here); the
	// walk must stop at its node budget, not hang.
	var b strings.Builder
	b.WriteString("schema_version: 13\nc0: &c0 {exists: {track_type: audio}}\n")
	for i := 1; i <= 11; i++ {
		fmt.Fprintf(&b, "c%d: &c%d {and: [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*c%d", i-1)
		}
		b.WriteString("]}\n")
	}
	b.WriteString("phases: [{name: p, rules: {match: all, items: [{name: r, when: *c11, then: {warn: x}}]}}]\n")
	_, err := Parse("laughs.yaml", []byte(b.String()))
	var es Errors
	if !errors.As(err, &es) || !slices.ContainsFunc(es, func(e *Error) bool {
		return strings.HasPrefix(e.Msg, "document too large (more than 200000 nodes")
	}) {
		t.Errorf("alias bomb error = %v", err)
	}

	// A condition can contain itself through an alias.
	for _, tt := range []struct{ when, want string }{
		{"&a {not: *a}", "conditions nest more than 64 levels deep"},
		{"&a {and: [*a, *a]}", "document too large (more than 200000 nodes after expanding aliases)"},
	} {
		s := "schema_version: 13\nphases: [{name: p, rules: {match: all, items: [{name: r, then: {warn: x}, when: " + tt.when + "}]}}]\n"
		_, err := Parse("cycle.yaml", []byte(s))
		var es Errors
		if !errors.As(err, &es) || !slices.ContainsFunc(es, func(e *Error) bool { return e.Msg == tt.want }) {
			t.Errorf("when: %s: error = %.300v, want one saying %q", tt.when, err, tt.want)
		}
	}
}

// TestDocExamples keeps every YAML example of docs/policies.md valid: a
// full policy as it is, a phase or an operation inside a policy after a
// phase named first.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "policies.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```yaml\n")[1:]
	if len(blocks) < 10 {
		t.Fatalf("found %d YAML examples in docs/policies.md, want at least 10", len(blocks))
	}
	indent := func(s, by string) string {
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		for i := range lines {
			lines[i] = by + lines[i]
		}
		return strings.Join(lines, "\n") + "\n"
	}
	for i, b := range blocks {
		b, _, _ = strings.Cut(b, "```")
		var policy string
		switch {
		case strings.HasPrefix(b, "schema_version:"):
			policy = b
		case strings.HasPrefix(b, "- name:"):
			policy = "schema_version: 13\nphases:\n  - name: first\n" + indent(b, "  ")
		default:
			policy = "schema_version: 13\nphases:\n  - name: first\n  - name: example\n" + indent(b, "    ")
		}
		if _, err := Parse(fmt.Sprintf("example-%d.yaml", i+1), []byte(policy)); err != nil {
			t.Errorf("example %d of docs/policies.md is not valid: %v\n%s", i+1, err, b)
		}
	}
}

// Package policy reads vpo policy files: the V13 YAML format of the original
// Python vpo (github.com/randomparity/vpo), loaded strictly (unknown keys,
// wrong types and bad values are errors with file:line:column and key path)
// into a typed model with every default filled in.
//
// The model keeps presence where it changes meaning: an optional operation is
// a pointer (nil when the phase does not name it) and TrackOrder is nil when
// absent. vpo reorders tracks or changes default flags only in a phase that
// names track_order or default_flags.
//
// Keys the original knows and this vpo does not run yet (transcode,
// audio_synthesis, transcription, file_timestamp, plugin and container
// metadata, ...) are parsed and validated like the rest; Phase.Unsupported
// lists them so that a plan can report them instead of ignoring them.
package policy

import "regexp"

// SchemaVersion is the only policy schema version vpo reads.
const SchemaVersion = 13

// OnError says what happens to a file when a phase fails.
type OnError string

// The on_error values.
const (
	// OnErrorContinue logs the error and goes on with the next phase.
	OnErrorContinue OnError = "continue"
	// OnErrorSkip stops processing this file and goes on with the next file.
	OnErrorSkip OnError = "skip"
	// OnErrorFail stops the whole run.
	OnErrorFail OnError = "fail"
)

// Policy is one policy file, normalized: every default is filled in.
type Policy struct {
	// SchemaVersion is always 13.
	SchemaVersion int `yaml:"schema_version"`
	// Name is an optional display name (at most 200 characters, trimmed).
	Name string `yaml:"name,omitempty"`
	// Description is free text.
	Description string `yaml:"description,omitempty"`
	// Category groups policies in listings (e.g. organize, transcode).
	Category string `yaml:"category,omitempty"`
	// Config holds the policy-wide settings.
	Config Config `yaml:"config"`
	// Phases run in order; there is at least one.
	Phases []Phase `yaml:"phases"`

	// File is the name the policy was loaded under (a path or the name given
	// to Parse); it prefixes error positions.
	File string `yaml:"-"`
	// SHA256 is the hex sha256 of the policy file's bytes, for plan storage.
	SHA256 string `yaml:"-"`
}

// Config is the policy-wide `config:` block.
type Config struct {
	// AudioLanguages is the audio language preference order (ISO 639 codes of
	// 2 or 3 lower-case letters). Default [eng, und].
	AudioLanguages []string `yaml:"audio_languages"`
	// SubtitleLanguages is the subtitle language preference order.
	// Default [eng, und].
	SubtitleLanguages []string `yaml:"subtitle_languages"`
	// CommentaryPatterns are regular expressions searched case-insensitively
	// in track titles; a match marks the track as commentary.
	// Default [commentary, director, audio description].
	CommentaryPatterns []string `yaml:"commentary_patterns"`
	// OnError is the default for phases without their own on_error.
	// Default continue.
	OnError OnError `yaml:"on_error"`

	commentary []*regexp.Regexp
}

// Commentary returns CommentaryPatterns compiled case-insensitively, in the
// same order. Compiling happened at load, so this never fails.
func (c *Config) Commentary() []*regexp.Regexp { return c.commentary }

// Phase is one entry of `phases:`. Within a phase vpo applies the operations
// in a fixed order whatever their order in the file.
type Phase struct {
	// Name matches ^[a-zA-Z][a-zA-Z0-9_-]{0,63}$, is unique in the policy
	// ignoring case, and is not config, schema_version or phases.
	Name string `yaml:"name"`

	// AudioActions, SubtitleActions and VideoActions clean up flags and
	// titles of every track of that kind before filtering; nil when absent.
	AudioActions    *TrackActions `yaml:"audio_actions,omitempty"`
	SubtitleActions *TrackActions `yaml:"subtitle_actions,omitempty"`
	VideoActions    *TrackActions `yaml:"video_actions,omitempty"`

	// KeepAudio filters audio tracks by language; nil when absent.
	KeepAudio *KeepAudio `yaml:"keep_audio,omitempty"`
	// KeepSubtitles filters subtitle tracks; nil when absent.
	KeepSubtitles *KeepSubtitles `yaml:"keep_subtitles,omitempty"`
	// FilterAttachments removes attachments; nil when absent.
	FilterAttachments *FilterAttachments `yaml:"filter_attachments,omitempty"`

	// TrackOrder is the slot order tracks are sorted into; nil when the phase
	// does not name track_order (then the phase does not reorder). Never
	// empty when present.
	TrackOrder []Slot `yaml:"track_order,omitempty"`
	// DefaultFlags sets default/forced flags; nil when the phase does not
	// name default_flags (then the phase does not touch default flags).
	DefaultFlags *DefaultFlags `yaml:"default_flags,omitempty"`

	// Container converts the container; nil when absent.
	Container *Container `yaml:"container,omitempty"`
	// Rules are conditional rules; nil when absent.
	Rules *Rules `yaml:"rules,omitempty"`

	// SkipWhen skips the phase for files that match; nil when absent.
	SkipWhen *SkipWhen `yaml:"skip_when,omitempty"`
	// DependsOn names earlier phases that must have completed.
	DependsOn []string `yaml:"depends_on,omitempty"`
	// RunIf runs the phase only if an earlier phase modified (or completed
	// on) the file; nil when absent.
	RunIf *RunIf `yaml:"run_if,omitempty"`
	// OnError overrides Config.OnError for this phase; "" when absent.
	// Use EffectiveOnError.
	OnError OnError `yaml:"on_error,omitempty"`

	// Operations this vpo parses and validates but does not run yet.
	// Unsupported lists them.

	// Transcode is video/audio transcoding; nil when absent.
	Transcode *Transcode `yaml:"transcode,omitempty"`
	// AudioSynthesis creates new audio tracks; nil when absent.
	AudioSynthesis *AudioSynthesis `yaml:"audio_synthesis,omitempty"`
	// Transcription analyses audio by speech recognition; nil when absent.
	Transcription *Transcription `yaml:"transcription,omitempty"`
	// FileTimestamp sets the file's mtime after processing; nil when absent.
	FileTimestamp *FileTimestamp `yaml:"file_timestamp,omitempty"`
}

// EffectiveOnError returns the phase's on_error, or the policy's when the
// phase has none.
func (p *Phase) EffectiveOnError(c *Config) OnError {
	if p.OnError != "" {
		return p.OnError
	}
	return c.OnError
}

// TrackActions is audio_actions, subtitle_actions or video_actions: each true
// field clears that property on every track of the kind. Defaults false.
type TrackActions struct {
	ClearAllForced  bool `yaml:"clear_all_forced"`
	ClearAllDefault bool `yaml:"clear_all_default"`
	ClearAllTitles  bool `yaml:"clear_all_titles"`
}

// FallbackMode says what keep_audio does when no track matches its languages
// (or fewer than Minimum do).
type FallbackMode string

// The keep_audio.fallback.mode values.
const (
	// FallbackContentLanguage keeps the tracks in the language of the
	// content (see docs/policies.md for how vpo decides it).
	FallbackContentLanguage FallbackMode = "content_language"
	// FallbackKeepAll keeps every audio track.
	FallbackKeepAll FallbackMode = "keep_all"
	// FallbackKeepFirst keeps the first tracks until Minimum is met.
	FallbackKeepFirst FallbackMode = "keep_first"
	// FallbackError makes the phase fail.
	FallbackError FallbackMode = "error"
)

// Fallback is keep_audio.fallback.
type Fallback struct {
	// Mode is required.
	Mode FallbackMode `yaml:"mode"`
}

// KeepAudio is keep_audio: keep the audio tracks in Languages.
type KeepAudio struct {
	// Languages is required and not empty.
	Languages []string `yaml:"languages"`
	// Fallback applies when fewer than Minimum tracks are kept; nil when
	// absent (then too few kept tracks is an error of the phase).
	Fallback *Fallback `yaml:"fallback,omitempty"`
	// Minimum is the least number of audio tracks to keep; >= 1, default 1.
	Minimum int `yaml:"minimum"`
	// KeepMusicTracks keeps music tracks (default true);
	// ExcludeMusicFromLanguageFilter exempts them from the language test
	// (default true). The same pairs exist for sfx and non-speech tracks.
	KeepMusicTracks                    bool `yaml:"keep_music_tracks"`
	ExcludeMusicFromLanguageFilter     bool `yaml:"exclude_music_from_language_filter"`
	KeepSFXTracks                      bool `yaml:"keep_sfx_tracks"`
	ExcludeSFXFromLanguageFilter       bool `yaml:"exclude_sfx_from_language_filter"`
	KeepNonSpeechTracks                bool `yaml:"keep_non_speech_tracks"`
	ExcludeNonSpeechFromLanguageFilter bool `yaml:"exclude_non_speech_from_language_filter"`
}

// KeepSubtitles is keep_subtitles.
type KeepSubtitles struct {
	// Languages keeps subtitles in these languages; nil keeps every language.
	Languages []string `yaml:"languages,omitempty"`
	// PreserveForced keeps forced subtitles whatever their language.
	PreserveForced bool `yaml:"preserve_forced"`
	// RemoveAll removes every subtitle track.
	RemoveAll bool `yaml:"remove_all"`
}

// FilterAttachments is filter_attachments.
type FilterAttachments struct {
	// RemoveAll removes every attachment (fonts, covers).
	RemoveAll bool `yaml:"remove_all"`
}

// Slot is a track class used by track_order.
type Slot string

// The track_order slots.
const (
	SlotVideo              Slot = "video"
	SlotAudioMain          Slot = "audio_main"
	SlotAudioAlternate     Slot = "audio_alternate"
	SlotAudioCommentary    Slot = "audio_commentary"
	SlotAudioMusic         Slot = "audio_music"
	SlotAudioSFX           Slot = "audio_sfx"
	SlotAudioNonSpeech     Slot = "audio_non_speech"
	SlotSubtitleMain       Slot = "subtitle_main"
	SlotSubtitleForced     Slot = "subtitle_forced"
	SlotSubtitleCommentary Slot = "subtitle_commentary"
	SlotAttachment         Slot = "attachment"
)

// Slots lists every slot in the original's default order.
var Slots = []Slot{
	SlotVideo, SlotAudioMain, SlotAudioAlternate, SlotAudioCommentary,
	SlotAudioMusic, SlotAudioSFX, SlotAudioNonSpeech,
	SlotSubtitleMain, SlotSubtitleForced, SlotSubtitleCommentary, SlotAttachment,
}

// DefaultFlags is default_flags. The defaults below apply to keys left out of
// a default_flags block the phase names.
type DefaultFlags struct {
	// SetFirstVideoDefault marks the first video track default (default true).
	SetFirstVideoDefault bool `yaml:"set_first_video_default"`
	// SetPreferredAudioDefault marks the preferred audio track default
	// (default true).
	SetPreferredAudioDefault bool `yaml:"set_preferred_audio_default"`
	// SetPreferredSubtitleDefault marks the preferred subtitle default
	// (default false).
	SetPreferredSubtitleDefault bool `yaml:"set_preferred_subtitle_default"`
	// ClearOtherDefaults clears default on the other tracks of each kind
	// (default true).
	ClearOtherDefaults bool `yaml:"clear_other_defaults"`
	// SetSubtitleDefaultWhenAudioDiffers marks the preferred subtitle default
	// when the default audio is not in a preferred language (default false).
	SetSubtitleDefaultWhenAudioDiffers bool `yaml:"set_subtitle_default_when_audio_differs"`
	// SetSubtitleForcedWhenAudioDiffers does the same with the forced flag
	// (default false).
	SetSubtitleForcedWhenAudioDiffers bool `yaml:"set_subtitle_forced_when_audio_differs"`
	// PreferredAudioCodec lists codecs (lower-cased) that win within a
	// language; nil when absent. A single string in YAML becomes one entry.
	PreferredAudioCodec []string `yaml:"preferred_audio_codec,omitempty"`
}

// ContainerTarget is container.target.
type ContainerTarget string

// The container targets.
const (
	ContainerMKV ContainerTarget = "mkv"
	ContainerMP4 ContainerTarget = "mp4"
)

// IncompatibleCodec is container.on_incompatible_codec.
type IncompatibleCodec string

// The on_incompatible_codec values.
const (
	// IncompatibleError fails the phase (the default).
	IncompatibleError IncompatibleCodec = "error"
	// IncompatibleSkip leaves the file in its container.
	IncompatibleSkip IncompatibleCodec = "skip"
	// IncompatibleTranscode transcodes the tracks (not supported by this vpo).
	IncompatibleTranscode IncompatibleCodec = "transcode"
)

// Container is container.
type Container struct {
	// Target is required: mkv or mp4.
	Target ContainerTarget `yaml:"target"`
	// OnIncompatibleCodec: error (default), skip, or transcode (unsupported).
	OnIncompatibleCodec IncompatibleCodec `yaml:"on_incompatible_codec"`
	// CodecMappings maps a lower-cased source codec to its conversion
	// (only used with transcode; not supported by this vpo).
	CodecMappings map[string]CodecMapping `yaml:"codec_mappings,omitempty"`
	// PreserveMetadata keeps container-level tags (default true).
	PreserveMetadata bool `yaml:"preserve_metadata"`
}

// CodecMapping is one container.codec_mappings value.
type CodecMapping struct {
	// Codec is the lower-cased target codec, required.
	Codec string `yaml:"codec"`
	// Bitrate is like 256k or 1.5m, between 32k and 1536k; "" when absent.
	Bitrate string `yaml:"bitrate,omitempty"`
	// Action is transcode, convert or remove; "" when absent.
	Action string `yaml:"action,omitempty"`
}

// MatchMode is rules.match.
type MatchMode string

// The rules.match values.
const (
	// MatchFirst stops at the first rule whose condition holds.
	MatchFirst MatchMode = "first"
	// MatchAll evaluates every rule.
	MatchAll MatchMode = "all"
)

// Rules is a phase's rules block.
type Rules struct {
	// Match is required.
	Match MatchMode `yaml:"match"`
	// Items has at least one rule.
	Items []Rule `yaml:"items"`
}

// Rule is one conditional rule.
type Rule struct {
	// Name is required, trimmed and not empty.
	Name string `yaml:"name"`
	// When is the condition.
	When When `yaml:"when"`
	// Then runs when the condition holds; at least one action. A single
	// mapping in YAML becomes one entry.
	Then []Action `yaml:"then"`
	// Else runs when it does not; nil when absent.
	Else []Action `yaml:"else,omitempty"`
}

// When is a rule's condition: either a structured Condition or, in the
// original's newer form, an expression string (Expr), which this vpo does
// not evaluate (reported as unsupported).
type When struct {
	Condition *Condition
	Expr      string
}

// Condition is exactly one of its fields. And and Or have at least two
// members.
type Condition struct {
	Exists *TrackCondition `yaml:"exists,omitempty"`
	Count  *TrackCondition `yaml:"count,omitempty"`
	And    []Condition     `yaml:"and,omitempty"`
	Or     []Condition     `yaml:"or,omitempty"`
	Not    *Condition      `yaml:"not,omitempty"`

	// Not supported by this vpo (need analysis or plugin data).
	AudioIsMultiLanguage *AudioIsMultiLanguage `yaml:"audio_is_multi_language,omitempty"`
	PluginMetadata       *MetadataCondition    `yaml:"plugin_metadata,omitempty"`
	ContainerMetadata    *MetadataCondition    `yaml:"container_metadata,omitempty"`
	IsOriginal           *OriginalCondition    `yaml:"is_original,omitempty"`
	IsDubbed             *OriginalCondition    `yaml:"is_dubbed,omitempty"`
}

// TrackKind is a track type named in conditions and actions.
type TrackKind string

// The track kinds.
const (
	KindVideo      TrackKind = "video"
	KindAudio      TrackKind = "audio"
	KindSubtitle   TrackKind = "subtitle"
	KindAttachment TrackKind = "attachment"
)

// TrackCondition is the body of exists or count: a track filter, plus for
// count exactly one comparison of the number of matching tracks.
type TrackCondition struct {
	// TrackType is required: video, audio, subtitle or attachment.
	TrackType   TrackKind `yaml:"track_type"`
	TrackFilter `yaml:",inline"`
	// Compare is the count comparison (count only; nil for exists). In YAML
	// its operator is a key of the same mapping: {track_type: audio, gte: 2}.
	Compare *Comparison `yaml:"-"`
}

// TrackFilter selects tracks; every set field must match.
type TrackFilter struct {
	// Language matches any of these codes (a single string in YAML becomes
	// one entry); nil when absent.
	Language []string `yaml:"language,omitempty"`
	// Codec matches any of these codec names; nil when absent.
	Codec []string `yaml:"codec,omitempty"`
	// IsDefault and IsForced match the flags; nil when absent.
	IsDefault *bool `yaml:"is_default,omitempty"`
	IsForced  *bool `yaml:"is_forced,omitempty"`
	// Channels, Width and Height compare numbers; a plain integer in YAML
	// means eq. Nil when absent.
	Channels *Comparison `yaml:"channels,omitempty"`
	Width    *Comparison `yaml:"width,omitempty"`
	Height   *Comparison `yaml:"height,omitempty"`
	// Title matches the track title; nil when absent.
	Title *TitleMatch `yaml:"title,omitempty"`
	// NotCommentary, when true, excludes commentary tracks; nil when absent.
	NotCommentary *bool `yaml:"not_commentary,omitempty"`
}

// CompareOp is a comparison operator.
type CompareOp string

// The comparison operators.
const (
	OpEq  CompareOp = "eq"
	OpLt  CompareOp = "lt"
	OpLte CompareOp = "lte"
	OpGt  CompareOp = "gt"
	OpGte CompareOp = "gte"
)

// Comparison is exactly one operator and its operand, e.g. {gte: 2160}.
type Comparison struct {
	Op    CompareOp
	Value int
}

// Holds reports whether n satisfies the comparison.
func (c Comparison) Holds(n int) bool {
	switch c.Op {
	case OpEq:
		return n == c.Value
	case OpLt:
		return n < c.Value
	case OpLte:
		return n <= c.Value
	case OpGt:
		return n > c.Value
	case OpGte:
		return n >= c.Value
	}
	return false
}

// TitleMatch matches a title by substring (Contains, case-insensitive) or by
// regular expression (Regex); exactly one is set. A plain string in YAML
// means contains.
type TitleMatch struct {
	Contains string `yaml:"contains,omitempty"`
	Regex    string `yaml:"regex,omitempty"`

	re *regexp.Regexp
}

// Regexp returns Regex compiled at load, or nil for a contains match.
func (t *TitleMatch) Regexp() *regexp.Regexp { return t.re }

// AudioIsMultiLanguage is the audio_is_multi_language condition (not
// supported by this vpo: it needs language analysis).
type AudioIsMultiLanguage struct {
	TrackIndex      *int    `yaml:"track_index,omitempty"`
	Threshold       float64 `yaml:"threshold"`
	PrimaryLanguage string  `yaml:"primary_language,omitempty"`
}

// MetadataCondition is plugin_metadata or container_metadata (not supported
// by this vpo). Plugin is empty for container_metadata.
type MetadataCondition struct {
	Plugin   string `yaml:"plugin,omitempty"`
	Field    string `yaml:"field"`
	Value    any    `yaml:"value"`
	Operator string `yaml:"operator"`
}

// OriginalCondition is is_original or is_dubbed (not supported by this
// vpo). A plain boolean in YAML sets Value.
type OriginalCondition struct {
	Value         bool    `yaml:"value"`
	MinConfidence float64 `yaml:"min_confidence"`
	Language      string  `yaml:"language,omitempty"`
}

// Action is one entry of a rule's then or else: at least one field set.
type Action struct {
	// SkipTrackFilter, when true, skips this phase's keep_* filters.
	SkipTrackFilter *bool `yaml:"skip_track_filter,omitempty"`
	// Warn adds a warning with this text to the plan.
	Warn string `yaml:"warn,omitempty"`
	// Fail fails the phase with this text.
	Fail string `yaml:"fail,omitempty"`
	// SetForced sets the forced flag on matching subtitle tracks.
	SetForced *SetFlag `yaml:"set_forced,omitempty"`
	// SetDefault sets the default flag on matching tracks.
	SetDefault *SetFlag `yaml:"set_default,omitempty"`
	// SetLanguage changes the language tag of matching tracks.
	SetLanguage *SetLanguage `yaml:"set_language,omitempty"`

	// Not supported by this vpo.
	SkipVideoTranscode   *bool                 `yaml:"skip_video_transcode,omitempty"`
	SkipAudioTranscode   *bool                 `yaml:"skip_audio_transcode,omitempty"`
	SetContainerMetadata *SetContainerMetadata `yaml:"set_container_metadata,omitempty"`
}

// SetFlag is set_default or set_forced.
type SetFlag struct {
	// TrackType is video, audio or subtitle (set_default, required) or
	// subtitle (set_forced, the default).
	TrackType TrackKind `yaml:"track_type"`
	// Language limits the action to tracks of this language; "" for all.
	Language string `yaml:"language,omitempty"`
	// Value is the flag's new value (default true).
	Value bool `yaml:"value"`
}

// SetLanguage is set_language: exactly one of NewLanguage and
// FromPluginMetadata (not supported by this vpo).
type SetLanguage struct {
	TrackType          TrackKind          `yaml:"track_type"`
	NewLanguage        string             `yaml:"new_language,omitempty"`
	FromPluginMetadata *PluginMetadataRef `yaml:"from_plugin_metadata,omitempty"`
	// MatchLanguage limits the action to tracks of this language.
	MatchLanguage string `yaml:"match_language,omitempty"`
}

// PluginMetadataRef names a plugin metadata value (lower-cased).
type PluginMetadataRef struct {
	Plugin string `yaml:"plugin"`
	Field  string `yaml:"field"`
}

// SetContainerMetadata is set_container_metadata (not supported by this
// vpo): exactly one of Value and FromPluginMetadata.
type SetContainerMetadata struct {
	Field              string             `yaml:"field"`
	Value              *string            `yaml:"value,omitempty"`
	FromPluginMetadata *PluginMetadataRef `yaml:"from_plugin_metadata,omitempty"`
}

// SkipMode is skip_when.mode.
type SkipMode string

// The skip_when modes.
const (
	// SkipAny skips when any condition matches.
	SkipAny SkipMode = "any"
	// SkipAll skips only when all conditions match.
	SkipAll SkipMode = "all"
)

// SkipWhen is skip_when: Mode (required) and at least one condition.
// Codec, container and language values are lower-cased; sizes and durations
// are kept as written and parsed into FileSize*/Duration* bytes and seconds.
type SkipWhen struct {
	Mode                   SkipMode `yaml:"mode"`
	VideoCodec             []string `yaml:"video_codec,omitempty"`
	AudioCodecExists       string   `yaml:"audio_codec_exists,omitempty"`
	SubtitleLanguageExists string   `yaml:"subtitle_language_exists,omitempty"`
	Container              []string `yaml:"container,omitempty"`
	// Resolution and ResolutionUnder are 480p, 720p, 1080p, 1440p, 2160p
	// or 4k.
	Resolution      string `yaml:"resolution,omitempty"`
	ResolutionUnder string `yaml:"resolution_under,omitempty"`
	// FileSizeUnder/Over are like 500MB, 5GB; DurationUnder/Over like 30m,
	// 1h30m.
	FileSizeUnder string `yaml:"file_size_under,omitempty"`
	FileSizeOver  string `yaml:"file_size_over,omitempty"`
	DurationUnder string `yaml:"duration_under,omitempty"`
	DurationOver  string `yaml:"duration_over,omitempty"`

	// Parsed forms; zero when the matching string is empty.
	FileSizeUnderBytes int64   `yaml:"-"`
	FileSizeOverBytes  int64   `yaml:"-"`
	DurationUnderSec   float64 `yaml:"-"`
	DurationOverSec    float64 `yaml:"-"`
}

// RunIf is run_if: exactly one of its fields, naming an earlier phase.
type RunIf struct {
	PhaseModified string `yaml:"phase_modified,omitempty"`
	// PhaseCompleted is accepted like the original; vpo treats it as
	// unsupported.
	PhaseCompleted string `yaml:"phase_completed,omitempty"`
}

// Transcode is the transcode operation (not supported by this vpo).
type Transcode struct {
	Video *VideoTranscode `yaml:"video,omitempty"`
	Audio *AudioTranscode `yaml:"audio,omitempty"`
}

// VideoTranscode is transcode.video.
type VideoTranscode struct {
	To             string         `yaml:"to"`
	SkipIf         *TranscodeSkip `yaml:"skip_if,omitempty"`
	CRF            *int           `yaml:"crf,omitempty"`
	Preset         string         `yaml:"preset"`
	Tune           string         `yaml:"tune,omitempty"`
	TargetBitrate  string         `yaml:"target_bitrate,omitempty"`
	MinBitrate     string         `yaml:"min_bitrate,omitempty"`
	MaxBitrate     string         `yaml:"max_bitrate,omitempty"`
	TwoPass        bool           `yaml:"two_pass"`
	MaxResolution  string         `yaml:"max_resolution,omitempty"`
	MaxWidth       *int           `yaml:"max_width,omitempty"`
	MaxHeight      *int           `yaml:"max_height,omitempty"`
	ScaleAlgorithm string         `yaml:"scale_algorithm"`
	Upscale        bool           `yaml:"upscale"`
	HW             string         `yaml:"hw"`
	HWFallback     bool           `yaml:"hw_fallback"`
	FFmpegArgs     []string       `yaml:"ffmpeg_args,omitempty"`
}

// TranscodeSkip is transcode.video.skip_if.
type TranscodeSkip struct {
	CodecMatches     []string `yaml:"codec_matches,omitempty"`
	ResolutionWithin string   `yaml:"resolution_within,omitempty"`
	BitrateUnder     string   `yaml:"bitrate_under,omitempty"`
}

// AudioTranscode is transcode.audio.
type AudioTranscode struct {
	Preserve []string `yaml:"preserve"`
	To       string   `yaml:"to"`
	Bitrate  string   `yaml:"bitrate"`
}

// AudioSynthesis is audio_synthesis (not supported by this vpo).
type AudioSynthesis struct {
	// Tracks has at least one entry, with unique names.
	Tracks []SynthesisTrack `yaml:"tracks"`
}

// SynthesisTrack is one audio_synthesis.tracks entry.
type SynthesisTrack struct {
	Name  string `yaml:"name"`
	Codec string `yaml:"codec"`
	// Channels is mono, stereo, 5.1, 7.1 or a count 1-8.
	Channels     NameOrNumber     `yaml:"channels"`
	Source       SynthesisSource  `yaml:"source"`
	Bitrate      string           `yaml:"bitrate,omitempty"`
	CreateIf     *When            `yaml:"create_if,omitempty"`
	SkipIfExists *SynthesisExists `yaml:"skip_if_exists,omitempty"`
	Title        string           `yaml:"title"`
	Language     string           `yaml:"language"`
	// Position is after_source, end or a 1-based index.
	Position NameOrNumber `yaml:"position"`
}

// SynthesisSource is audio_synthesis.tracks[].source.
type SynthesisSource struct {
	Prefer []SynthesisPreference `yaml:"prefer"`
}

// SynthesisPreference is one source.prefer criterion; at least one field.
// Channels is max, min or a count, as written.
type SynthesisPreference struct {
	Language      []string     `yaml:"language,omitempty"`
	NotCommentary *bool        `yaml:"not_commentary,omitempty"`
	Channels      NameOrNumber `yaml:"channels,omitempty"`
	Codec         []string     `yaml:"codec,omitempty"`
}

// NameOrNumber is a value written either as a word (stereo, max, end) or as
// an integer; integers are kept in decimal (e.g. "6").
type NameOrNumber string

// SynthesisExists is skip_if_exists.
type SynthesisExists struct {
	Codec         []string    `yaml:"codec,omitempty"`
	Channels      *Comparison `yaml:"channels,omitempty"`
	Language      []string    `yaml:"language,omitempty"`
	NotCommentary *bool       `yaml:"not_commentary,omitempty"`
}

// Transcription is transcription (not supported by this vpo).
type Transcription struct {
	Enabled                         bool    `yaml:"enabled"`
	UpdateLanguageFromTranscription bool    `yaml:"update_language_from_transcription"`
	UpdateTitleFromClassification   bool    `yaml:"update_title_from_classification"`
	ConfidenceThreshold             float64 `yaml:"confidence_threshold"`
	DetectCommentary                bool    `yaml:"detect_commentary"`
	ReorderCommentary               bool    `yaml:"reorder_commentary"`
}

// FileTimestamp is file_timestamp (not supported by this vpo).
type FileTimestamp struct {
	// Mode is preserve (default), release_date or now.
	Mode string `yaml:"mode"`
	// Fallback is preserve (default), now or skip.
	Fallback string `yaml:"fallback"`
	// DateSource is auto (default), radarr or sonarr.
	DateSource string `yaml:"date_source"`
}

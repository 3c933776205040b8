package policy

import (
	"regexp"
	"sync"
	"sync/atomic"
)

// reasonCache holds one removal reason per language ("keep_audio: language fra
// not in languages"), so that a dry run over many files builds each reason once,
// not once per removed track. It is safe for concurrent use, as an Evaluator is.
type reasonCache struct {
	m sync.Map // language -> reason
	n atomic.Int32
}

// maxCachedReasons bounds a reasonCache: language codes are few, but a file's
// tag is any text.
const maxCachedReasons = 512

// get returns prefix + lang + suffix, built once per lang.
func (c *reasonCache) get(prefix, lang, suffix string) string {
	if v, ok := c.m.Load(lang); ok {
		return v.(string)
	}
	r := prefix + lang + suffix
	if c.n.Load() < maxCachedReasons {
		if _, loaded := c.m.LoadOrStore(lang, r); !loaded {
			c.n.Add(1)
		}
	}
	return r
}

// The evaluator works on these compiled forms of a policy. They mirror the
// V13 schema one to one; compileSpec (evaluate_compile.go) builds them from
// the loader's model, with every default filled in, so that the evaluation
// itself never looks a default up.

type evalPolicy struct {
	name       string
	classifier *Classifier
	audioPrefs []string // normalized config.audio_languages
	subPrefs   []string // normalized config.subtitle_languages
	onError    string   // continue | skip | fail
	phases     []evalPhase
}

type evalPhase struct {
	name              string
	audioActions      *trackActions
	subtitleActions   *trackActions
	videoActions      *trackActions
	keepAudio         *keepAudioSpec
	keepSubtitles     *keepSubtitlesSpec
	filterAttachments *filterAttachmentsSpec
	trackOrder        []Class // nil when the phase does not name track_order
	defaultFlags      *defaultFlagsSpec
	container         *containerSpec
	rules             *rulesSpec
	skipWhen          *skipWhenSpec
	dependsOn         []string
	runIfModified     string
	onError           string   // "" means the policy's
	unsupported       []string // operations this vpo does not run
}

type trackActions struct {
	clearAllForced, clearAllDefault, clearAllTitles bool
}

// Fallback modes of keep_audio.
const (
	fallbackError           = "error"
	fallbackKeepAll         = "keep_all"
	fallbackKeepFirst       = "keep_first"
	fallbackContentLanguage = "content_language"
)

type keepAudioSpec struct {
	languages []string // normalized
	// notKept is the removal reason of a language not in languages.
	notKept  reasonCache
	minimum  int
	fallback string // one of the fallback modes; "" is error
	// V10 music / sfx / non-speech handling (defaults all true).
	keepMusic, musicExempt         bool
	keepSFX, sfxExempt             bool
	keepNonSpeech, nonSpeechExempt bool
}

type keepSubtitlesSpec struct {
	languages      []string    // normalized; nil keeps every language
	notKept        reasonCache // the removal reason of a language not in languages
	preserveForced bool
	removeAll      bool
}

type filterAttachmentsSpec struct {
	removeAll bool
}

type defaultFlagsSpec struct {
	setFirstVideoDefault       bool
	setPreferredAudioDefault   bool
	setPreferredSubtitleDef    bool
	clearOtherDefaults         bool
	subDefaultWhenAudioDiffers bool
	subForcedWhenAudioDiffers  bool
	preferredAudioCodec        []string
}

type containerSpec struct {
	target         string // mkv | mp4
	onIncompatible string // error | skip | transcode
}

type rulesSpec struct {
	matchAll bool
	items    []ruleSpec
}

type ruleSpec struct {
	name    string
	when    condSpec
	then    []actionSpec
	els     []actionSpec
	hasElse bool
}

// Condition kinds.
const (
	condExists = iota
	condCount
	condAnd
	condOr
	condNot
	condUnsupported
)

type condSpec struct {
	kind        int
	trackType   string
	filter      trackFilterSpec
	cmp         cmpSpec // for count
	subs        []condSpec
	unsupported string // what is not supported, for condUnsupported
}

type cmpSpec struct {
	op string // eq lt lte gt gte
	n  int
}

type trackFilterSpec struct {
	languages     []string // normalized; nil = any
	codecs        []string // nil = any
	isDefault     *bool
	isForced      *bool
	channels      *cmpSpec
	width         *cmpSpec
	height        *cmpSpec
	titleContains *string
	titleRegex    *regexp.Regexp
	notCommentary bool
}

// Rule action kinds.
const (
	actWarn = iota
	actFail
	actSetDefault
	actSetForced
	actSetLanguage
	actSkipTrackFilter
	actNoop
	actUnsupported
)

type actionSpec struct {
	kind          int
	message       string // warn, fail; what is unsupported
	trackType     string
	language      string // normalized filter; "" = any
	value         bool
	newLanguage   string // verbatim, for set_language
	matchLanguage string // normalized; "" = any
}

type skipWhenSpec struct {
	all                    bool
	videoCodec             []string
	audioCodecExists       string
	subtitleLanguageExists string
	container              []string
	resolution             string
	resolutionUnder        string
	fileSizeUnder          int64 // bytes; 0 = unset
	fileSizeOver           int64
	durationUnder          float64 // seconds; 0 = unset
	durationOver           float64
}

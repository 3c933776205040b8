package policy

import (
	"regexp"
	"sync"
	"sync/atomic"
)

// Class is a track's classification. The values are the slot names of
// track_order.
type Class string

// Track classes, in the default slot order.
const (
	ClassVideo              Class = "video"
	ClassAudioMain          Class = "audio_main"
	ClassAudioAlternate     Class = "audio_alternate"
	ClassAudioCommentary    Class = "audio_commentary"
	ClassAudioMusic         Class = "audio_music"
	ClassAudioSFX           Class = "audio_sfx"
	ClassAudioNonSpeech     Class = "audio_non_speech"
	ClassSubtitleMain       Class = "subtitle_main"
	ClassSubtitleForced     Class = "subtitle_forced"
	ClassSubtitleCommentary Class = "subtitle_commentary"
	ClassAttachment         Class = "attachment"
)

// DefaultCommentaryPatterns are config.commentary_patterns when a policy
// does not set them.
var DefaultCommentaryPatterns = []string{"commentary", "director", "audio description"}

// notCommentary matches the phrases in a title that say a track is NOT
// commentary although they contain a commentary word: "No commentary",
// "Commentary-free", "without commentary", "non-commentary", "Director's
// Cut". They are cut
// out of the title before the commentary patterns are tried, so "English
// (Director's Cut)" is main audio while "Director's Cut - Commentary" is
// still commentary. The original vpo takes all of these for commentary.
var notCommentary = regexp.MustCompile(`(?i)\b(?:(?:no|without|w/o|sans|free of|minus)\s+(?:the\s+)?commentar(?:y|ies)|non[\s-]?commentar(?:y|ies)|commentar(?:y|ies)[\s-]*free|director(?:'|’)?s\s*(?:cut|edition|version))\b`) //nolint:misspell // "commentar" is the stem of commentary|commentaries

// Music and effects keywords, as the original vpo's metadata detection has
// them, but matched as whole words: the original's substring match takes
// "Ghostbusters" for a soundtrack ("ost") and "Commentary with the cast" for
// nothing worse only by luck.
var (
	musicWords = regexp.MustCompile(`(?i)\b(?:music|score|soundtrack|m&e|ost|theme|instrumental|orchestra|songs only)\b`)
	sfxWords   = regexp.MustCompile(`(?i)\b(?:sfx|sound effects|effects only|ambient|foley|environmental|sounds only|atmosphere)\b`)
	// "effects" alone is an effects track only next to "sound" (not "visual
	// effects"), as in the original.
	effectsWord = regexp.MustCompile(`(?i)\beffects\b`)
	soundWord   = regexp.MustCompile(`(?i)\bsound`)
)

// Classifier classifies tracks for one policy configuration. It is safe for
// concurrent use.
type Classifier struct {
	commentary []*regexp.Regexp
	audioPrefs []string // normalized
	subPrefs   []string // normalized

	// titles caches what the title regexes say about a title: a library
	// repeats the same few titles ("", "Commentary", "SDH") over and over,
	// and matching them is most of an evaluation's cost. Bounded so that a
	// library of unique titles cannot grow it without limit.
	titles     sync.Map // string -> titleInfo
	titleCount atomic.Int64
}

// maxCachedTitles bounds Classifier.titles.
const maxCachedTitles = 1 << 14

// titleInfo is what a title says about its track.
type titleInfo struct {
	sfx, music, commentary bool
}

func (c *Classifier) title(title string) titleInfo {
	if title == "" {
		return titleInfo{}
	}
	if v, ok := c.titles.Load(title); ok {
		return v.(titleInfo)
	}
	ti := titleInfo{sfx: IsSFXTitle(title), music: IsMusicTitle(title), commentary: c.isCommentary(title)}
	if c.titleCount.Load() < maxCachedTitles {
		if _, loaded := c.titles.LoadOrStore(title, ti); !loaded {
			c.titleCount.Add(1)
		}
	}
	return ti
}

// NewClassifier compiles the commentary patterns (case-insensitive, Go RE2
// syntax; searched anywhere in the title) and normalizes the language
// preferences. A nil patterns slice means [DefaultCommentaryPatterns].
func NewClassifier(patterns, audioLanguages, subtitleLanguages []string) (*Classifier, error) {
	if patterns == nil {
		patterns = DefaultCommentaryPatterns
	}
	c := &Classifier{
		audioPrefs: normalizeLanguages(audioLanguages),
		subPrefs:   normalizeLanguages(subtitleLanguages),
	}
	for i, p := range patterns {
		re, err := regexp.Compile("(?i)" + p)
		if err != nil {
			return nil, &PatternError{Index: i, Pattern: p, Err: err}
		}
		c.commentary = append(c.commentary, re)
	}
	return c, nil
}

// PatternError is a commentary pattern that does not compile.
type PatternError struct {
	Index   int
	Pattern string
	Err     error
}

func (e *PatternError) Error() string {
	return "config.commentary_patterns[" + itoa(e.Index) + "]: invalid regular expression " + quote(e.Pattern) + ": " + e.Err.Error()
}

func (e *PatternError) Unwrap() error { return e.Err }

// IsCommentary reports whether a title marks a commentary track: a
// commentary pattern matches what is left of the title once the phrases
// that deny commentary ("No commentary", "Commentary-free", "Director's
// Cut") are cut out. An empty title is never commentary.
func (c *Classifier) IsCommentary(title string) bool {
	return c.title(title).commentary
}

func (c *Classifier) isCommentary(title string) bool {
	rest := title
	if notCommentary.MatchString(title) {
		rest = notCommentary.ReplaceAllString(title, " ")
	}
	for _, re := range c.commentary {
		if re.MatchString(rest) {
			return true
		}
	}
	return false
}

// IsMusicTitle reports whether a title marks a music track (score,
// soundtrack, M&E, ...), by whole words.
func IsMusicTitle(title string) bool {
	return title != "" && musicWords.MatchString(title)
}

// IsSFXTitle reports whether a title marks a sound-effects track, by whole
// words; "effects" alone counts only with "sound".
func IsSFXTitle(title string) bool {
	if title == "" {
		return false
	}
	if sfxWords.MatchString(title) {
		return true
	}
	return effectsWord.MatchString(title) && soundWord.MatchString(title)
}

// Classify returns a track's class:
//
//   - video is video; attachment and data tracks are attachment.
//   - audio, first match wins: sfx (title), music (title), commentary
//     (title, see [Classifier.IsCommentary]), non_speech (language zxx),
//     main (language in config.audio_languages), else alternate.
//   - subtitle: commentary (title), forced (the forced flag), else main.
func (c *Classifier) Classify(t Track) Class {
	switch t.Type {
	case TypeVideo:
		return ClassVideo
	case TypeAudio:
		ti := c.title(t.Title)
		switch {
		case ti.sfx:
			return ClassAudioSFX
		case ti.music:
			return ClassAudioMusic
		case ti.commentary:
			return ClassAudioCommentary
		}
		lang := NormalizeLanguage(t.Language)
		if lang == LangNoLinguisticContent {
			return ClassAudioNonSpeech
		}
		if languageRank(lang, c.audioPrefs) < len(c.audioPrefs) {
			return ClassAudioMain
		}
		return ClassAudioAlternate
	case TypeSubtitle:
		if c.title(t.Title).commentary {
			return ClassSubtitleCommentary
		}
		if t.Forced {
			return ClassSubtitleForced
		}
		return ClassSubtitleMain
	}
	return ClassAttachment
}

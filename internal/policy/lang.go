package policy

import "strings"

// Special ISO 639-2 codes. They are languages like any other for
// comparison (und matches only und), and vpo never rewrites a tag to them.
const (
	// LangUndetermined is "und": the language is not known. A track with no
	// language tag, or with a tag that is not a language code, is und.
	LangUndetermined = "und"
	// LangNoLinguisticContent is "zxx": the track has no language at all
	// (music, effects, a silent film's score). vpo classifies such audio as
	// non_speech, which the language filter does not remove by default.
	LangNoLinguisticContent = "zxx"
	// LangMiscellaneous is "mis": a language with no code of its own.
	LangMiscellaneous = "mis"
	// LangMultiple is "mul": several languages in one track.
	LangMultiple = "mul"
)

// NormalizeLanguage returns the canonical form of a language tag, the key
// under which equivalent tags compare equal: the ISO 639-2/B code.
//
//   - Case and surrounding space are ignored.
//   - An IETF BCP 47 tag (as Matroska's LanguageIETF holds, "en-US",
//     "pt_BR", "zh-Hans") is reduced to its primary subtag.
//   - ISO 639-1 ("de") and ISO 639-2/T ("deu") codes map to ISO 639-2/B
//     ("ger"); withdrawn codes still found in old files (iw, scc, ...) map to
//     their successors.
//   - An empty tag, a two-letter tag that is not ISO 639-1, and anything that
//     is not two or three ASCII letters is "und".
//   - Any other three-letter code is kept as is (lower case): ISO 639-2 and
//     639-3 have hundreds of codes with a single form, and those compare
//     verbatim.
func NormalizeLanguage(tag string) string {
	code := strings.TrimSpace(tag)
	if i := strings.IndexAny(code, "-_"); i >= 0 {
		code = code[:i]
	}
	if !isASCIILetters(code) {
		return LangUndetermined
	}
	code = asciiLower(code)
	switch len(code) {
	case 2:
		if b, ok := iso6391[code]; ok {
			return b
		}
		return LangUndetermined
	case 3:
		if b, ok := iso6392T[code]; ok {
			return b
		}
		return code
	}
	return LangUndetermined
}

// SameLanguage reports whether two language tags name the same language:
// "de", "ger", "deu" and "de-AT" are all the same; "" is the same as "und".
func SameLanguage(a, b string) bool {
	return NormalizeLanguage(a) == NormalizeLanguage(b)
}

// languageRank returns the position of lang in prefs by equivalence, or
// len(prefs) when it is not there. Both sides are already normalized.
func languageRank(lang string, prefs []string) int {
	for i, p := range prefs {
		if p == lang {
			return i
		}
	}
	return len(prefs)
}

// normalizeLanguages returns the normalized form of every tag in tags.
func normalizeLanguages(tags []string) []string {
	if tags == nil {
		return nil
	}
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = NormalizeLanguage(t)
	}
	return out
}

func isASCIILetters(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// asciiLower lower-cases an ASCII string without allocating when it is
// already lower case (the common case for language tags).
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

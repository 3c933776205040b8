package policy

import "testing"

func TestNormalizeLanguage(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty is und", "", "und"},
		{"space is und", "  ", "und"},
		{"639-1 german", "de", "ger"},
		{"639-2/T german", "deu", "ger"},
		{"639-2/B german", "ger", "ger"},
		{"upper case", "GER", "ger"},
		{"639-1 french", "fr", "fre"},
		{"639-2/T french", "fra", "fre"},
		{"639-2/T chinese", "zho", "chi"},
		{"english", "en", "eng"},
		{"same code in B and T", "jpn", "jpn"},
		{"ietf region", "en-US", "eng"},
		{"ietf script", "zh-Hans", "chi"},
		{"underscore locale", "pt_BR", "por"},
		{"withdrawn hebrew", "iw", "heb"},
		{"withdrawn serbian", "scc", "srp"},
		{"und stays", "und", "und"},
		{"zxx stays", "zxx", "zxx"},
		{"mis stays", "mis", "mis"},
		{"mul stays", "MUL", "mul"},
		{"unknown 639-2 kept", "haw", "haw"},
		{"639-3 kept", "yue", "yue"},
		{"unknown two letters", "xx", "und"},
		{"not letters", "???", "und"},
		{"too long", "english", "und"},
		{"digits", "e1g", "und"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NormalizeLanguage(tt.in); got != tt.want {
				t.Errorf("NormalizeLanguage(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSameLanguage(t *testing.T) {
	same := [][2]string{
		{"de", "ger"}, {"de", "deu"}, {"ger", "deu"}, {"fr", "fre"}, {"fra", "fre"},
		{"nl", "dut"}, {"nld", "dut"}, {"cs", "ces"}, {"", "und"}, {"eng", "EN"},
	}
	for _, p := range same {
		if !SameLanguage(p[0], p[1]) {
			t.Errorf("SameLanguage(%q, %q) = false, want true", p[0], p[1])
		}
	}
	differ := [][2]string{
		{"de", "fr"}, {"und", "zxx"}, {"und", "mul"}, {"mis", "und"}, {"nb", "no"}, {"eng", ""},
	}
	for _, p := range differ {
		if SameLanguage(p[0], p[1]) {
			t.Errorf("SameLanguage(%q, %q) = true, want false", p[0], p[1])
		}
	}
}

// TestLanguageTablesConsistent checks the hand-written tables: every 639-1
// code maps to a three-letter code, and every 639-2/T code maps to a B code
// that some 639-1 code also reaches (the B/T pairs are exactly the languages
// that have a 639-1 code and two 639-2 forms), except the withdrawn ones.
func TestLanguageTablesConsistent(t *testing.T) {
	if n := len(iso6391); n < 183 {
		t.Errorf("iso6391 has %d codes, want all 183 plus withdrawn ones", n)
	}
	bCodes := map[string]bool{}
	for one, b := range iso6391 {
		if len(one) != 2 || len(b) != 3 || !isASCIILetters(b) || asciiLower(b) != b {
			t.Errorf("iso6391[%q] = %q: malformed", one, b)
		}
		bCodes[b] = true
	}
	for tc, b := range iso6392T {
		if len(tc) != 3 || !bCodes[b] {
			t.Errorf("iso6392T[%q] = %q: not a B code reached by ISO 639-1", tc, b)
		}
		if tc == b {
			t.Errorf("iso6392T[%q] maps to itself", tc)
		}
	}
	if len(iso6392T) != 23 {
		t.Errorf("iso6392T has %d entries, want the 20 B/T pairs and 3 withdrawn codes", len(iso6392T))
	}
}

package policy_test

import (
	"errors"
	"fmt"

	"github.com/vpo-project/vpo/internal/policy"
)

// ExampleParse shows the one-line error of an invalid policy, and every
// problem listed from the Errors it wraps.
func ExampleParse() {
	_, err := policy.Parse("movies.yaml", []byte(`schema_version: 13
phases:
  - name: clean
    audio_filter: {languages: [eng]}
    keep_audio:
      languages: [English]
      minimum: 0
`))
	fmt.Println(err)
	var es policy.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			fmt.Printf("  line %d column %d at %s: %s\n", e.Line, e.Column, e.Path, e.Msg)
		}
	}
	// Output:
	// movies.yaml:4:5: phases[0].audio_filter: unknown key (V13 calls it keep_audio) (and 2 more)
	//   line 4 column 5 at phases[0].audio_filter: unknown key (V13 calls it keep_audio)
	//   line 6 column 19 at phases[0].keep_audio.languages[0]: "English" is not a language code (2 or 3 lower-case letters, ISO 639, e.g. eng, de)
	//   line 7 column 16 at phases[0].keep_audio.minimum: must be >= 1
}

// ExamplePolicy_EffectiveYAML prints a policy with its defaults filled in,
// as `vpo policy show` does.
func ExamplePolicy_EffectiveYAML() {
	p, err := policy.Parse("tv.yaml", []byte("schema_version: 13\nphases: [{name: flags, default_flags: {clear_other_defaults: false}}]\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := p.EffectiveYAML()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))
	// Output:
	// schema_version: 13
	// config:
	//   audio_languages:
	//     - eng
	//     - und
	//   subtitle_languages:
	//     - eng
	//     - und
	//   commentary_patterns:
	//     - commentary
	//     - director
	//     - audio description
	//   on_error: continue
	// phases:
	//   - name: flags
	//     default_flags:
	//       set_first_video_default: true
	//       set_preferred_audio_default: true
	//       set_preferred_subtitle_default: false
	//       clear_other_defaults: false
	//       set_subtitle_default_when_audio_differs: false
	//       set_subtitle_forced_when_audio_differs: false
}

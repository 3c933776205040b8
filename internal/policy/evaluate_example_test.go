package policy_test

import (
	"fmt"
	"os"

	"github.com/vpo-project/vpo/internal/policy"
)

func ExampleEvaluate() {
	p, err := policy.Parse("example.yaml", []byte(`schema_version: 13
phases:
  - name: tidy
    keep_audio: {languages: [eng, jpn]}
    track_order: [video, audio_main, audio_alternate, audio_commentary, subtitle_main]
    default_flags: {}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	f := policy.FileInfo{Path: "/library/Film.mkv", Container: "matroska,webm", Tracks: []policy.Track{
		{ID: 0, Type: "video", Codec: "h264", Default: true},
		{ID: 1, Type: "audio", Codec: "ac3", Language: "eng", Title: "Commentary", Default: true},
		{ID: 2, Type: "audio", Codec: "aac", Language: "fre"},
		{ID: 3, Type: "audio", Codec: "truehd", Language: "en"},
	}}
	plan := policy.Evaluate(p, f)
	_ = plan.WriteText(os.Stdout)
	// Output:
	// /library/Film.mkv: would change
	//   ID  TYPE   CODEC   LANG  TITLE       FLAGS    →  POS      LANG  TITLE  FLAGS
	//   0   video  h264    -     -           default  →  0        =     =      =
	//   1   audio  ac3     eng   Commentary  default  →  2*       =     =      -
	//   2   audio  aac     fre   -           -        →  removed
	//   3   audio  truehd  en    -           -        →  1*       =     =      default
	//   phase tidy: ran
	//     remove track 2: keep_audio: language fre not in languages
	//     order: 0, 3, 1
	//     track 3 default: false → true
	//     track 1 default: true → false
}

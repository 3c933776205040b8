package policy

import (
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	phaseNamePattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]{0,63}$`)
	metaFieldPattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]{0,63}$`)
	pluginPattern    = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	fileSizePattern  = regexp.MustCompile(`(?i)^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB)$`)
	durationSimple   = regexp.MustCompile(`(?i)^(\d+(?:\.\d+)?)\s*(s|m|h)$`)
	durationCompound = regexp.MustCompile(`(?i)^(\d+)h(?:(\d+)m)?$`)
	bitratePattern   = regexp.MustCompile(`^\d+(\.\d+)?[kKmM]?$`)
)

var reservedPhaseNames = []string{"config", "schema_version", "phases"}

var (
	onErrorValues   = []string{"continue", "skip", "fail"}
	trackKinds      = []string{"video", "audio", "subtitle", "attachment"}
	flagKinds       = []string{"video", "audio", "subtitle"}
	resolutions     = []string{"480p", "720p", "1080p", "1440p", "2160p", "4k"}
	transcodeRes    = []string{"480p", "720p", "1080p", "1440p", "4k", "8k"}
	videoCodecs     = []string{"h264", "hevc", "vp9", "av1"}
	audioCodecs     = []string{"aac", "ac3", "eac3", "flac", "opus", "mp3", "truehd", "dts", "pcm_s16le", "pcm_s24le"}
	synthCodecs     = []string{"eac3", "aac", "ac3", "opus", "flac"}
	presets         = []string{"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"}
	tunes           = []string{"film", "animation", "grain", "stillimage", "fastdecode", "zerolatency"}
	metaOperators   = []string{"eq", "neq", "contains", "lt", "lte", "gt", "gte", "exists"}
	compareOps      = []string{"eq", "lt", "lte", "gt", "gte"}
	forbiddenFFmpeg = []string{";", "|", "&", "$(", "`", "${", ">", "<", "\\n", "\n"}
)

func (d *decoder) policy(root *yaml.Node) *Policy {
	p := &Policy{SchemaVersion: SchemaVersion, File: d.file}
	m := d.mapping(root, "")
	if m == nil {
		return p
	}
	if n, path := m.take("schema_version"); n == nil {
		m.required("schema_version")
	} else if v, ok := d.integer(n, path); ok && v != SchemaVersion {
		d.errAt(n, path, "must be 13 (this vpo reads V13 policies), not %d", v)
	}
	if n, path := m.take("name"); n != nil {
		if v, ok := d.str(n, path); ok {
			v = strings.TrimSpace(v)
			switch {
			case v == "":
				d.errAt(n, path, "must not be empty (leave the key out instead)")
			case len([]rune(v)) > 200:
				d.errAt(n, path, "must be at most 200 characters")
			}
			p.Name = v
		}
	}
	p.Description = m.str("description", "")
	p.Category = m.str("category", "")
	n, _ := m.take("config")
	p.Config = d.config(n, "config")
	if n, path := m.take("phases"); n == nil {
		m.required("phases")
	} else if items, ok := d.sequence(n, path); ok {
		if len(items) == 0 {
			d.errAt(n, path, "must have at least one phase")
		}
		for i, it := range items {
			p.Phases = append(p.Phases, d.phase(it, index(path, i)))
		}
		d.crossCheckPhases(p, items, path)
	}
	m.done()
	return p
}

func (d *decoder) config(n *yaml.Node, path string) Config {
	c := Config{
		AudioLanguages:     []string{"eng", "und"},
		SubtitleLanguages:  []string{"eng", "und"},
		CommentaryPatterns: []string{"commentary", "director", "audio description"},
		OnError:            OnErrorContinue,
	}
	if n != nil {
		m := d.mapping(n, path)
		if m == nil {
			return c
		}
		if m.has("audio_languages") {
			c.AudioLanguages = m.languages("audio_languages", false)
		}
		if m.has("subtitle_languages") {
			c.SubtitleLanguages = m.languages("subtitle_languages", false)
		}
		if v, vn := m.strList("commentary_patterns", false); vn != nil {
			c.CommentaryPatterns = v
			c.commentary = nil
			items, _ := d.sequence(vn, join(path, "commentary_patterns"))
			for i, pat := range v {
				if i < len(items) {
					if re := d.compileRegexp(items[i], index(join(path, "commentary_patterns"), i), pat); re != nil {
						c.commentary = append(c.commentary, re)
					}
				}
			}
		}
		c.OnError = OnError(m.enum("on_error", string(OnErrorContinue), onErrorValues...))
		m.done()
	}
	if c.commentary == nil {
		for _, pat := range c.CommentaryPatterns {
			if re, err := regexp.Compile("(?i)" + pat); err == nil {
				c.commentary = append(c.commentary, re)
			}
		}
	}
	return c
}

func (d *decoder) phase(n *yaml.Node, path string) Phase {
	var ph Phase
	m := d.mapping(n, path)
	if m == nil {
		return ph
	}
	if vn, vp := m.take("name"); vn == nil {
		m.required("name")
	} else if v, ok := d.str(vn, vp); ok {
		ph.Name = v
		switch {
		case !phaseNamePattern.MatchString(v):
			d.errAt(vn, vp, "%q is not a phase name (a letter, then up to 63 letters, digits, _ or -)", v)
		case containsFold(reservedPhaseNames, v):
			d.errAt(vn, vp, "%q is reserved (config, schema_version and phases cannot name a phase)", v)
		}
	}
	ph.AudioActions = d.trackActions(m, "audio_actions")
	ph.SubtitleActions = d.trackActions(m, "subtitle_actions")
	ph.VideoActions = d.trackActions(m, "video_actions")
	if vn, vp := m.take("keep_audio"); vn != nil {
		ph.KeepAudio = d.keepAudio(vn, vp)
	}
	if vn, vp := m.take("keep_subtitles"); vn != nil {
		if sm := d.mapping(vn, vp); sm != nil {
			ph.KeepSubtitles = &KeepSubtitles{
				Languages:      sm.languages("languages", false),
				PreserveForced: sm.boolean("preserve_forced", false),
				RemoveAll:      sm.boolean("remove_all", false),
			}
			sm.done()
		}
	}
	if vn, vp := m.take("filter_attachments"); vn != nil {
		if am := d.mapping(vn, vp); am != nil {
			ph.FilterAttachments = &FilterAttachments{RemoveAll: am.boolean("remove_all", false)}
			am.done()
		}
	}
	if vn, vp := m.take("track_order"); vn != nil {
		ph.TrackOrder = d.trackOrder(vn, vp)
	}
	if vn, vp := m.take("default_flags"); vn != nil {
		ph.DefaultFlags = d.defaultFlags(vn, vp)
	}
	if vn, vp := m.take("container"); vn != nil {
		ph.Container = d.container(vn, vp)
	}
	if vn, vp := m.take("rules"); vn != nil {
		ph.Rules = d.rules(vn, vp)
	}
	if vn, vp := m.take("skip_when"); vn != nil {
		ph.SkipWhen = d.skipWhen(vn, vp)
	}
	if v, vn := m.strList("depends_on", false); vn != nil {
		ph.DependsOn = v
	}
	if vn, vp := m.take("run_if"); vn != nil {
		if rm := d.mapping(vn, vp); rm != nil {
			ph.RunIf = &RunIf{PhaseModified: rm.str("phase_modified", ""), PhaseCompleted: rm.str("phase_completed", "")}
			if (ph.RunIf.PhaseModified != "") == (ph.RunIf.PhaseCompleted != "") {
				d.errAt(vn, vp, "must name exactly one of phase_modified and phase_completed")
			}
			rm.done()
		}
	}
	ph.OnError = OnError(m.enum("on_error", "", onErrorValues...))
	if vn, vp := m.take("transcode"); vn != nil {
		ph.Transcode = d.transcode(vn, vp)
	}
	if vn, vp := m.take("audio_synthesis"); vn != nil {
		ph.AudioSynthesis = d.audioSynthesis(vn, vp)
	}
	if vn, vp := m.take("transcription"); vn != nil {
		ph.Transcription = d.transcription(vn, vp)
	}
	if vn, vp := m.take("file_timestamp"); vn != nil {
		if fm := d.mapping(vn, vp); fm != nil {
			ph.FileTimestamp = &FileTimestamp{
				Mode:       fm.enum("mode", "preserve", "preserve", "release_date", "now"),
				Fallback:   fm.enum("fallback", "preserve", "preserve", "now", "skip"),
				DateSource: fm.enum("date_source", "auto", "auto", "radarr", "sonarr"),
			}
			fm.done()
		}
	}
	m.done()
	return ph
}

func containsFold(list []string, v string) bool {
	for _, s := range list {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

// crossCheckPhases checks what spans phases: unique names (ignoring case)
// and depends_on / run_if naming an existing earlier phase. References to
// earlier phases only also rule out cycles.
func (d *decoder) crossCheckPhases(p *Policy, items []*yaml.Node, path string) {
	seen := map[string]int{}
	for i, ph := range p.Phases {
		if ph.Name == "" {
			continue
		}
		key := strings.ToLower(ph.Name)
		if j, dup := seen[key]; dup {
			d.errAt(phaseKeyNode(items[i], "name"), join(index(path, i), "name"),
				"%q is already the name of phases[%d] (names are unique ignoring case)", ph.Name, j)
			continue
		}
		seen[key] = i
	}
	exact := map[string]int{}
	for i, ph := range p.Phases {
		if _, dup := exact[ph.Name]; !dup {
			exact[ph.Name] = i
		}
	}
	// References match names exactly, as in the original.
	check := func(i int, ref string, n *yaml.Node, p string) {
		j, ok := exact[ref]
		switch {
		case !ok:
			d.errAt(n, p, "no phase is named %q", ref)
		case j >= i:
			d.errAt(n, p, "%q is not an earlier phase (a phase can only refer to phases before it)", ref)
		}
	}
	for i, ph := range p.Phases {
		if dn := phaseKeyNode(items[i], "depends_on"); dn != nil && dn.Kind == yaml.SequenceNode {
			for k, dep := range ph.DependsOn {
				if k < len(dn.Content) {
					check(i, dep, dn.Content[k], index(join(index(path, i), "depends_on"), k))
				}
			}
		}
		if ph.RunIf != nil {
			rn := phaseKeyNode(items[i], "run_if")
			for _, key := range []string{"phase_modified", "phase_completed"} {
				ref := ph.RunIf.PhaseModified
				if key == "phase_completed" {
					ref = ph.RunIf.PhaseCompleted
				}
				if ref != "" {
					check(i, ref, phaseKeyNode(rn, key), join(join(index(path, i), "run_if"), key))
				}
			}
		}
	}
}

// phaseKeyNode finds the value of key in mapping n without decoding it.
func phaseKeyNode(n *yaml.Node, key string) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			for v.Kind == yaml.AliasNode && v.Alias != nil {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}

func (d *decoder) trackActions(m *mapping, key string) *TrackActions {
	n, p := m.take(key)
	if n == nil {
		return nil
	}
	am := d.mapping(n, p)
	if am == nil {
		return nil
	}
	a := &TrackActions{
		ClearAllForced:  am.boolean("clear_all_forced", false),
		ClearAllDefault: am.boolean("clear_all_default", false),
		ClearAllTitles:  am.boolean("clear_all_titles", false),
	}
	am.done()
	return a
}

func (d *decoder) keepAudio(n *yaml.Node, path string) *KeepAudio {
	m := d.mapping(n, path)
	if m == nil {
		return nil
	}
	k := &KeepAudio{Minimum: 1}
	if ln, lp := m.take("languages"); ln == nil {
		m.required("languages")
	} else {
		k.Languages = d.languages(ln, lp, false)
		if ln.Kind == yaml.SequenceNode && len(ln.Content) == 0 {
			d.errAt(ln, lp, "must list at least one language")
		}
	}
	if fn, fp := m.take("fallback"); fn != nil {
		if fm := d.mapping(fn, fp); fm != nil {
			if !fm.has("mode") {
				fm.required("mode")
			}
			k.Fallback = &Fallback{Mode: FallbackMode(fm.enum("mode", "", "content_language", "keep_all", "keep_first", "error"))}
			fm.done()
		}
	}
	if mn, mp := m.take("minimum"); mn != nil {
		if v, ok := d.integer(mn, mp); ok {
			if v < 1 {
				d.errAt(mn, mp, "must be >= 1")
			} else {
				k.Minimum = v
			}
		}
	}
	k.KeepMusicTracks = m.boolean("keep_music_tracks", true)
	k.ExcludeMusicFromLanguageFilter = m.boolean("exclude_music_from_language_filter", true)
	k.KeepSFXTracks = m.boolean("keep_sfx_tracks", true)
	k.ExcludeSFXFromLanguageFilter = m.boolean("exclude_sfx_from_language_filter", true)
	k.KeepNonSpeechTracks = m.boolean("keep_non_speech_tracks", true)
	k.ExcludeNonSpeechFromLanguageFilter = m.boolean("exclude_non_speech_from_language_filter", true)
	m.done()
	return k
}

func (d *decoder) trackOrder(n *yaml.Node, path string) []Slot {
	items, ok := d.sequence(n, path)
	if !ok {
		return nil
	}
	out := []Slot{}
	if len(items) == 0 {
		d.errAt(n, path, "must list at least one slot (leave track_order out to keep the order)")
	}
	names := make([]string, len(Slots))
	for i, s := range Slots {
		names[i] = string(s)
	}
	for i, it := range items {
		v, ok := d.str(it, index(path, i))
		if !ok {
			continue
		}
		if !containsFold(names, v) || strings.ToLower(v) != v {
			d.errAt(it, index(path, i), "%q is not a slot (one of %s)", v, strings.Join(names, ", "))
			continue
		}
		out = append(out, Slot(v))
	}
	return out
}

func (d *decoder) defaultFlags(n *yaml.Node, path string) *DefaultFlags {
	m := d.mapping(n, path)
	if m == nil {
		return nil
	}
	f := &DefaultFlags{
		SetFirstVideoDefault:               m.boolean("set_first_video_default", true),
		SetPreferredAudioDefault:           m.boolean("set_preferred_audio_default", true),
		SetPreferredSubtitleDefault:        m.boolean("set_preferred_subtitle_default", false),
		ClearOtherDefaults:                 m.boolean("clear_other_defaults", true),
		SetSubtitleDefaultWhenAudioDiffers: m.boolean("set_subtitle_default_when_audio_differs", false),
		SetSubtitleForcedWhenAudioDiffers:  m.boolean("set_subtitle_forced_when_audio_differs", false),
	}
	if v, vn := m.strList("preferred_audio_codec", true); vn != nil {
		f.PreferredAudioCodec = lowerAll(v)
	}
	m.done()
	return f
}

func (d *decoder) container(n *yaml.Node, path string) *Container {
	m := d.mapping(n, path)
	if m == nil {
		return nil
	}
	if !m.has("target") {
		m.required("target")
	}
	c := &Container{
		Target:              ContainerTarget(m.enum("target", "", "mkv", "mp4")),
		OnIncompatibleCodec: IncompatibleCodec(m.enum("on_incompatible_codec", "error", "error", "skip", "transcode")),
		PreserveMetadata:    true,
	}
	if cn, cp := m.take("codec_mappings"); cn != nil {
		if cm := d.mapping(cn, cp); cm != nil {
			c.CodecMappings = map[string]CodecMapping{}
			for _, k := range cm.keys {
				vn, vp := cm.take(k.Value)
				if vn == nil {
					d.errAt(k, vp, "must be a mapping, not null")
					continue
				}
				if mm := d.mapping(vn, vp); mm != nil {
					cmv := CodecMapping{
						Codec:  strings.ToLower(strings.TrimSpace(mm.str("codec", ""))),
						Action: mm.enum("action", "", "transcode", "convert", "remove"),
					}
					if !mm.has("codec") {
						mm.required("codec")
					} else if cmv.Codec == "" {
						d.errAt(vn, join(vp, "codec"), "must not be empty")
					}
					if bn, bp := mm.take("bitrate"); bn != nil {
						if b, ok := d.str(bn, bp); ok {
							cmv.Bitrate = strings.ToLower(strings.TrimSpace(b))
							if msg := checkAudioBitrate(cmv.Bitrate); msg != "" {
								d.errAt(bn, bp, "%s", msg)
							}
						}
					}
					mm.done()
					c.CodecMappings[strings.ToLower(k.Value)] = cmv
				}
			}
		}
	}
	c.PreserveMetadata = m.boolean("preserve_metadata", true)
	m.done()
	return c
}

// checkAudioBitrate validates a codec_mappings bitrate: a number with a k or
// m suffix, between 32k and 1536k.
func checkAudioBitrate(v string) string {
	if v == "" {
		return ""
	}
	var kbps float64
	switch {
	case strings.HasSuffix(v, "k"):
		n, err := strconv.Atoi(v[:len(v)-1])
		if err != nil {
			return "must be an integer followed by k (e.g. 256k)"
		}
		kbps = float64(n)
	case strings.HasSuffix(v, "m"):
		n, err := strconv.ParseFloat(v[:len(v)-1], 64)
		if err != nil {
			return "must be a number followed by m (e.g. 1.5m)"
		}
		kbps = n * 1000
	default:
		return "must end in k or m (e.g. 256k); a bare number would mean bits per second"
	}
	if kbps < 32 || kbps > 1536 {
		return "must be between 32k and 1536k"
	}
	return ""
}

func (d *decoder) rules(n *yaml.Node, path string) *Rules {
	m := d.mapping(n, path)
	if m == nil {
		return nil
	}
	if !m.has("match") {
		m.required("match")
	}
	r := &Rules{Match: MatchMode(m.enum("match", "", "first", "all"))}
	if in, ip := m.take("items"); in == nil {
		m.required("items")
	} else if items, ok := d.sequence(in, ip); ok {
		if len(items) == 0 {
			d.errAt(in, ip, "must have at least one rule")
		}
		for i, it := range items {
			r.Items = append(r.Items, d.rule(it, index(ip, i)))
		}
	}
	m.done()
	return r
}

func (d *decoder) rule(n *yaml.Node, path string) Rule {
	var r Rule
	m := d.mapping(n, path)
	if m == nil {
		return r
	}
	if nn, np := m.take("name"); nn == nil {
		m.required("name")
	} else if v, ok := d.str(nn, np); ok {
		r.Name = strings.TrimSpace(v)
		if r.Name == "" {
			d.errAt(nn, np, "must not be empty")
		}
	}
	if wn, wp := m.take("when"); wn == nil {
		m.required("when")
	} else {
		r.When = d.when(wn, wp)
	}
	if tn, tp := m.take("then"); tn == nil {
		m.required("then")
	} else {
		r.Then = d.actions(tn, tp)
	}
	if en, ep := m.take("else"); en != nil {
		r.Else = d.actions(en, ep)
	}
	m.done()
	return r
}

func (d *decoder) when(n *yaml.Node, path string) When {
	if n.Kind == yaml.ScalarNode {
		v, ok := d.str(n, path)
		if ok && strings.TrimSpace(v) == "" {
			d.errAt(n, path, "must not be empty")
		}
		return When{Expr: v}
	}
	return When{Condition: d.condition(n, path)}
}

var conditionKeys = []string{"exists", "count", "and", "or", "not",
	"audio_is_multi_language", "plugin_metadata", "container_metadata", "is_original", "is_dubbed"}

// maxConditionDepth bounds how deeply and/or/not may nest. A condition can
// contain itself through an alias (&a {not: *a}); the bound stops that too.
const maxConditionDepth = 64

func (d *decoder) condition(n *yaml.Node, path string) *Condition {
	c := &Condition{}
	if d.depth >= maxConditionDepth {
		d.errAt(n, path, "conditions nest more than %d levels deep", maxConditionDepth)
		return c
	}
	d.depth++
	defer func() { d.depth-- }()
	m := d.mapping(n, path)
	if m == nil {
		return c
	}
	var set []string
	for _, k := range conditionKeys {
		if m.has(k) {
			set = append(set, k)
		}
	}
	if len(set) != 1 {
		if len(set) == 0 {
			d.errAt(n, path, "must be exactly one condition (%s)", strings.Join(conditionKeys, ", "))
		} else {
			d.errAt(n, path, "must be exactly one condition, not %s", strings.Join(set, " and "))
		}
	}
	if vn, vp := m.take("exists"); vn != nil {
		c.Exists = d.trackCondition(vn, vp, false)
	}
	if vn, vp := m.take("count"); vn != nil {
		c.Count = d.trackCondition(vn, vp, true)
	}
	for _, k := range []string{"and", "or"} {
		vn, vp := m.take(k)
		if vn == nil {
			continue
		}
		items, ok := d.sequence(vn, vp)
		if !ok {
			continue
		}
		if len(items) < 2 {
			d.errAt(vn, vp, "must have at least two conditions")
		}
		list := make([]Condition, 0, len(items))
		for i, it := range items {
			list = append(list, *d.condition(it, index(vp, i)))
		}
		if k == "and" {
			c.And = list
		} else {
			c.Or = list
		}
	}
	if vn, vp := m.take("not"); vn != nil {
		c.Not = d.condition(vn, vp)
	}
	if vn, vp := m.take("audio_is_multi_language"); vn != nil {
		if am := d.mapping(vn, vp); am != nil {
			a := &AudioIsMultiLanguage{TrackIndex: am.optInt("track_index"), Threshold: 0.05, PrimaryLanguage: am.language("primary_language")}
			a.Threshold = d.unitFloat(am, "threshold", 0.05)
			am.done()
			c.AudioIsMultiLanguage = a
		}
	}
	if vn, vp := m.take("plugin_metadata"); vn != nil {
		c.PluginMetadata = d.metadataCondition(vn, vp, true)
	}
	if vn, vp := m.take("container_metadata"); vn != nil {
		c.ContainerMetadata = d.metadataCondition(vn, vp, false)
	}
	if vn, vp := m.take("is_original"); vn != nil {
		c.IsOriginal = d.originalCondition(vn, vp)
	}
	if vn, vp := m.take("is_dubbed"); vn != nil {
		c.IsDubbed = d.originalCondition(vn, vp)
	}
	m.done()
	return c
}

// unitFloat reads a number between 0 and 1.
func (d *decoder) unitFloat(m *mapping, key string, def float64) float64 {
	n, p := m.take(key)
	if n == nil {
		return def
	}
	v, ok := d.number(n, p)
	if !ok {
		return def
	}
	if v < 0 || v > 1 {
		d.errAt(n, p, "must be between 0 and 1")
		return def
	}
	return v
}

func (d *decoder) trackCondition(n *yaml.Node, path string, count bool) *TrackCondition {
	m := d.mapping(n, path)
	if m == nil {
		return nil
	}
	tc := &TrackCondition{}
	if !m.has("track_type") {
		m.required("track_type")
	}
	tc.TrackType = TrackKind(m.enum("track_type", "", trackKinds...))
	tc.TrackFilter = d.trackFilter(m)
	if count {
		var set []string
		for _, op := range compareOps {
			if m.has(op) {
				set = append(set, op)
			}
		}
		switch len(set) {
		case 0:
			d.errAt(n, path, "must have one count comparison (eq, lt, lte, gt or gte)")
		case 1:
			if v := m.optInt(set[0]); v != nil {
				tc.Compare = &Comparison{Op: CompareOp(set[0]), Value: *v}
			}
		default:
			d.errAt(n, path, "must have one count comparison, not %s", strings.Join(set, " and "))
			for _, op := range set {
				m.take(op)
			}
		}
	}
	m.done()
	return tc
}

func (d *decoder) trackFilter(m *mapping) TrackFilter {
	f := TrackFilter{
		Language:      m.languages("language", true),
		IsDefault:     m.optBool("is_default"),
		IsForced:      m.optBool("is_forced"),
		NotCommentary: m.optBool("not_commentary"),
	}
	if v, vn := m.strList("codec", true); vn != nil {
		f.Codec = lowerAll(v)
	}
	f.Channels = d.comparisonKey(m, "channels")
	f.Width = d.comparisonKey(m, "width")
	f.Height = d.comparisonKey(m, "height")
	if tn, tp := m.take("title"); tn != nil {
		if tn.Kind == yaml.ScalarNode {
			if v, ok := d.str(tn, tp); ok {
				f.Title = &TitleMatch{Contains: v}
			}
		} else if tm := d.mapping(tn, tp); tm != nil {
			t := &TitleMatch{Contains: tm.str("contains", "")}
			if rn, rp := tm.take("regex"); rn != nil {
				if v, ok := d.str(rn, rp); ok {
					t.Regex = v
					t.re = d.compileRegexp(rn, rp, v)
				}
			}
			if tm.has("contains") == tm.has("regex") {
				d.errAt(tn, tp, "must have exactly one of contains and regex")
			}
			tm.done()
			f.Title = t
		}
	}
	return f
}

// comparisonKey reads an integer (meaning eq) or a one-operator mapping.
func (d *decoder) comparisonKey(m *mapping, key string) *Comparison {
	n, p := m.take(key)
	if n == nil {
		return nil
	}
	return d.comparison(n, p)
}

func (d *decoder) comparison(n *yaml.Node, p string) *Comparison {
	if n.Kind == yaml.ScalarNode {
		v, ok := d.integer(n, p)
		if !ok {
			return nil
		}
		return &Comparison{Op: OpEq, Value: v}
	}
	cm := d.mapping(n, p)
	if cm == nil {
		return nil
	}
	var out *Comparison
	var set []string
	for _, op := range compareOps {
		if cm.has(op) {
			set = append(set, op)
		}
		if v := cm.optInt(op); v != nil && out == nil {
			out = &Comparison{Op: CompareOp(op), Value: *v}
		}
	}
	if len(set) != 1 {
		d.errAt(n, p, "must have exactly one of eq, lt, lte, gt, gte")
		out = nil
	}
	cm.done()
	return out
}

func (d *decoder) metadataCondition(n *yaml.Node, path string, plugin bool) *MetadataCondition {
	m := d.mapping(n, path)
	if m == nil {
		return nil
	}
	mc := &MetadataCondition{}
	if plugin {
		if pn, pp := m.take("plugin"); pn == nil {
			m.required("plugin")
		} else if v, ok := d.str(pn, pp); ok {
			mc.Plugin = strings.ToLower(strings.TrimSpace(v))
			if !pluginPattern.MatchString(mc.Plugin) {
				d.errAt(pn, pp, "%q is not a plugin name (a letter, then letters, digits or -)", v)
			}
		}
	}
	mc.Field = d.metaField(m)
	mc.Operator = m.enum("operator", "eq", metaOperators...)
	if vn, vp := m.take("value"); vn != nil {
		if vn.Kind != yaml.ScalarNode {
			d.errAt(vn, vp, "must be a string, number or boolean, not %s", kindName(vn))
		} else {
			switch vn.Tag {
			case "!!int":
				if v, ok := d.integer(vn, vp); ok {
					mc.Value = v
				}
			case "!!float":
				if v, ok := d.number(vn, vp); ok {
					mc.Value = v
				}
			case "!!bool":
				if v, ok := d.boolean(vn, vp); ok {
					mc.Value = v
				}
			default:
				mc.Value = vn.Value
			}
		}
	}
	if mc.Operator != "exists" {
		switch mc.Value.(type) {
		case nil:
			d.errAt(n, join(path, "value"), "is required with operator %s (use operator: exists to test presence)", mc.Operator)
		case string, bool:
			if mc.Operator == "lt" || mc.Operator == "lte" || mc.Operator == "gt" || mc.Operator == "gte" {
				d.errAt(n, join(path, "value"), "must be a number with operator %s", mc.Operator)
			}
		}
	}
	m.done()
	return mc
}

// metaField reads a required metadata field name, lower-cased.
func (d *decoder) metaField(m *mapping) string {
	fn, fp := m.take("field")
	if fn == nil {
		m.required("field")
		return ""
	}
	v, ok := d.str(fn, fp)
	if !ok {
		return ""
	}
	v = strings.TrimSpace(v)
	if !metaFieldPattern.MatchString(v) {
		d.errAt(fn, fp, "%q is not a field name (a letter, then up to 63 letters, digits or _)", v)
	}
	return strings.ToLower(v)
}

func (d *decoder) originalCondition(n *yaml.Node, path string) *OriginalCondition {
	oc := &OriginalCondition{Value: true, MinConfidence: 0.7}
	if n.Kind == yaml.ScalarNode {
		if v, ok := d.boolean(n, path); ok {
			oc.Value = v
		}
		return oc
	}
	m := d.mapping(n, path)
	if m == nil {
		return nil
	}
	oc.Value = m.boolean("value", true)
	oc.MinConfidence = d.unitFloat(m, "min_confidence", 0.7)
	oc.Language = m.language("language")
	m.done()
	return oc
}

var actionKeys = []string{"skip_video_transcode", "skip_audio_transcode", "skip_track_filter",
	"warn", "fail", "set_forced", "set_default", "set_language", "set_container_metadata"}

// actions reads then/else: one action mapping or a list of them.
func (d *decoder) actions(n *yaml.Node, path string) []Action {
	if n.Kind == yaml.MappingNode {
		return []Action{d.action(n, path)}
	}
	items, ok := d.sequence(n, path)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.errAt(n, path, "must have at least one action")
	}
	out := make([]Action, 0, len(items))
	for i, it := range items {
		out = append(out, d.action(it, index(path, i)))
	}
	return out
}

func (d *decoder) action(n *yaml.Node, path string) Action {
	var a Action
	m := d.mapping(n, path)
	if m == nil {
		return a
	}
	found := false
	for _, k := range actionKeys {
		found = found || m.has(k)
	}
	if !found {
		d.errAt(n, path, "must have at least one action (%s)", strings.Join(actionKeys, ", "))
	}
	a.SkipVideoTranscode = m.optBool("skip_video_transcode")
	a.SkipAudioTranscode = m.optBool("skip_audio_transcode")
	a.SkipTrackFilter = m.optBool("skip_track_filter")
	a.Warn = m.str("warn", "")
	a.Fail = m.str("fail", "")
	if vn, vp := m.take("set_forced"); vn != nil {
		if sm := d.mapping(vn, vp); sm != nil {
			a.SetForced = &SetFlag{
				TrackType: TrackKind(sm.enum("track_type", "subtitle", "subtitle")),
				Language:  sm.language("language"),
				Value:     sm.boolean("value", true),
			}
			sm.done()
		}
	}
	if vn, vp := m.take("set_default"); vn != nil {
		if sm := d.mapping(vn, vp); sm != nil {
			if !sm.has("track_type") {
				sm.required("track_type")
			}
			a.SetDefault = &SetFlag{
				TrackType: TrackKind(sm.enum("track_type", "", flagKinds...)),
				Language:  sm.language("language"),
				Value:     sm.boolean("value", true),
			}
			sm.done()
		}
	}
	if vn, vp := m.take("set_language"); vn != nil {
		if sm := d.mapping(vn, vp); sm != nil {
			if !sm.has("track_type") {
				sm.required("track_type")
			}
			sl := &SetLanguage{
				TrackType:     TrackKind(sm.enum("track_type", "", flagKinds...)),
				NewLanguage:   sm.language("new_language"),
				MatchLanguage: sm.language("match_language"),
			}
			if pn, pp := sm.take("from_plugin_metadata"); pn != nil {
				sl.FromPluginMetadata = d.pluginRef(pn, pp)
			}
			if sm.has("new_language") == sm.has("from_plugin_metadata") {
				d.errAt(vn, vp, "must have exactly one of new_language and from_plugin_metadata")
			}
			sm.done()
			a.SetLanguage = sl
		}
	}
	if vn, vp := m.take("set_container_metadata"); vn != nil {
		if sm := d.mapping(vn, vp); sm != nil {
			sc := &SetContainerMetadata{Field: d.metaField(sm)}
			if sn, sp := sm.take("value"); sn != nil {
				if v, ok := d.str(sn, sp); ok {
					sc.Value = &v
				}
			}
			if pn, pp := sm.take("from_plugin_metadata"); pn != nil {
				sc.FromPluginMetadata = d.pluginRef(pn, pp)
			}
			if sm.has("value") == sm.has("from_plugin_metadata") {
				d.errAt(vn, vp, "must have exactly one of value and from_plugin_metadata")
			}
			sm.done()
			a.SetContainerMetadata = sc
		}
	}
	m.done()
	return a
}

func (d *decoder) pluginRef(n *yaml.Node, path string) *PluginMetadataRef {
	m := d.mapping(n, path)
	if m == nil {
		return nil
	}
	r := &PluginMetadataRef{}
	for _, k := range []string{"plugin", "field"} {
		kn, kp := m.take(k)
		if kn == nil {
			m.required(k)
			continue
		}
		v, ok := d.str(kn, kp)
		if !ok {
			continue
		}
		v = strings.ToLower(strings.TrimSpace(v))
		if v == "" {
			d.errAt(kn, kp, "must not be empty")
		}
		if k == "plugin" {
			r.Plugin = v
		} else {
			r.Field = v
		}
	}
	m.done()
	return r
}

func (d *decoder) skipWhen(n *yaml.Node, path string) *SkipWhen {
	m := d.mapping(n, path)
	if m == nil {
		return nil
	}
	if !m.has("mode") {
		m.required("mode")
	}
	s := &SkipWhen{Mode: SkipMode(m.enum("mode", "", "any", "all"))}
	if v, vn := m.strList("video_codec", false); vn != nil {
		s.VideoCodec = lowerAll(v)
	}
	s.AudioCodecExists = strings.ToLower(m.str("audio_codec_exists", ""))
	s.SubtitleLanguageExists = strings.ToLower(m.str("subtitle_language_exists", ""))
	if v, vn := m.strList("container", false); vn != nil {
		s.Container = lowerAll(v)
	}
	s.Resolution = m.lowerEnum("resolution", resolutions)
	s.ResolutionUnder = m.lowerEnum("resolution_under", resolutions)
	sizeKey := func(key string) (string, int64) {
		kn, kp := m.take(key)
		if kn == nil {
			return "", 0
		}
		v, ok := d.str(kn, kp)
		if !ok {
			return "", 0
		}
		b, ok := parseFileSize(v)
		if !ok {
			d.errAt(kn, kp, "%q is not a file size (e.g. 500MB, 5GB, 1.5TB)", v)
		}
		return v, b
	}
	durKey := func(key string) (string, float64) {
		kn, kp := m.take(key)
		if kn == nil {
			return "", 0
		}
		v, ok := d.str(kn, kp)
		if !ok {
			return "", 0
		}
		sec, ok := parseDuration(v)
		if !ok {
			d.errAt(kn, kp, "%q is not a duration (e.g. 90s, 30m, 2h, 1h30m)", v)
		}
		return v, sec
	}
	s.FileSizeUnder, s.FileSizeUnderBytes = sizeKey("file_size_under")
	s.FileSizeOver, s.FileSizeOverBytes = sizeKey("file_size_over")
	s.DurationUnder, s.DurationUnderSec = durKey("duration_under")
	s.DurationOver, s.DurationOverSec = durKey("duration_over")
	if s.VideoCodec == nil && s.AudioCodecExists == "" && s.SubtitleLanguageExists == "" &&
		s.Container == nil && s.Resolution == "" && s.ResolutionUnder == "" &&
		s.FileSizeUnder == "" && s.FileSizeOver == "" && s.DurationUnder == "" && s.DurationOver == "" {
		d.errAt(n, path, "must have at least one condition besides mode")
	}
	m.done()
	return s
}

// lowerEnum reads a case-insensitive enum and lower-cases it.
func (m *mapping) lowerEnum(key string, allowed []string) string {
	n, p := m.take(key)
	if n == nil {
		return ""
	}
	v, ok := m.d.str(n, p)
	if !ok {
		return ""
	}
	lv := strings.ToLower(v)
	if !containsFold(allowed, lv) {
		m.d.errAt(n, p, "must be one of %s, not %q", strings.Join(allowed, ", "), v)
		return ""
	}
	return lv
}

func parseFileSize(v string) (int64, bool) {
	g := fileSizePattern.FindStringSubmatch(strings.TrimSpace(v))
	if g == nil {
		return 0, false
	}
	num, err := strconv.ParseFloat(g[1], 64)
	if err != nil {
		return 0, false
	}
	mult := map[string]float64{"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[strings.ToUpper(g[2])]
	return int64(num * mult), true
}

func parseDuration(v string) (float64, bool) {
	v = strings.TrimSpace(v)
	if g := durationSimple.FindStringSubmatch(v); g != nil {
		num, err := strconv.ParseFloat(g[1], 64)
		if err != nil {
			return 0, false
		}
		return num * map[string]float64{"s": 1, "m": 60, "h": 3600}[strings.ToLower(g[2])], true
	}
	if g := durationCompound.FindStringSubmatch(v); g != nil {
		h, err1 := strconv.Atoi(g[1])
		mins := 0
		var err2 error
		if g[2] != "" {
			mins, err2 = strconv.Atoi(g[2])
		}
		if err1 != nil || err2 != nil {
			return 0, false
		}
		return float64(h*3600 + mins*60), true
	}
	return 0, false
}

// parseBitrate accepts 10M, 5000k or a bare number of bits per second.
func parseBitrate(v string) bool {
	v = strings.TrimSpace(v)
	if v == "" {
		return false
	}
	num := v
	if last := strings.ToLower(v[len(v)-1:]); last == "m" || last == "k" {
		num = v[:len(v)-1]
		_, err := strconv.ParseFloat(num, 64)
		return err == nil
	}
	_, err := strconv.Atoi(num)
	return err == nil
}

func (d *decoder) bitrateKey(m *mapping, key, def string) string {
	n, p := m.take(key)
	if n == nil {
		return def
	}
	v, ok := d.str(n, p)
	if ok && !parseBitrate(v) {
		d.errAt(n, p, "%q is not a bitrate (a number followed by M or k, e.g. 5M, 2500k)", v)
	}
	return v
}

func (d *decoder) transcode(n *yaml.Node, path string) *Transcode {
	m := d.mapping(n, path)
	if m == nil {
		return nil
	}
	t := &Transcode{}
	if vn, vp := m.take("video"); vn != nil {
		t.Video = d.videoTranscode(vn, vp)
	}
	if an, ap := m.take("audio"); an != nil {
		if am := d.mapping(an, ap); am != nil {
			at := &AudioTranscode{Preserve: []string{"truehd", "dts-hd", "flac", "pcm_s24le"}}
			if v, vn := am.strList("preserve", false); vn != nil {
				at.Preserve = v
			}
			at.To = am.lowerEnum("to", audioCodecs)
			if at.To == "" {
				at.To = "aac"
			}
			at.Bitrate = d.bitrateKey(am, "bitrate", "192k")
			am.done()
			t.Audio = at
		}
	}
	m.done()
	return t
}

func (d *decoder) videoTranscode(n *yaml.Node, path string) *VideoTranscode {
	m := d.mapping(n, path)
	if m == nil {
		return nil
	}
	if !m.has("to") {
		m.required("to")
	}
	v := &VideoTranscode{To: m.lowerEnum("to", videoCodecs)}
	if sn, sp := m.take("skip_if"); sn != nil {
		if sm := d.mapping(sn, sp); sm != nil {
			s := &TranscodeSkip{}
			if l, ln := sm.strList("codec_matches", false); ln != nil {
				s.CodecMatches = l
			}
			s.ResolutionWithin = sm.lowerEnum("resolution_within", transcodeRes)
			s.BitrateUnder = d.bitrateKey(sm, "bitrate_under", "")
			sm.done()
			v.SkipIf = s
		}
	}
	if cn, cp := m.take("crf"); cn != nil {
		if c, ok := d.integer(cn, cp); ok {
			if c < 0 || c > 51 {
				d.errAt(cn, cp, "must be between 0 and 51")
			}
			v.CRF = &c
		}
	}
	v.Preset = m.enum("preset", "medium", presets...)
	v.Tune = m.enum("tune", "", tunes...)
	v.TargetBitrate = d.bitrateKey(m, "target_bitrate", "")
	v.MinBitrate = d.bitrateKey(m, "min_bitrate", "")
	v.MaxBitrate = d.bitrateKey(m, "max_bitrate", "")
	v.TwoPass = m.boolean("two_pass", false)
	v.MaxResolution = m.lowerEnum("max_resolution", transcodeRes)
	for _, k := range []string{"max_width", "max_height"} {
		kn, kp := m.take(k)
		if kn == nil {
			continue
		}
		x, ok := d.integer(kn, kp)
		if !ok {
			continue
		}
		if x < 1 {
			d.errAt(kn, kp, "must be >= 1")
		}
		if k == "max_width" {
			v.MaxWidth = &x
		} else {
			v.MaxHeight = &x
		}
	}
	v.ScaleAlgorithm = m.enum("scale_algorithm", "lanczos", "lanczos", "bicubic", "bilinear")
	v.Upscale = m.boolean("upscale", false)
	v.HW = m.enum("hw", "auto", "auto", "nvenc", "qsv", "vaapi", "none")
	v.HWFallback = m.boolean("hw_fallback", true)
	if an, ap := m.take("ffmpeg_args"); an != nil {
		v.FFmpegArgs = d.strList(an, ap, false)
		if len(v.FFmpegArgs) > 50 {
			d.errAt(an, ap, "must have at most 50 arguments")
		}
		for i, arg := range v.FFmpegArgs {
			if len(arg) > 1024 {
				d.errAt(an, index(ap, i), "must be at most 1024 characters")
			}
			for _, bad := range forbiddenFFmpeg {
				if strings.Contains(arg, bad) {
					d.errAt(an, index(ap, i), "must not contain the shell metacharacter %q", bad)
					break
				}
			}
		}
	}
	if v.CRF != nil && v.TargetBitrate != "" {
		d.errAt(n, path, "cannot have both crf and target_bitrate")
	}
	m.done()
	return v
}

func (d *decoder) audioSynthesis(n *yaml.Node, path string) *AudioSynthesis {
	m := d.mapping(n, path)
	if m == nil {
		return nil
	}
	s := &AudioSynthesis{}
	tn, tp := m.take("tracks")
	if tn == nil {
		m.required("tracks")
	} else if items, ok := d.sequence(tn, tp); ok {
		if len(items) == 0 {
			d.errAt(tn, tp, "must have at least one track")
		}
		names := map[string]bool{}
		for i, it := range items {
			t := d.synthesisTrack(it, index(tp, i))
			if t.Name != "" && names[t.Name] {
				d.errAt(it, join(index(tp, i), "name"), "%q is already the name of another track", t.Name)
			}
			names[t.Name] = true
			s.Tracks = append(s.Tracks, t)
		}
	}
	m.done()
	return s
}

func (d *decoder) synthesisTrack(n *yaml.Node, path string) SynthesisTrack {
	t := SynthesisTrack{Title: "inherit", Language: "inherit", Position: "end"}
	m := d.mapping(n, path)
	if m == nil {
		return t
	}
	for _, k := range []string{"name", "codec", "channels", "source"} {
		if !m.has(k) {
			m.required(k)
		}
	}
	if nn, np := m.take("name"); nn != nil {
		if v, ok := d.str(nn, np); ok {
			t.Name = strings.TrimSpace(v)
			if t.Name == "" || strings.ContainsAny(t.Name, `/\`) || strings.Contains(t.Name, "..") {
				d.errAt(nn, np, "must be non-empty without /, \\ or ..")
			}
		}
	}
	t.Codec = m.lowerEnum("codec", synthCodecs)
	if cn, cp := m.take("channels"); cn != nil {
		if cn.Tag == "!!int" {
			if c, ok := d.integer(cn, cp); ok {
				if c < 1 || c > 8 {
					d.errAt(cn, cp, "must be between 1 and 8")
				}
				t.Channels = NameOrNumber(strconv.Itoa(c))
			}
		} else if v, ok := d.str(cn, cp); ok {
			t.Channels = NameOrNumber(strings.ToLower(v))
			if !containsFold([]string{"mono", "stereo", "5.1", "7.1"}, v) {
				d.errAt(cn, cp, "must be mono, stereo, 5.1, 7.1 or a count 1-8, not %q", v)
			}
		}
	}
	if sn, sp := m.take("source"); sn != nil {
		if sm := d.mapping(sn, sp); sm != nil {
			pn, pp := sm.take("prefer")
			if pn == nil {
				sm.required("prefer")
			} else if items, ok := d.sequence(pn, pp); ok {
				if len(items) == 0 {
					d.errAt(pn, pp, "must have at least one criterion")
				}
				for i, it := range items {
					t.Source.Prefer = append(t.Source.Prefer, d.synthesisPreference(it, index(pp, i)))
				}
			}
			sm.done()
		}
	}
	if bn, bp := m.take("bitrate"); bn != nil {
		if v, ok := d.str(bn, bp); ok {
			if !bitratePattern.MatchString(v) {
				d.errAt(bn, bp, "%q is not a bitrate (e.g. 640k, 1.5M)", v)
			}
			t.Bitrate = strings.ToLower(v)
		}
	}
	if cn, cp := m.take("create_if"); cn != nil {
		w := d.when(cn, cp)
		t.CreateIf = &w
	}
	if en, ep := m.take("skip_if_exists"); en != nil {
		if em := d.mapping(en, ep); em != nil {
			se := &SynthesisExists{Language: lowerAll(em.languagesLoose("language")), NotCommentary: em.optBool("not_commentary")}
			if v, vn := em.strList("codec", true); vn != nil {
				se.Codec = lowerAll(v)
			}
			se.Channels = d.comparisonKey(em, "channels")
			em.done()
			t.SkipIfExists = se
		}
	}
	t.Title = m.str("title", "inherit")
	if ln, lp := m.take("language"); ln != nil {
		if v, ok := d.str(ln, lp); ok {
			t.Language = v
			if v != "inherit" {
				t.Language = strings.ToLower(v)
				d.checkLang(ln, lp, t.Language)
			}
		}
	}
	if pn, pp := m.take("position"); pn != nil {
		if pn.Tag == "!!int" {
			if p, ok := d.integer(pn, pp); ok {
				if p < 1 {
					d.errAt(pn, pp, "must be >= 1")
				}
				t.Position = NameOrNumber(strconv.Itoa(p))
			}
		} else if v, ok := d.str(pn, pp); ok {
			if v != "after_source" && v != "end" {
				d.errAt(pn, pp, "must be after_source, end or a position >= 1, not %q", v)
			}
			t.Position = NameOrNumber(v)
		}
	}
	m.done()
	return t
}

func (d *decoder) synthesisPreference(n *yaml.Node, path string) SynthesisPreference {
	var p SynthesisPreference
	m := d.mapping(n, path)
	if m == nil {
		return p
	}
	p.Language = lowerAll(m.languagesLoose("language"))
	p.NotCommentary = m.optBool("not_commentary")
	if cn, cp := m.take("channels"); cn != nil {
		switch {
		case cn.Kind == yaml.MappingNode:
			if cm := d.mapping(cn, cp); cm != nil {
				mx, mn := cm.boolean("max", false), cm.boolean("min", false)
				if mx == mn {
					d.errAt(cn, cp, "must have exactly one of max: true and min: true")
				} else if mx {
					p.Channels = "max"
				} else {
					p.Channels = "min"
				}
				cm.done()
			}
		case cn.Tag == "!!int":
			if c, ok := d.integer(cn, cp); ok {
				p.Channels = NameOrNumber(strconv.Itoa(c))
			}
		default:
			if v, ok := d.str(cn, cp); ok {
				if v != "max" && v != "min" {
					d.errAt(cn, cp, "must be max, min or a count, not %q", v)
				}
				p.Channels = NameOrNumber(v)
			}
		}
	}
	if v, vn := m.strList("codec", true); vn != nil {
		p.Codec = lowerAll(v)
	}
	if p.Language == nil && p.NotCommentary == nil && p.Channels == "" && p.Codec == nil {
		d.errAt(n, path, "must have at least one of language, not_commentary, channels, codec")
	}
	m.done()
	return p
}

// languagesLoose reads one or more strings without the code check (the
// original lower-cases these and does not check them).
func (m *mapping) languagesLoose(key string) []string {
	v, _ := m.strList(key, true)
	return v
}

func (d *decoder) transcription(n *yaml.Node, path string) *Transcription {
	m := d.mapping(n, path)
	if m == nil {
		return nil
	}
	t := &Transcription{
		Enabled:                         m.boolean("enabled", false),
		UpdateLanguageFromTranscription: m.boolean("update_language_from_transcription", false),
		UpdateTitleFromClassification:   m.boolean("update_title_from_classification", false),
		ConfidenceThreshold:             d.unitFloat(m, "confidence_threshold", 0.8),
		DetectCommentary:                m.boolean("detect_commentary", false),
		ReorderCommentary:               m.boolean("reorder_commentary", false),
	}
	m.done()
	return t
}

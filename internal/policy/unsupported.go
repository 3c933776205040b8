package policy

import "fmt"

// Unsupported lists, as key paths relative to the phase (e.g. "transcode",
// "rules.items[0].when.plugin_metadata"), the keys of this phase that the
// format accepts and this vpo does not run yet. A plan for a file that would
// need them reports them as "not supported by this vpo". The list is empty
// for a phase vpo can run fully.
func (p *Phase) Unsupported() []string {
	var out []string
	if p.Transcode != nil {
		out = append(out, "transcode")
	}
	if p.AudioSynthesis != nil {
		out = append(out, "audio_synthesis")
	}
	if p.Transcription != nil {
		out = append(out, "transcription")
	}
	if p.FileTimestamp != nil {
		out = append(out, "file_timestamp")
	}
	if p.Container != nil {
		if p.Container.OnIncompatibleCodec == IncompatibleTranscode {
			out = append(out, "container.on_incompatible_codec: transcode")
		}
		if len(p.Container.CodecMappings) > 0 {
			out = append(out, "container.codec_mappings")
		}
	}
	if p.RunIf != nil && p.RunIf.PhaseCompleted != "" {
		out = append(out, "run_if.phase_completed")
	}
	if p.Rules != nil {
		for i, r := range p.Rules.Items {
			base := fmt.Sprintf("rules.items[%d]", i)
			out = r.When.unsupported(base+".when", out)
			out = actionsUnsupported(base+".then", r.Then, out)
			out = actionsUnsupported(base+".else", r.Else, out)
		}
	}
	return out
}

func (w *When) unsupported(path string, out []string) []string {
	if w.Condition == nil {
		return append(out, path+" (expression string)")
	}
	return w.Condition.unsupported(path, out)
}

func (c *Condition) unsupported(path string, out []string) []string {
	switch {
	case c.AudioIsMultiLanguage != nil:
		out = append(out, path+".audio_is_multi_language")
	case c.PluginMetadata != nil:
		out = append(out, path+".plugin_metadata")
	case c.ContainerMetadata != nil:
		out = append(out, path+".container_metadata")
	case c.IsOriginal != nil:
		out = append(out, path+".is_original")
	case c.IsDubbed != nil:
		out = append(out, path+".is_dubbed")
	case c.Not != nil:
		out = c.Not.unsupported(path+".not", out)
	}
	for i := range c.And {
		out = c.And[i].unsupported(fmt.Sprintf("%s.and[%d]", path, i), out)
	}
	for i := range c.Or {
		out = c.Or[i].unsupported(fmt.Sprintf("%s.or[%d]", path, i), out)
	}
	return out
}

func actionsUnsupported(path string, as []Action, out []string) []string {
	for i, a := range as {
		p := fmt.Sprintf("%s[%d]", path, i)
		if a.SkipVideoTranscode != nil {
			out = append(out, p+".skip_video_transcode")
		}
		if a.SkipAudioTranscode != nil {
			out = append(out, p+".skip_audio_transcode")
		}
		if a.SetContainerMetadata != nil {
			out = append(out, p+".set_container_metadata")
		}
		if a.SetLanguage != nil && a.SetLanguage.FromPluginMetadata != nil {
			out = append(out, p+".set_language.from_plugin_metadata")
		}
	}
	return out
}

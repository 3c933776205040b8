package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vpo-project/vpo/internal/probe"
	"github.com/vpo-project/vpo/internal/toolrun"
)

// details is one ffprobe run's view of a file: the catalogue's parse
// (probe.Parse) plus what apply needs beyond it.
type details struct {
	result *probe.Result
	// dispositions holds every disposition flag that is set, by stream ID.
	dispositions map[int][]string
	// durations holds each stream's duration in seconds, when known.
	durations map[int]float64
	// fileNames holds attachments' file names.
	fileNames map[int]string
}

type rawStreams struct {
	Streams []struct {
		Index       int               `json:"index"`
		Duration    string            `json:"duration"`
		Disposition map[string]int    `json:"disposition"`
		Tags        map[string]string `json:"tags"`
	} `json:"streams"`
}

// probeDetails runs ffprobe on path.
func (e *Executor) probeDetails(ctx context.Context, path string) (*details, error) {
	out, err := e.tool(toolFFprobe).Run(ctx, toolrun.Cmd{
		Args:    []string{"-v", "error", "-print_format", "json", "-show_format", "-show_streams", "--", "file:" + path},
		Timeout: e.probeTimeout(),
	})
	if err != nil {
		return nil, err
	}
	res, err := probe.Parse(out.Stdout)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", path, err)
	}
	var raw rawStreams
	if err := json.Unmarshal(out.Stdout, &raw); err != nil {
		return nil, fmt.Errorf("probe %s: %w", path, err)
	}
	d := &details{result: res, dispositions: map[int][]string{}, durations: map[int]float64{}, fileNames: map[int]string{}}
	for _, s := range raw.Streams {
		var flags []string
		for k, v := range s.Disposition {
			if v != 0 {
				flags = append(flags, k)
			}
		}
		sort.Strings(flags)
		d.dispositions[s.Index] = flags
		if v, err := strconv.ParseFloat(s.Duration, 64); err == nil && v > 0 {
			d.durations[s.Index] = v
		}
		for k, v := range s.Tags {
			switch strings.ToLower(k) {
			case "duration": // Matroska's per-track statistics tag, "00:00:01.021000000"
				if _, ok := d.durations[s.Index]; !ok {
					if v, ok := parseClock(v); ok {
						d.durations[s.Index] = v
					}
				}
			case "filename":
				d.fileNames[s.Index] = v
			}
		}
	}
	return d, nil
}

// parseClock parses HH:MM:SS.fraction.
func parseClock(s string) (float64, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, false
	}
	h, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, false
	}
	return float64(h*3600+m*60) + sec, true
}

func (e *Executor) probeTimeout() time.Duration {
	if e.ProbeTimeout > 0 {
		return e.ProbeTimeout
	}
	return probe.DefaultTimeout
}

package policy

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the plan for a person, as `vpo policy run --dry-run`
// prints it: the file, a before → after track table, then per phase what
// changes, warnings, unsupported operations and errors. A conformant file
// gets one line.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	switch {
	case p.Conformant():
		fmt.Fprintf(&b, "%s: conformant\n", p.File.Path)
		_, err := io.WriteString(w, b.String())
		return err
	case p.Changed():
		fmt.Fprintf(&b, "%s: would change\n", p.File.Path)
	default:
		fmt.Fprintf(&b, "%s: no change\n", p.File.Path)
	}
	if p.Stopped {
		fmt.Fprintf(&b, "  stopped: later phases do not run, and a batch run stops after this file\n")
	}
	result := p.Result()
	after := make(map[int]int, len(result.Tracks))
	for i, t := range result.Tracks {
		after[t.ID] = i
	}
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tTYPE\tCODEC\tLANG\tTITLE\tFLAGS\t→\tPOS\tLANG\tTITLE\tFLAGS")
	for i, t := range p.File.Tracks {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t→\t", t.ID, t.Type, dash(t.Codec), dash(t.Language), dash(clip(t.Title)), flagText(t))
		j, kept := after[t.ID]
		if !kept {
			fmt.Fprintln(tw, "removed\t\t\t")
			continue
		}
		r := result.Tracks[j]
		pos := fmt.Sprint(j)
		if j != i {
			pos += "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", pos, mark(r.Language, t.Language), mark(clip(r.Title), clip(t.Title)), mark(flagText(r), flagText(t)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, line := range strings.SplitAfter(table.String(), "\n") {
		if line != "" {
			b.WriteString(strings.TrimRight(line, " \n"))
			b.WriteByte('\n')
		}
	}
	if result.Container != p.File.Container {
		fmt.Fprintf(&b, "  container: %s → %s\n", ContainerKind(p.File.Container), result.Container)
	}
	for _, ph := range p.Phases {
		fmt.Fprintf(&b, "  phase %s: %s", ph.Name, ph.Status)
		if ph.SkipReason != "" {
			fmt.Fprintf(&b, " (%s)", ph.SkipReason)
		}
		b.WriteByte('\n')
		for _, r := range ph.Removals {
			fmt.Fprintf(&b, "    remove track %d: %s\n", r.Track, r.Reason)
		}
		if ph.Order != nil {
			fmt.Fprintf(&b, "    order: %s\n", joinInts(ph.Order))
		}
		for _, c := range ph.Changes {
			fmt.Fprintf(&b, "    track %d %s: %s → %s\n", c.Track, c.Field, valueText(c.From), valueText(c.To))
		}
		if ph.Container != nil {
			fmt.Fprintf(&b, "    container: %s → %s\n", ph.Container.From, ph.Container.To)
		}
		for _, s := range ph.Warnings {
			fmt.Fprintf(&b, "    warning: %s\n", s)
		}
		for _, s := range ph.Unsupported {
			fmt.Fprintf(&b, "    unsupported: %s\n", s)
		}
		for _, s := range ph.Errors {
			fmt.Fprintf(&b, "    error: %s\n", s)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clip shortens long titles so that the table stays readable.
func clip(s string) string {
	r := []rune(s)
	if len(r) > 32 {
		return string(r[:31]) + "…"
	}
	return s
}

// mark prints the after value, or "=" when it did not change.
func mark(after, before string) string {
	if after == before {
		return "="
	}
	return dash(after)
}

func flagText(t Track) string {
	switch {
	case t.Default && t.Forced:
		return "default,forced"
	case t.Default:
		return "default"
	case t.Forced:
		return "forced"
	}
	return "-"
}

func valueText(v any) string {
	if s, ok := v.(string); ok {
		return quote(s)
	}
	return fmt.Sprint(v)
}

func joinInts(ids []int) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = itoa(id)
	}
	return strings.Join(parts, ", ")
}

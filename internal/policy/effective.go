package policy

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Effective returns the policy with every default filled in as plain maps
// and lists (what [Policy.EffectiveYAML] prints, decoded), ready for JSON.
func (p *Policy) Effective() (map[string]any, error) {
	data, err := p.EffectiveYAML()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode effective policy %s: %w", p.File, err)
	}
	return m, nil
}

// PhaseSummary is one phase in brief: its operations, as the keys the
// effective policy names, in file order, and those this vpo does not run.
type PhaseSummary struct {
	Name        string   `json:"name"`
	Operations  []string `json:"operations"`
	Unsupported []string `json:"unsupported,omitempty"`
}

// PhaseSummaries lists the policy's phases in brief.
func (p *Policy) PhaseSummaries() ([]PhaseSummary, error) {
	data, err := p.EffectiveYAML()
	if err != nil {
		return nil, err
	}
	var doc struct {
		Phases []yaml.Node `yaml:"phases"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decode effective policy %s: %w", p.File, err)
	}
	out := make([]PhaseSummary, len(p.Phases))
	for i := range p.Phases {
		out[i] = PhaseSummary{Name: p.Phases[i].Name, Operations: []string{}, Unsupported: p.Phases[i].Unsupported()}
		if i >= len(doc.Phases) {
			continue
		}
		n := doc.Phases[i]
		for k := 0; k+1 < len(n.Content); k += 2 {
			if key := n.Content[k].Value; key != "name" {
				out[i].Operations = append(out[i].Operations, key)
			}
		}
	}
	return out, nil
}

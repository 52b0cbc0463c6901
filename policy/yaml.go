package policy

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

// File is a policy file in IBM's enterprise-governance form: a list of policies and a map
// of workflows by name (policies.yaml and approval-workflow.yaml may
// also be one file each).
//
//	policies:
//	  - name: weekend_cost_limit
//	    condition: day_of_week in ['Saturday', 'Sunday'] and estimated_cost_usd > 10
//	    action: block
//	    message: Jobs over $10 blocked on weekends
//	workflows:
//	  high_cost_job:
//	    trigger: { condition: "estimated_cost_usd > 50" }
//	    approvers: [ { role: team_lead }, { user: admin@example.com } ]
//	    timeout_hours: 24
//	    on_timeout: reject
//	    notify: [ submitter, approvers ]
type File struct {
	Policies  []Policy
	Workflows []Workflow
}

// ParseFile reads a policy file. Unknown keys are errors naming their
// line.
func ParseFile(data []byte) (File, error) {
	var raw struct {
		Policies  []Policy  `yaml:"policies"`
		Workflows yaml.Node `yaml:"workflows"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return File{}, fmt.Errorf("reading policies: %w", err)
	}
	f := File{Policies: raw.Policies}
	if raw.Workflows.Kind == 0 {
		return f, nil
	}
	if raw.Workflows.Kind != yaml.MappingNode {
		return File{}, fmt.Errorf("line %d: workflows must map names to workflows", raw.Workflows.Line)
	}
	var errs []error
	for i := 0; i+1 < len(raw.Workflows.Content); i += 2 {
		name, body := raw.Workflows.Content[i], raw.Workflows.Content[i+1]
		var w Workflow
		if err := decodeStrict(body, &w); err != nil {
			errs = append(errs, fmt.Errorf("workflow %q: %w", name.Value, err))
			continue
		}
		w.Name = name.Value
		f.Workflows = append(f.Workflows, w)
	}
	return f, errors.Join(errs...)
}

// decodeStrict decodes a node refusing unknown keys, which Node.Decode
// alone does not.
func decodeStrict(n *yaml.Node, v any) error {
	out, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

// LoadFile reads a policy file from disk.
func LoadFile(path string) (File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, err
	}
	f, err := ParseFile(data)
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

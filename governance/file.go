package governance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/qgov/qgov/internal/strictjson"
)

// ParseFile reads a governance file: a Config as YAML (or JSON, which is
// YAML too), with the field names of the qgov app's JSON config. Unknown
// fields and wrong types are errors. Every object's source is the file
// and its place in it ("org.yaml: projects[2]").
func ParseFile(name string, data []byte) (Config, error) {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	if doc == nil {
		return Config{}, nil
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	var c Config
	if err := strictjson.Decode(raw, &c, true); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	for _, k := range Kinds {
		for i, it := range k.items(&c) {
			if it.Source != "" {
				return Config{}, fmt.Errorf(`%s: %s[%d]: "source" is set by the gateway`, name, k.Name(), i)
			}
		}
	}
	var out Config
	for _, k := range Kinds {
		for i, it := range k.items(&c) {
			spec, _ := json.Marshal(it.Value)
			named, err := k.decode(spec, it.Tenant, "", fmt.Sprintf("%s: %s[%d]", name, k.Name(), i))
			if err != nil {
				return Config{}, fmt.Errorf("%s: %s[%d]: %w", name, k.Name(), i, err)
			}
			k.add(&out, named)
		}
	}
	return out, nil
}

// LoadFile reads a governance file from disk.
func LoadFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading governance file: %w", err)
	}
	return ParseFile(path, data)
}

// Render writes c as a governance file (YAML) that ParseFile reads back
// to the same objects.
func Render(c Config) ([]byte, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString("# qgov governance file: load it with `governance_file`, or change a gateway with `qgov gov apply`.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(integral(withoutSources(doc))); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// withoutSources drops every object's "source".
func withoutSources(doc any) any {
	if m, ok := doc.(map[string]any); ok {
		for _, list := range m {
			for _, obj := range asList(list) {
				if o, ok := obj.(map[string]any); ok {
					delete(o, "source")
				}
			}
		}
	}
	return doc
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// integral turns whole float64 numbers into int64, so YAML writes 1000
// rather than 1e+03 and an integer field reads it back.
func integral(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = integral(e)
		}
	case []any:
		for i, e := range x {
			x[i] = integral(e)
		}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	}
	return v
}

package policy

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Modifiable lists the job fields a modify policy may set:
//
//	backend             the job's backend; "simulator" picks the
//	                    instance's first simulator
//	shots               params.shots, the shots of pubs that give none
//	max_execution_time  the job's cost field, in seconds
//	tags                tags added to the job's own (a string or a list)
//	log_level, private  as the Runtime API defines them
//
// The caller's identity and the job's location (user, roles, tenant,
// project, instance, session) are never modifiable.
var Modifiable = []string{"backend", "shots", "max_execution_time", "tags", "log_level", "private"}

// fixed are Env fields a policy may read but never rewrite.
var fixed = []string{"user", "email", "roles", "tenant", "project", "instance", "key_id", "session", "action", "client_ip"}

func checkModification(field string, v any) error {
	switch {
	case slices.Contains(fixed, field):
		return fmt.Errorf("modifications: %s may not be modified: the caller's identity and the job's location are fixed", field)
	case !slices.Contains(Modifiable, field):
		return fmt.Errorf("modifications: %q is not a modifiable field (%s)", field, strings.Join(Modifiable, ", "))
	}
	ok := false
	switch field {
	case "backend", "log_level":
		s, isString := v.(string)
		ok = isString && s != ""
	case "shots", "max_execution_time":
		n, isNumber := number(v)
		ok = isNumber && n > 0 && (field != "shots" || n == float64(int(n)))
	case "private":
		_, ok = v.(bool)
	case "tags":
		_, ok = tagList(v)
	}
	if !ok {
		return fmt.Errorf("modifications: %s: %v is not a valid value", field, v)
	}
	return nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func tagList(v any) ([]string, bool) {
	switch t := v.(type) {
	case string:
		return []string{t}, t != ""
	case []string:
		return t, true
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			s, ok := x.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// Apply returns body, a POST /jobs document, with mods set. Fields not
// named keep their value; backend "simulator" becomes simulator(), which
// names the instance's simulator or fails.
func Apply(body []byte, mods map[string]any, simulator func() (string, error)) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("reading the job: %w", err)
	}
	set := func(field string, v any) {
		doc[field], _ = json.Marshal(v)
	}
	for _, field := range slices.Sorted(maps.Keys(mods)) {
		v := mods[field]
		switch field {
		case "backend":
			if strings.EqualFold(v.(string), "simulator") {
				name, err := simulator()
				if err != nil {
					return nil, err
				}
				v = name
			}
			set("backend", v)
		case "max_execution_time":
			set("cost", v)
		case "tags":
			var have []string
			_ = json.Unmarshal(doc["tags"], &have)
			add, _ := tagList(v)
			for _, t := range add {
				if !slices.Contains(have, t) {
					have = append(have, t)
				}
			}
			set("tags", have)
		case "shots":
			var params map[string]json.RawMessage
			if err := json.Unmarshal(doc["params"], &params); err != nil || params == nil {
				return nil, fmt.Errorf("setting shots: the job's params are not an object")
			}
			params["shots"], _ = json.Marshal(v)
			set("params", params)
		default:
			set(field, v)
		}
	}
	return json.Marshal(doc)
}

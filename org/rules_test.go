package org_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/org"
)

// TestRules matches rules against verified claims as identity reads
// them: dotted paths, lists, numbers.
func TestRules(t *testing.T) {
	c := identity.Claims{"project": "ml finance", "lab": "chemlab", "groups": []any{"qc-admins", "physics"}, "dept": "research,ml", "level": 3.0,
		"account": map[string]any{"bss": "acct-1"}}
	for _, tc := range []struct {
		rule org.Rule
		want bool
	}{
		{org.Rule{Claim: "project", Operator: org.OpHasWord, Value: "ml"}, true},
		{org.Rule{Claim: "project", Operator: org.OpHasWord, Value: "finance"}, true},
		{org.Rule{Claim: "lab", Operator: org.OpHasWord, Value: "ml"}, false}, // "chemlab" contains "ml" only as a substring
		{org.Rule{Claim: "lab", Operator: org.OpHasWord, Value: "chem"}, false},
		{org.Rule{Claim: "dept", Operator: org.OpHasWord, Value: "ml"}, true}, // comma-separated
		{org.Rule{Claim: "project", Operator: org.OpEquals, Value: "ml"}, false},
		{org.Rule{Claim: "project", Operator: org.OpEquals, Value: "ml finance"}, true},
		{org.Rule{Claim: "groups", Operator: org.OpEquals, Value: "physics"}, true}, // any element of a list
		{org.Rule{Claim: "groups", Operator: org.OpIn, Values: []string{"chemistry", "physics"}}, true},
		{org.Rule{Claim: "groups", Operator: org.OpIn, Values: []string{"phys"}}, false},
		{org.Rule{Claim: "groups", Operator: org.OpPrefix, Value: "qc-"}, true},
		{org.Rule{Claim: "lab", Operator: org.OpPrefix, Value: "ml"}, false},
		{org.Rule{Claim: "level", Operator: org.OpEquals, Value: "3"}, true},
		{org.Rule{Claim: "account.bss", Operator: org.OpEquals, Value: "acct-1"}, true},
		{org.Rule{Claim: "missing", Operator: org.OpPrefix, Value: "a"}, false},
	} {
		t.Run(tc.rule.Claim+" "+tc.rule.Operator+" "+tc.rule.Value+strings.Join(tc.rule.Values, "|"), func(t *testing.T) {
			assert.Equal(t, tc.want, tc.rule.Matches(c))
		})
	}
}

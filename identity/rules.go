package identity

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Rule operators. Values are compared exactly, never as substrings.
const (
	// OpEquals matches a claim equal to Value.
	OpEquals = "equals"
	// OpHasWord matches a claim holding a space- or comma-separated list
	// that contains Value as a whole word: "ml finance" has the word "ml",
	// "chemlab" does not.
	OpHasWord = "has_word"
	// OpIn matches a claim equal to one of Values.
	OpIn = "in"
	// OpPrefix matches a claim that starts with Value.
	OpPrefix = "prefix"
)

// Rule is a dynamic rule: users whose token carries a matching claim
// belong to Projects for as long as that token, or the sign-in session
// it started, is valid. A claim holding a list matches when any of its
// values does.
type Rule struct {
	// Claim names the claim; dots reach into objects ("account.bss").
	Claim string `json:"claim"`
	// Operator is equals, has_word, in or prefix.
	Operator string `json:"operator"`
	// Value is compared with the claim (equals, has_word, prefix).
	Value string `json:"value,omitempty"`
	// Values are the accepted values of the in operator.
	Values []string `json:"values,omitempty"`
	// Projects the matching users belong to.
	Projects []string `json:"projects"`
}

func (r *Rule) validate() error {
	var errs []error
	if r.Claim == "" {
		errs = append(errs, errors.New("claim is required"))
	}
	switch r.Operator {
	case OpEquals, OpHasWord, OpPrefix:
		if r.Value == "" {
			errs = append(errs, fmt.Errorf("operator %s needs a value", r.Operator))
		}
	case OpIn:
		if len(r.Values) == 0 {
			errs = append(errs, errors.New("operator in needs values"))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown operator %q (use equals, has_word, in or prefix)", r.Operator))
	}
	if r.Operator == OpHasWord && strings.ContainsAny(r.Value, " ,") {
		errs = append(errs, fmt.Errorf("has_word value %q must be a single word", r.Value))
	}
	if len(r.Projects) == 0 {
		errs = append(errs, errors.New("projects are required"))
	}
	return errors.Join(errs...)
}

// Matches reports whether the claims satisfy the rule.
func (r *Rule) Matches(c Claims) bool {
	for _, v := range c.Strings(r.Claim) {
		if r.matchValue(v) {
			return true
		}
	}
	return false
}

func (r *Rule) matchValue(v string) bool {
	switch r.Operator {
	case OpEquals:
		return v == r.Value
	case OpHasWord:
		return slices.Contains(words(v), r.Value)
	case OpIn:
		return slices.Contains(r.Values, v)
	case OpPrefix:
		return strings.HasPrefix(v, r.Value)
	}
	return false
}

// words splits a space- or comma-separated list.
func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
}

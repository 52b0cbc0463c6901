package org

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

// Rule is a dynamic rule of an access group: users whose identity
// provider token carries a matching claim are members of the group for
// as long as that token, or the sign-in session it started, is valid. A
// claim holding a list matches when any of its values does.
type Rule struct {
	// Provider limits the rule to one identity provider's tokens; ""
	// accepts any provider of the group's tenant.
	Provider string `json:"provider,omitempty"`
	// Claim names the claim; dots reach into objects ("account.bss").
	Claim string `json:"claim"`
	// Operator is equals, has_word, in or prefix.
	Operator string `json:"operator"`
	// Value is compared with the claim (equals, has_word, prefix).
	Value string `json:"value,omitempty"`
	// Values are the accepted values of the in operator.
	Values []string `json:"values,omitempty"`
}

// String writes the rule as it reads: "project has_word ml (appid)".
func (r Rule) String() string {
	v := r.Value
	if r.Operator == "in" {
		v = "[" + strings.Join(r.Values, ", ") + "]"
	}
	s := r.Claim + " " + r.Operator + " " + v
	if r.Provider != "" {
		s += " (" + r.Provider + ")"
	}
	return s
}

// ClaimSource gives a verified token's claim values by (dotted) name.
type ClaimSource interface {
	Strings(claim string) []string
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
	return errors.Join(errs...)
}

// Matches reports whether the claims satisfy the rule.
func (r *Rule) Matches(c ClaimSource) bool {
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
		return slices.Contains(Words(v), r.Value)
	case OpIn:
		return slices.Contains(r.Values, v)
	case OpPrefix:
		return strings.HasPrefix(v, r.Value)
	}
	return false
}

// Words splits a space- or comma-separated list.
func Words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
}

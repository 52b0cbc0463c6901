package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// doc is a body as the gateway reads one: known members, a raw member
// read later, a map whose keys are data.
type doc struct {
	Backend string          `json:"backend"`
	Shots   *int            `json:"shots"`
	Tags    []string        `json:"tags"`
	Params  json.RawMessage `json:"params"`
	Options struct {
		DefaultShots  int    `json:"default_shots"`
		SeedSimulator *int64 `json:"seed_simulator"`
	} `json:"options"`
	Values  map[string]float64 `json:"values"`
	Cost    *float64           `json:"cost"`
	Private bool               `json:"private"`
	Untaged string
}

func TestCheck(t *testing.T) {
	names := NamesOf(doc{})
	for _, tc := range []struct {
		name, body, want string // want: "" to pass, else a fragment of the error
	}{
		{"plain", `{"backend":"ibm_qgov_eagle","shots":10,"tags":["a"],"params":{"pubs":[]}}`, ""},
		{"whitespace and nesting", " \n{\"options\": {\"default_shots\": 5}, \"values\": {\"theta\": 1, \"THETA\": 2}}\t", ""},
		{"escaped known name", `{"back\u0065nd":"x"}`, ""},
		{"unknown member", `{"comment":"kept for the upstream"}`, ""},
		{"untagged field", `{"Untaged":"x"}`, ""},
		{"duplicate", `{"backend":"a","backend":"b"}`, `member "backend" appears twice`},
		{"duplicate by escape", `{"backend":"a","b\u0061ckend":"b"}`, `appears twice`},
		{"duplicate in a large object", `{"a1":1,"a2":1,"a3":1,"a4":1,"a5":1,"a6":1,"a7":1,"a8":1,"a9":1,"b1":1,"b2":1,"b3":1,"b4":1,"b5":1,"b6":1,"b7":1,"b8":1,"a3":2}`, `"a3" appears twice`},
		{"case variant", `{"BACKEND":"qgov_simulator"}`, `"BACKEND" differs from "backend" only by case`},
		{"long s", `{"ſhots":5000000}`, `"ſhots" differs from "shots"`},
		{"kelvin sign", "{\"bac\u212aend\":\"x\"}", `differs from "backend"`},
		{"capitalised", `{"options":{"default_shots":1,"seed_simulator":1},"tags":[],"Values":{}}`, `"Values" differs from "values"`},
		{"nested case variant", `{"options":{"Default_Shots":1}}`, `differs from "default_shots"`},
		{"untagged name folded", `{"untaged":"x"}`, `differs from "Untaged"`},
		{"trailing brace", `{"backend":"a"}}`, "data after the JSON value"},
		{"trailing bracket", `{"backend":"a"}]`, "data after the JSON value"},
		{"two values", `{} {}`, "data after the JSON value"},
		{"invalid UTF-8", "{\"backend\":\"\xff\"}", "invalid UTF-8"},
		{"lone surrogate", `{"backend":"\ud800"}`, "unpaired surrogate"},
		{"reversed pair", `{"backend":"\udc00\ud800"}`, "unpaired surrogate"},
		{"control character", "{\"backend\":\"a\nb\"}", "control character"},
		{"bad escape", `{"backend":"\x41"}`, "invalid escape"},
		{"leading zero", `{"shots":01}`, "expected ','"},
		{"bare dot", `{"cost":1.}`, "digits expected"},
		{"empty", ``, "unexpected end"},
		{"truncated", `{"backend":`, "unexpected end"},
		{"single quotes", `{'backend':1}`, "expected a member name"},
		{"byte order mark", "\ufeff{}", "invalid character"},
		{"too deep", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), "nesting deeper"},
		{"deep enough", strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check([]byte(tc.body), names)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Msg, tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestDecodeStrictRefusesUnknownMembers(t *testing.T) {
	var d struct {
		Name string `json:"name"`
	}
	if err := Decode([]byte(`{"name":"a","extra":1}`), &d, true); err == nil || !strings.Contains(err.Error(), "extra") {
		t.Fatalf("got %v, want the unknown member named", err)
	}
	if err := Decode([]byte(`{"name":"a","extra":1}`), &d, false); err != nil || d.Name != "a" {
		t.Fatalf("lenient decode: %v, %q", err, d.Name)
	}
	if err := Decode([]byte(`{"name":5}`), &d, false); err == nil || !strings.Contains(err.Error(), `field "name" must be string`) {
		t.Fatalf("got %v, want the field's type named", err)
	}
}

// FuzzOneReading checks the promise: a body Decode accepts decodes with
// encoding/json exactly as with a case-sensitive reader that refuses
// duplicate names and invalid UTF-8 (encoding/json/v2's defaults), into a
// typed document and into a generic value alike.
func FuzzOneReading(f *testing.F) {
	for _, seed := range []string{
		`{"backend":"ibm_qgov_eagle","shots":10,"tags":["a"],"params":{"pubs":[["OPENQASM 3.0;",null,10]]}}`,
		`{"backend":"ibm_qgov_eagle","BACKEND":"qgov_simulator"}`,
		`{"ſhots":5,"shots":6}`,
		`{"options":{"default_shots":1,"seed_simulator":-3},"values":{"θ":1.5e3,"THETA":-0}}`,
		`{"params":{"a":[1,2,{"b":null}]},"cost":0.25,"private":true}`,
		`{"backend":"\u00e9\ud83d\ude00","Untaged":"x"}`,
		`{"tags":null,"shots":null}`,
		`[1,"two",{"3":false}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v1 doc
		if Decode(body, &v1, false) != nil {
			return
		}
		var v2 doc
		if err := jsonv2.Unmarshal(body, &v2); err != nil {
			t.Fatalf("accepted %q, which a strict case-sensitive reader refuses: %v", body, err)
		}
		if !reflect.DeepEqual(normal(v1), normal(v2)) {
			t.Fatalf("two readings of %q:\n encoding/json: %+v\n strict reader: %+v", body, v1, v2)
		}
		if s, ok := skipping(body); !ok || !reflect.DeepEqual(normal(s), normal(withoutParams(v1))) {
			t.Fatalf("stepping over params reads %q otherwise: %+v and %+v", body, s, v1)
		}
		var g1, g2 any
		if err := json.Unmarshal(body, &g1); err != nil {
			t.Fatalf("generic decode of an accepted body: %v", err)
		}
		if err := jsonv2.Unmarshal(body, &g2); err != nil {
			t.Fatalf("generic strict decode of an accepted body: %v", err)
		}
		if !reflect.DeepEqual(g1, g2) {
			t.Fatalf("two generic readings of %q: %v and %v", body, g1, g2)
		}
	})
}

// skipped is doc with its params stepped over.
type skipped struct {
	doc
	Params Skip `json:"params"`
}

// skipping reads a checked body into skipped, as Unmarshal does.
func skipping(body []byte) (doc, bool) {
	var s skipped
	err := Unmarshal(body, &s, false)
	return s.doc, err == nil
}

func withoutParams(d doc) doc {
	d.Params = nil
	return d
}

// TestUnmarshalStepsOverSkipped reads bodies whose Skip member is first,
// last, alone, spelled with an escape or absent: the other members read
// as encoding/json reads them, and a strict reading still refuses a
// member the type does not have.
func TestUnmarshalStepsOverSkipped(t *testing.T) {
	for _, body := range []string{
		`{"params":{"pubs":[["]}\"",1]]},"backend":"b","shots":3}`,
		`{"backend":"b", "shots":3 ,"params":[1,{"x":"}"}]}`,
		`{"params":"}"}`,
		` { "par\u0061ms" : 1 , "tags" : ["a","b"] } `,
		`{"backend":"b","options":{"default_shots":2}}`,
		`{}`,
	} {
		var want doc
		require.NoError(t, json.Unmarshal([]byte(body), &want), body)
		require.NoError(t, Check([]byte(body), NamesOf(skipped{})), body)
		got, ok := skipping([]byte(body))
		assert.True(t, ok, body)
		assert.Equal(t, withoutParams(want), got, body)
	}
	var s skipped
	err := Unmarshal([]byte(`{"params":[],"backend":"b","extra":1}`), &s, true)
	assert.ErrorContains(t, err, "extra", "a strict reading refuses a member the type does not have")
}

// normal compacts the raw member, which the readers may keep with
// different whitespace.
func normal(d doc) doc {
	if d.Params != nil {
		var b bytes.Buffer
		if json.Compact(&b, d.Params) == nil {
			d.Params = b.Bytes()
		}
	}
	return d
}

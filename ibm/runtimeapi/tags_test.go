package runtimeapi

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWithTag(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"no tags", `{"program_id":"sampler","params":{}}`, `{"tags":["qgov-track:x"],"program_id":"sampler","params":{}}`},
		{"empty tags", `{"program_id":"sampler","tags":[ ],"params":{}}`, `{"program_id":"sampler","tags":[ "qgov-track:x"],"params":{}}`},
		{"tags", `{"tags":["a", "b"] ,"program_id":"sampler"}`, `{"tags":["a", "b","qgov-track:x"] ,"program_id":"sampler"}`},
		{"null tags", `{"tags":null,"program_id":"sampler"}`, `{"tags":["qgov-track:x"],"program_id":"sampler"}`},
		{"leading space", " \n{ \"program_id\":\"sampler\"}", " \n{\"tags\":[\"qgov-track:x\"], \"program_id\":\"sampler\"}"},
		{"empty object", `{}`, `{"tags":["qgov-track:x"]}`},
		{"a tags key inside params is not the job's", `{"params":{"tags":[1]},"program_id":"s"}`, `{"tags":["qgov-track:x"],"params":{"tags":[1]},"program_id":"s"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.body)
			got, err := WithTag(in, TrackTag("x"))
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
			assert.Equal(t, tc.body, string(in), "the body is not changed in place")
			var doc struct{ Tags []string }
			require.NoError(t, json.Unmarshal(got, &doc))
			assert.Contains(t, doc.Tags, "qgov-track:x")
		})
	}
	_, err := WithTag([]byte(`{"tags":"a"}`), "x")
	assert.Error(t, err)
}

func TestCheckOwnTags(t *testing.T) {
	assert.Nil(t, CheckOwnTags([]string{"a", "qgov-trackx", "b:qgov-track:c"}))
	err := CheckOwnTags([]string{"a", TrackTag("j1")})
	require.NotNil(t, err)
	assert.Equal(t, "reserved_tag", err.Code)
	assert.Equal(t, 400, StatusOf(err.Code))
}

package org

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDiff(t *testing.T) {
	before := Config{
		Instances: []Instance{{Alias: "QR-ml", APIKey: "secret-1", Source: "a:1"}},
		Projects:  []Project{{Name: "ml", Instances: []string{"QR-ml"}, Source: "a:2"}, {Name: "finance", Source: "a:3"}},
	}
	after := Config{
		Instances: []Instance{{Alias: "QR-ml", APIKey: "secret-2", Source: "b:9"}},
		Projects:  []Project{{Name: "ml", Instances: []string{"QR-ml", "QR-common"}, Source: "b:1"}, {Name: "chem"}},
	}
	changes := Diff(Snap(before), Snap(after))
	var got []string
	for _, c := range changes {
		got = append(got, c.Kind+" "+c.Name)
		assert.NotContains(t, string(c.Before)+string(c.After), "secret", "an API key in a change record")
	}
	assert.Equal(t, []string{"project default/chem", "project default/finance", "project default/ml"}, got,
		"a moved declaration or a new upstream key is not a change; added, removed and changed objects are")
	require.Len(t, changes, 3)
	assert.Nil(t, changes[0].Before)
	assert.Nil(t, changes[1].After)
	var ml Project
	require.NoError(t, json.Unmarshal(changes[2].After, &ml))
	assert.Equal(t, []string{"QR-ml", "QR-common"}, ml.Instances)
	assert.Empty(t, Diff(Snap(after), Snap(after)))
}

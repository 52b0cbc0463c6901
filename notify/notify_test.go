package notify

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChannelsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		name string
		chs  []Channel
		want string
	}{
		{"no name", []Channel{{URL: "https://hooks.example.org/x"}}, "a name is required"},
		{"not http", []Channel{{Name: "slack", URL: "ftp://hooks.example.org/x"}}, "must be http(s)"},
		{"no host", []Channel{{Name: "slack", URL: "https:///x"}}, "must be http(s)"},
		{"twice", []Channel{{Name: "slack", URL: "https://a.example.org"}, {Name: "slack", URL: "https://b.example.org"}}, "declared twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.chs, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestDelivery posts to a real webhook that fails once: the message
// arrives after a retry, and channels not configured receive nothing.
func TestDelivery(t *testing.T) {
	var calls atomic.Int32
	got := make(chan Message, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var m Message
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&m))
		got <- m
	}))
	defer hook.Close()
	n, err := New([]Channel{{Name: "slack", URL: hook.URL + "/services/T0/B0/secret"}}, nil)
	require.NoError(t, err)
	n.retries = []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}
	n.Send([]string{"email", "slack"}, Message{Event: "qgov.budget.threshold", Tenant: "lab", Text: "80% of the budget", Data: map[string]any{"percent": 80}})
	select {
	case m := <-got:
		assert.Equal(t, "qgov.budget.threshold", m.Event)
		assert.Equal(t, "lab", m.Tenant)
		assert.Equal(t, "80% of the budget", m.Text)
		assert.EqualValues(t, 80, m.Data["percent"])
		assert.False(t, m.Time.IsZero())
	case <-time.After(5 * time.Second):
		t.Fatal("the message was not delivered")
	}
	assert.EqualValues(t, 2, calls.Load(), "one failure, one retry; the unconfigured email channel got nothing")
	n.Close()
	n.Send([]string{"slack"}, Message{Event: "late"}) // dropped, not a panic
	time.Sleep(50 * time.Millisecond)
	assert.EqualValues(t, 2, calls.Load())
}

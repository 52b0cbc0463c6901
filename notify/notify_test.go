package notify

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qgov/qgov/internal/testenv"
	"github.com/qgov/qgov/store"
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
		{"email format on a webhook", []Channel{{Name: "x", URL: "https://a.example.org", Format: "email"}}, "a webhook posts json or slack"},
		{"email without from", []Channel{{Name: "mail", URL: "smtp://mail.example.org:25"}}, "needs a valid from address"},
		{"bad to", []Channel{{Name: "mail", URL: "smtp://mail.example.org:25", From: "qgov@example.org", To: []string{"not an address"}}}, `to "not an address"`},
		{"twice", []Channel{{Name: "slack", URL: "https://a.example.org"}, {Name: "slack", URL: "https://b.example.org"}}, "declared twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.chs, outbox(t), Options{})
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
	n, err := New([]Channel{{Name: "hook", URL: hook.URL + "/services/T0/B0/secret"}}, outbox(t), quick(10*time.Millisecond, 10*time.Millisecond))
	require.NoError(t, err)
	n.Start()
	n.Send(t.Context(), []string{"email", "hook"}, Message{Event: "qgov.budget.threshold", Tenant: "lab", Text: "80% of the budget", Data: map[string]any{"percent": 80}})
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
	n.Send(t.Context(), []string{"hook"}, Message{Event: "late"}) // kept in the outbox; a closed notifier delivers nothing
	time.Sleep(50 * time.Millisecond)
	assert.EqualValues(t, 2, calls.Load())
}

// TestSlackAndFailures posts Slack's format to a real server, and
// reports a channel that keeps failing to OnFailure after its retries,
// without the URL.
func TestSlackAndFailures(t *testing.T) {
	got := make(chan map[string]any, 1)
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&m))
		got <- m
	}))
	defer slack.Close()
	var tries atomic.Int32
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tries.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer broken.Close()
	failures := make(chan string, 1)
	opts := quick(time.Millisecond, time.Millisecond)
	opts.OnFailure = func(ch string, m Message, err error) error {
		failures <- ch + " " + m.Event + ": " + err.Error()
		return nil
	}
	box := outbox(t)
	n, err := New([]Channel{{Name: "slack", URL: slack.URL, Format: FormatSlack}, {Name: "broken", URL: broken.URL + "/secret-token"}}, box, opts)
	require.NoError(t, err)
	n.Start()
	n.Send(t.Context(), []string{"slack", "broken"}, Message{Event: "qgov.policy.notify", Text: "a large job", Data: map[string]any{"shots": 60000}})
	assert.Equal(t, map[string]any{"text": "a large job"}, <-got, "Slack receives only its text")
	select {
	case f := <-failures:
		assert.Equal(t, "broken qgov.policy.notify: the webhook answered 500", f)
	case <-time.After(5 * time.Second):
		t.Fatal("the failure was not reported")
	}
	n.Close()
	assert.EqualValues(t, 3, tries.Load(), "one try and two retries")
	st := n.Stats()
	assert.EqualValues(t, 1, st.Delivered.Load(), "Slack's")
	assert.EqualValues(t, 2, st.Retried.Load())
	assert.EqualValues(t, 1, st.Failed.Load(), "the broken channel's")
	assert.Empty(t, records(t, box), "a delivered message and a dead letter leave the outbox")
}

// TestEmail sends a mail through a real SMTP exchange with a local
// server: the channel's and the message's recipients receive it.
func TestEmail(t *testing.T) {
	srv := startSMTP(t)
	n, err := New([]Channel{{Name: "email", URL: "smtp://" + srv.addr, From: "qgov <qgov@example.org>", To: []string{"ops@example.org"}}},
		outbox(t), quick())
	require.NoError(t, err)
	n.Start()
	n.Send(t.Context(), []string{"email"}, Message{Event: "qgov.approval.requested", Tenant: "lab", Text: "Job d1 waits for your approval.\nWorkflow high_cost_job.",
		Recipients: []string{"role team_lead", "lead@example.org", "ops@example.org"}})
	m := <-srv.mails
	n.Close()
	assert.Equal(t, "qgov@example.org", m.from)
	assert.Equal(t, []string{"lead@example.org", "ops@example.org"}, m.to)
	assert.Contains(t, m.data, "Subject: [qgov] qgov.approval.requested (lab)")
	assert.Regexp(t, `(?m)^Message-ID: <[^>]+@[^>]+>\r$`, m.data, "a Message-ID")
	assert.Regexp(t, `(?m)^Date: `, m.data)
	assert.Regexp(t, `(?m)^X-Qgov-Message-Id: msg_[A-Z2-7]+\r$`, m.data, "the message's id, for deduplication")
	assert.Contains(t, m.data, "Job d1 waits for your approval.\r\nWorkflow high_cost_job.")
}

// TestSignedWebhooks: a channel with a secret signs every try; the
// receiver verifies each, and a retry carries the same webhook-id, so
// the receiver can deduplicate. A malformed secret is refused.
func TestSignedWebhooks(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a key of thirty-two bytes, fixed"))
	type try struct {
		header http.Header
		body   []byte
	}
	tries := make(chan try, 4)
	var n atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tries <- try{r.Header.Clone(), body}
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // the receiver is down at first
		}
	}))
	defer hook.Close()
	nf, err := New([]Channel{{Name: "pager", URL: hook.URL, Secret: secret}}, outbox(t), quick(time.Millisecond))
	require.NoError(t, err)
	nf.Start()
	nf.Send(t.Context(), []string{"pager"}, Message{Event: "qgov.budget.threshold", Tenant: "lab", Text: "80% of the budget"})
	first, second := <-tries, <-tries
	nf.Close()
	for _, tr := range []try{first, second} {
		require.NoError(t, testenv.VerifyStandardWebhook(secret, tr.header, tr.body, time.Now()))
	}
	assert.Equal(t, first.header.Get("webhook-id"), second.header.Get("webhook-id"), "a retry is the same message")
	assert.Error(t, testenv.VerifyStandardWebhook(secret, second.header, append(second.body, ' '), time.Now()), "a changed body does not verify")
	assert.Error(t, testenv.VerifyStandardWebhook("whsec_"+base64.StdEncoding.EncodeToString([]byte("another key of thirty-two bytes!")), second.header, second.body, time.Now()))

	for _, bad := range []string{"plain-secret", "whsec_not base64", "whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		_, err := New([]Channel{{Name: "pager", URL: hook.URL, Secret: bad}}, outbox(t), Options{})
		assert.ErrorContains(t, err, "whsec_", bad)
	}
}

// outbox is a store on a fresh bbolt file.
func outbox(t *testing.T) store.Store {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "qgov.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

// quick are options that retry after the given waits and read the
// outbox often.
func quick(retries ...time.Duration) Options {
	return Options{Retries: append([]time.Duration{}, retries...), Poll: 10 * time.Millisecond, Holder: "test"}
}

// records are the outbox's records.
func records(t *testing.T, st Outbox) []pending {
	es, err := st.List(t.Context(), outboxBucket, "", "", 1000)
	require.NoError(t, err)
	var out []pending
	for _, e := range es {
		var p pending
		require.NoError(t, json.Unmarshal(e.Value, &p))
		out = append(out, p)
	}
	return out
}

// TestRedirectsAreNotFollowed: a webhook that redirects elsewhere fails;
// the other host receives neither the message nor the webhook's URL.
func TestRedirectsAreNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/collect", http.StatusTemporaryRedirect)
	}))
	defer hook.Close()
	failures := make(chan string, 1)
	opts := quick()
	opts.OnFailure = func(ch string, m Message, err error) error {
		failures <- err.Error()
		return nil
	}
	n, err := New([]Channel{{Name: "hook", URL: hook.URL + "/services/T0/B0/secret"}}, outbox(t), opts)
	require.NoError(t, err)
	n.Start()
	defer n.Close()
	n.Send(t.Context(), []string{"hook"}, Message{Event: "qgov.policy.notify"})
	select {
	case f := <-failures:
		assert.Equal(t, "the webhook answered 307", f)
	case <-time.After(5 * time.Second):
		t.Fatal("the failure was not reported")
	}
	assert.Zero(t, elsewhere.Load())
}

package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qgov/qgov/internal/testenv"
	"github.com/qgov/qgov/store"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// receiver is a webhook that can be down (503) and counts each message
// id it took.
type receiver struct {
	*httptest.Server
	down  atomic.Bool
	tries atomic.Int32
	mu    sync.Mutex
	took  map[string]int
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{took: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.tries.Add(1)
		if rc.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var m Message
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.took[m.ID]++
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	return rc
}

// taken is how many times each message id was taken.
func (rc *receiver) taken() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string]int{}
	for k, v := range rc.took {
		out[k] = v
	}
	return out
}

// TestOutboxSurvivesARestart: a message sent while its receiver is
// down stays in the outbox when the notifier closes, with its tries
// counted, and the next notifier on the store delivers it under the
// same id once the receiver is back.
func TestOutboxSurvivesARestart(t *testing.T) {
	rc := newReceiver(t)
	rc.down.Store(true)
	box := outbox(t)
	ch := []Channel{{Name: "hook", URL: rc.URL}}
	first, err := New(ch, box, quick(20*time.Millisecond, 20*time.Millisecond, time.Hour))
	require.NoError(t, err)
	first.Start()
	first.Send(t.Context(), []string{"hook"}, Message{ID: "msg_kept", Event: "qgov.approval.requested", Tenant: "lab"})
	require.Eventually(t, func() bool { return rc.tries.Load() >= 3 }, 5*time.Second, 5*time.Millisecond, "a try and two retries")
	first.Close()

	left := records(t, box)
	require.Len(t, left, 1, "the message waits in the outbox")
	assert.Equal(t, "msg_kept", left[0].Message.ID)
	assert.Equal(t, 3, left[0].Tries)
	assert.Empty(t, left[0].Holder, "closing frees the record")
	assert.Equal(t, "the webhook answered 503", left[0].Error)
	assert.Empty(t, rc.taken())

	rc.down.Store(false)
	second, err := New(ch, box, quick(time.Millisecond))
	require.NoError(t, err)
	second.Start()
	defer second.Close()
	left[0].Due = time.Now() // the hour's wait is for the first notifier's schedule; make it due
	rewrite(t, box, left[0])
	require.Eventually(t, func() bool { return rc.taken()["msg_kept"] == 1 }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return len(records(t, box)) == 0 }, 5*time.Second, 5*time.Millisecond)
}

// rewrite stores a record in place of the outbox's record for the same
// message and channel.
func rewrite(t *testing.T, box store.Store, p pending) {
	v, err := json.Marshal(p)
	require.NoError(t, err)
	require.NoError(t, box.Put(t.Context(), outboxBucket, pendingKey(p.Message, p.Channel), v, 0))
}

// TestOneTryPerClaim races three notifiers, as three replicas, over one
// outbox on bbolt and on a real Redis: every message is taken exactly
// once, and a retry after the receiver's outage too.
func TestOneTryPerClaim(t *testing.T) {
	stores := map[string]func(t *testing.T) store.Store{
		"bbolt": outbox,
		"redis": func(t *testing.T) store.Store {
			st := store.NewRedis(redis.NewClient(&redis.Options{Addr: testenv.Redis(t)}), "qgov:", 0)
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			rc := newReceiver(t)
			box := open(t)
			var ns []*Notifier
			for i := range 3 {
				o := quick(100*time.Millisecond, 200*time.Millisecond, 400*time.Millisecond, 800*time.Millisecond, 5*time.Second)
				o.OnFailure = func(ch string, m Message, err error) error { t.Errorf("%s not delivered: %v", m.ID, err); return nil }
				o.Holder = fmt.Sprintf("replica-%d", i)
				n, err := New([]Channel{{Name: "hook", URL: rc.URL}}, box, o)
				require.NoError(t, err)
				n.Start()
				ns = append(ns, n)
			}
			const messages = 90
			for i := range messages {
				if i == messages/2 {
					rc.down.Store(true)
				}
				ns[i%3].Send(t.Context(), []string{"hook"}, Message{ID: fmt.Sprintf("msg_%03d", i), Event: "qgov.policy.notify"})
			}
			time.Sleep(50 * time.Millisecond)
			rc.down.Store(false)
			require.Eventually(t, func() bool { return len(rc.taken()) == messages }, 10*time.Second, 10*time.Millisecond)
			for _, n := range ns {
				n.Close()
			}
			for id, times := range rc.taken() {
				assert.Equal(t, 1, times, id)
			}
			assert.Empty(t, records(t, box))
			var delivered int64
			for _, n := range ns {
				delivered += n.Stats().Delivered.Load()
			}
			assert.EqualValues(t, messages, delivered)
		})
	}
}

// TestClaimsOfStoppedReplicas: a record claimed by a notifier that
// died waits until its claim lapses, or, when the replicas beat, until
// its node stops beating; a running node's claim is left alone.
func TestClaimsOfStoppedReplicas(t *testing.T) {
	for _, tc := range []struct {
		name  string
		until time.Duration // the claim lapses after
		nodes bool          // the notifier knows which nodes run
		beats bool          // the claim's node beats
		taken bool
	}{
		{"a lapsed claim", 300 * time.Millisecond, false, false, true},
		{"a stopped node's claim", time.Hour, true, false, true},
		{"a running node's claim", time.Hour, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t)
			box := outbox(t)
			nodes := store.Nodes{Store: box, TTL: time.Minute}
			if tc.beats {
				require.NoError(t, nodes.Beat(t.Context(), "elsewhere"))
			}
			m := Message{ID: "msg_orphan", Event: "qgov.budget.threshold", Time: time.Now()}
			lapse := time.Now().Add(tc.until)
			rewrite(t, box, pending{Channel: "hook", Message: m, Due: m.Time, Holder: "elsewhere/ABC", Node: "elsewhere", Until: lapse})
			o := quick()
			if tc.nodes {
				o.Nodes = nodes
			}
			n, err := New([]Channel{{Name: "hook", URL: rc.URL}}, box, o)
			require.NoError(t, err)
			n.Start()
			defer n.Close()
			if !tc.taken {
				time.Sleep(200 * time.Millisecond)
				assert.Empty(t, rc.taken())
				assert.Len(t, records(t, box), 1)
				return
			}
			require.Eventually(t, func() bool { return rc.taken()["msg_orphan"] == 1 }, 5*time.Second, 5*time.Millisecond)
			if !tc.nodes {
				assert.False(t, time.Now().Before(lapse), "taken only once the claim lapsed")
			}
		})
	}
}

// TestAFailedReportKeepsTheMessage: when the dead letter cannot be
// reported (the audit trail is full), the message stays in the outbox
// and is tried and reported again.
func TestAFailedReportKeepsTheMessage(t *testing.T) {
	rc := newReceiver(t)
	rc.down.Store(true)
	box := outbox(t)
	var reports atomic.Int32
	o := quick(time.Millisecond)
	o.OnFailure = func(string, Message, error) error {
		if reports.Add(1) == 1 {
			return errors.New("the audit trail is full")
		}
		return nil
	}
	n, err := New([]Channel{{Name: "hook", URL: rc.URL}}, box, o)
	require.NoError(t, err)
	n.Start()
	defer n.Close()
	n.Send(t.Context(), []string{"hook"}, Message{ID: "msg_dead", Event: "qgov.approval.requested"})
	require.Eventually(t, func() bool { return reports.Load() == 2 && len(records(t, box)) == 0 }, 5*time.Second, 5*time.Millisecond)
	assert.EqualValues(t, 3, rc.tries.Load(), "a try and a retry, then a last try after the report failed")
}

// TestRecordsThisNotifierCannotDeliver: a message for a channel this
// notifier does not know (another configuration's) is left for a replica
// that knows it, until it is an hour old; a record that cannot be read is
// reported under the channel its key names, and removed.
func TestRecordsThisNotifierCannotDeliver(t *testing.T) {
	box := outbox(t)
	fresh := Message{ID: "msg_fresh", Event: "qgov.policy.notify", Time: time.Now()}
	old := Message{ID: "msg_old", Event: "qgov.policy.notify", Time: time.Now().Add(-2 * time.Hour)}
	rewrite(t, box, pending{Channel: "pager", Message: fresh, Due: fresh.Time})
	rewrite(t, box, pending{Channel: "pager", Message: old, Due: old.Time})
	require.NoError(t, box.Put(t.Context(), outboxBucket, "0000000000000001/msg_garbled/hook", []byte("{not json"), 0))
	reported := make(chan string, 4)
	o := quick()
	o.OnFailure = func(ch string, m Message, err error) error {
		reported <- ch + " " + m.ID + ": " + err.Error()
		return nil
	}
	rc := newReceiver(t)
	n, err := New([]Channel{{Name: "hook", URL: rc.URL}}, box, o)
	require.NoError(t, err)
	n.Start()
	require.Eventually(t, func() bool { return len(reported) == 2 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	n.Close()
	close(reported)
	var got []string
	for r := range reported {
		got = append(got, r)
	}
	assert.ElementsMatch(t, []string{
		"hook msg_garbled: its outbox record cannot be read: invalid character 'n' looking for beginning of object key string",
		"pager msg_old: no replica knew the channel for 1h0m0s",
	}, got)
	left := records(t, box)
	require.Len(t, left, 1)
	assert.Equal(t, "msg_fresh", left[0].Message.ID, "left for a replica that knows the channel")
	assert.Empty(t, left[0].Holder)
}

// TestASlowChannelHoldsNoOtherBack: a channel whose receiver takes its
// time has at most perChannel tries under way; another channel's message
// goes at once.
func TestASlowChannelHoldsNoOtherBack(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	fast := newReceiver(t)
	box := outbox(t)
	n, err := New([]Channel{{Name: "slow", URL: slow.URL}, {Name: "fast", URL: fast.URL}}, box, quick(time.Hour))
	require.NoError(t, err)
	n.Start()
	t.Cleanup(func() { close(release); n.Close() })
	for i := range 3 * parallel {
		n.Send(t.Context(), []string{"slow"}, Message{ID: fmt.Sprintf("msg_slow%02d", i), Event: "qgov.policy.notify"})
	}
	time.Sleep(50 * time.Millisecond)
	n.Send(t.Context(), []string{"fast"}, Message{ID: "msg_fast", Event: "qgov.policy.notify"})
	require.Eventually(t, func() bool { return fast.taken()["msg_fast"] == 1 }, time.Second, 5*time.Millisecond)
	n.mu.Lock()
	assert.LessOrEqual(t, n.busy["slow"], perChannel)
	n.mu.Unlock()
}

// TestAFailedReportIsNotRepeatedAtOnce: an unreadable record whose report
// fails is reported again only after the last retry's wait, not at every
// read of the outbox, and stays until a report succeeds.
func TestAFailedReportIsNotRepeatedAtOnce(t *testing.T) {
	box := outbox(t)
	require.NoError(t, box.Put(t.Context(), outboxBucket, "0000000000000001/msg_garbled/hook", []byte("{not json"), 0))
	var reports atomic.Int32
	o := quick(200 * time.Millisecond)
	o.OnFailure = func(string, Message, error) error {
		if reports.Add(1) < 3 {
			return errors.New("the audit trail is full")
		}
		return nil
	}
	n, err := New([]Channel{{Name: "hook", URL: "http://127.0.0.1:1/"}}, box, o)
	require.NoError(t, err)
	n.Start()
	defer n.Close()
	require.Eventually(t, func() bool { return reports.Load() >= 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(100 * time.Millisecond) // about 10 reads of the outbox, within the 200 ms before the next report
	assert.EqualValues(t, 1, reports.Load())
	require.Eventually(t, func() bool {
		left, err := box.List(t.Context(), outboxBucket, "", "", 10)
		return err == nil && len(left) == 0
	}, 5*time.Second, 5*time.Millisecond)
	assert.EqualValues(t, 3, reports.Load())
	assert.EqualValues(t, 1, n.Stats().Failed.Load(), "one message given up, however many reports it took")
}

// TestTriesJoinTheSendersTrace: a message sent by a traced request is a
// span of the request's trace, and each of its tries a span under it,
// a failed one marked, though the tries come after the request ended.
func TestTriesJoinTheSendersTrace(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	rc := newReceiver(t)
	var fails atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fails.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rc.Config.Handler.ServeHTTP(w, r)
	}))
	defer flaky.Close()
	n, err := New([]Channel{{Name: "hook", URL: flaky.URL}}, outbox(t), quick(time.Millisecond))
	require.NoError(t, err)
	n.Start()
	defer n.Close()
	ctx, req := tp.Tracer("caddy").Start(t.Context(), "request")
	n.Send(ctx, []string{"hook"}, Message{ID: "msg_traced", Event: "qgov.approval.requested"})
	req.End()
	require.Eventually(t, func() bool { return rc.taken()["msg_traced"] == 1 }, 5*time.Second, 5*time.Millisecond)
	n.Close()

	var sent sdktrace.ReadOnlySpan
	var tries []sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		switch s.Name() {
		case "qgov.notify":
			sent = s
		case "qgov.notify.deliver":
			tries = append(tries, s)
		}
	}
	require.NotNil(t, sent)
	assert.Equal(t, req.SpanContext().SpanID(), sent.Parent().SpanID(), "the sending is a span of the request")
	require.Len(t, tries, 2, "a failed try and a retry")
	for _, s := range tries {
		assert.Equal(t, sent.SpanContext().TraceID(), s.SpanContext().TraceID())
		assert.Equal(t, sent.SpanContext().SpanID(), s.Parent().SpanID())
	}
	assert.Equal(t, codes.Error, tries[0].Status().Code)
	assert.Equal(t, codes.Unset, tries[1].Status().Code)
}

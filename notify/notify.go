// Package notify delivers notifications (budget alerts, policy notices,
// approval requests and decisions) to channels: webhooks that receive
// the message as JSON, Slack incoming webhooks, and email over SMTP.
// A message is kept in the store's outbox before Send returns, and is
// delivered at least once, by whichever replica claims it, with
// exponential backoff and jitter between tries and the same id in each;
// a message that cannot be delivered is reported to Options.OnFailure.
package notify

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Channel formats.
const (
	// FormatJSON posts the Message as JSON (default for http(s) URLs).
	FormatJSON = "json"
	// FormatSlack posts {"text": …}, a Slack incoming webhook's format
	// (default for hooks.slack.com).
	FormatSlack = "slack"
	// FormatEmail sends a mail over SMTP (smtp:// and smtps:// URLs).
	FormatEmail = "email"
)

// Channel is a named destination.
type Channel struct {
	// Name is what tenants list in notification_channels, e.g. "slack".
	Name string `json:"name"`
	// URL is an http(s) webhook, or for email
	// smtp://user:password@host:587 (STARTTLS when offered) or
	// smtps://…:465 (TLS). Use a placeholder such as {env.SLACK_WEBHOOK}
	// for a URL that holds a secret.
	URL string `json:"url"`
	// Format is json, slack or email; default from the URL.
	Format string `json:"format,omitempty"`
	// From and To address an email channel's mails; the message's own
	// recipients (the submitter, named users) are added to To.
	From string   `json:"from,omitempty"`
	To   []string `json:"to,omitempty"`
	// Secret signs a webhook's messages as the Standard Webhooks
	// specification describes (webhook-id, webhook-timestamp and
	// webhook-signature headers, HMAC-SHA256), so that its receiver can
	// tell qgov's messages from anyone's: "whsec_" and the base64 key.
	// Give it as a placeholder, such as {env.PAGER_WEBHOOK_SECRET}.
	Secret string `json:"secret,omitempty"`
	// Tenants are the tenants whose policies, workflows and settings
	// created through the governance API may name the channel ("*": every
	// tenant); without them only configuration names it.
	Tenants []string `json:"tenants,omitempty"`
}

// Message is one notification.
type Message struct {
	// ID names the message, the same in every try of every channel, so
	// that a receiver can deduplicate (the webhook-id header). Send sets
	// one when it is empty.
	ID string `json:"id"`
	// Event names what happened, e.g. "qgov.budget.threshold".
	Event string `json:"event"`
	// Tenant is the tenant the message is about.
	Tenant string `json:"tenant"`
	// Text is the human sentence (the field Slack displays).
	Text string `json:"text"`
	// Recipients name who the message is for: roles ("role team_lead"),
	// users and email addresses. Email channels mail the addresses.
	Recipients []string `json:"recipients,omitempty"`
	// Data holds the event's figures (a job's id, a budget's percent).
	Data map[string]any `json:"data,omitempty"`
	// Time is when the message was sent; Send sets it when it is zero.
	Time time.Time `json:"time"`
}

// Options tune a Notifier.
type Options struct {
	// Logger hears of deliveries given up and of outbox troubles.
	Logger *slog.Logger
	// OnFailure hears of each message that could not be delivered after
	// every retry: the dead letter, which the gateway audits. It runs on
	// a delivery goroutine, before the message leaves the outbox; when it
	// fails (the audit trail is full), the message stays and is tried
	// again later.
	OnFailure func(channel string, m Message, err error) error
	// Retries are the waits before each retry, each drawn at random
	// between half of it and all of it, so that receivers coming back are
	// not hit by every sender at once. Default: exponential, 1 s doubling
	// to 32 s (six retries over about a minute).
	Retries []time.Duration
	// Holder names this notifier in the claims it takes on outbox
	// records (a replica's node name); a random suffix tells this run
	// from the node's earlier ones.
	Holder string
	// Poll is how often the outbox is read for messages other replicas
	// left and retries that fell due. Default: 1 s.
	Poll time.Duration
	// Nodes, when set, tells whether the node that holds a claim still
	// runs, so that a replica killed during a try does not hold its
	// record until the claim lapses.
	Nodes Liveness
}

// parallel bounds a notifier's tries under way, and perChannel those of
// one channel, so that a slow channel holds back neither the others nor
// the reading of the outbox.
const (
	parallel   = 8
	perChannel = 4
)

// closeGrace is how long Close lets tries under way finish before it
// cuts them short (a try cut short may have reached its receiver, and is
// made again).
const closeGrace = 5 * time.Second

// Notifier sends messages to channels. Send keeps each message in the
// outbox before it returns; a delivery loop, in each replica, claims
// the records due, tries them, and removes each once its channel took
// it or its last try failed and was reported. Delivery is at least once:
// a try whose outcome is not recorded (a replica killed, a store that
// failed, a try cut short by Close) is made again under the same id.
type Notifier struct {
	channels map[string]*sender
	opts     Options
	outbox   Outbox
	holder   string
	wakeup   chan struct{}
	stats    Stats

	mu       sync.Mutex
	started  bool
	closed   bool
	inFlight int
	busy     map[string]int // tries under way by channel
	// unreadable holds the outbox records that cannot be read and could
	// not be reported, with when to report them again.
	unreadable map[string]time.Time
	// provider is the tracer provider of traced requests (providerBox),
	// for the spans of tries.
	provider atomic.Value
	// starved is set when the last read of the outbox left a due record
	// for want of room: a try that ends then reads it again.
	starved atomic.Bool

	// stopLoop ends the loop (loopDone closes after); stopTries cuts the
	// tries under way short (tries counts them).
	loopCtx, tryCtx     context.Context
	stopLoop, stopTries context.CancelFunc
	loopDone            chan struct{}
	tries               sync.WaitGroup
}

// Stats count what a notifier did with its messages since it started.
type Stats struct {
	// Delivered counts messages a channel took, Retried the sends tried
	// again after a failure, and Failed the messages given up after the
	// last try.
	Delivered, Retried, Failed atomic.Int64
	// Pending is the outbox's records, every replica's, at the last
	// whole read.
	Pending atomic.Int64
}

// Stats returns the notifier's counts.
func (n *Notifier) Stats() *Stats { return &n.stats }

// New checks the channels; messages sent are kept in the outbox, and
// delivered once Start is called.
func New(channels []Channel, outbox Outbox, opts Options) (*Notifier, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Retries == nil {
		opts.Retries = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second}
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if outbox == nil {
		return nil, errors.New("notifications need an outbox")
	}
	senders, err := check(channels)
	if err != nil {
		return nil, err
	}
	n := &Notifier{channels: senders, opts: opts, outbox: outbox, holder: opts.Holder + "/" + rand.Text()[:10],
		wakeup: make(chan struct{}, 1), busy: map[string]int{}, unreadable: map[string]time.Time{}, loopDone: make(chan struct{})}
	n.loopCtx, n.stopLoop = context.WithCancel(context.Background())
	n.tryCtx, n.stopTries = context.WithCancel(context.Background())
	return n, nil
}

// Start begins delivering what the outbox holds, this replica's
// messages and those others left; it does nothing after Close.
func (n *Notifier) Start() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || n.started {
		return
	}
	n.started = true
	go n.loop()
}

// Check reports what is wrong with channels, as New would, without
// starting to deliver.
func Check(channels []Channel) error {
	_, err := check(channels)
	return err
}

// check builds each channel's sender.
func check(channels []Channel) (map[string]*sender, error) {
	senders := map[string]*sender{}
	var errs []error
	for _, c := range channels {
		s, err := newSender(c)
		switch {
		case c.Name == "":
			errs = append(errs, errors.New("notification channel: a name is required"))
		case err != nil:
			errs = append(errs, fmt.Errorf("notification channel %q: %w", c.Name, err))
		case senders[c.Name] != nil:
			errs = append(errs, fmt.Errorf("notification channel %q: declared twice", c.Name))
		}
		senders[c.Name] = s
	}
	return senders, errors.Join(errs...)
}

// Has reports whether a channel is configured.
func (n *Notifier) Has(name string) bool { return n.channels[name] != nil }

// Send keeps the message in the outbox for each named channel, and
// returns once it is there; names without a configured channel are
// logged and skipped. A message the outbox cannot take is reported as
// failed at once. After Close messages are still kept, for another
// replica or the next start to deliver.
func (n *Notifier) Send(ctx context.Context, names []string, m Message) {
	if m.Time.IsZero() {
		m.Time = time.Now().UTC()
	}
	if m.ID == "" {
		m.ID = "msg_" + rand.Text()
	}
	var known []string
	for _, name := range names {
		if n.channels[name] == nil {
			n.opts.Logger.Warn("notification channel not configured", "channel", name, "event", m.Event, "tenant", m.Tenant)
			continue
		}
		known = append(known, name)
	}
	if len(known) == 0 {
		return
	}
	traceparent := n.sent(ctx, m)
	// the channels' records are written at once: one store round trip
	// (and, on bbolt, one shared commit) rather than one per channel
	var wg sync.WaitGroup
	for _, name := range known {
		wg.Go(func() {
			if err := n.enqueue(context.WithoutCancel(ctx), name, m, traceparent); err != nil {
				_ = n.failed(name, m, err)
			}
		})
	}
	wg.Wait()
	n.wake()
}

// wake has the loop read the outbox again.
func (n *Notifier) wake() {
	select {
	case n.wakeup <- struct{}{}:
	default:
	}
}

// failed reports a message given up, and returns OnFailure's error:
// only a message reported is counted as failed.
func (n *Notifier) failed(channel string, m Message, err error) error {
	n.opts.Logger.Error("notification not delivered", "channel", channel, "event", m.Event, "id", m.ID, "error", err)
	if n.opts.OnFailure != nil {
		if err := n.opts.OnFailure(channel, m, err); err != nil {
			return err
		}
	}
	n.stats.Failed.Add(1)
	return nil
}

// sweepGap is the least time between two reads of the outbox, however
// often messages are sent or fall due.
func (n *Notifier) sweepGap() time.Duration { return min(n.opts.Poll, 100*time.Millisecond) }

// loop reads the outbox when a message is sent here, when a try ends
// that a due record waits for, when a record falls due, and every Poll
// for what other replicas left.
func (n *Notifier) loop() {
	defer close(n.loopDone)
	ctx := n.loopCtx
	for {
		wait := n.opts.Poll
		if next := n.sweep(ctx); !next.IsZero() {
			wait = min(wait, time.Until(next))
		}
		last := time.Now() // the gap runs from a sweep's end, however long it took
		t := time.NewTimer(max(wait, n.sweepGap()-time.Since(last)))
		select {
		case <-n.wakeup:
			t.Stop()
			t = time.NewTimer(n.sweepGap() - time.Since(last))
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		if ctx.Err() != nil {
			return
		}
	}
}

// jitter is a wait drawn at random between half of d and d.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + mathrand.N(d/2+1)
}

// Close stops delivering: it lets tries under way finish for up to
// closeGrace, then cuts them short and frees their records. What is not
// delivered stays in the outbox for the next start or another replica.
func (n *Notifier) Close() {
	n.mu.Lock()
	started := n.started
	n.closed = true
	n.mu.Unlock()
	n.stopLoop()
	if started {
		<-n.loopDone
	}
	done := make(chan struct{})
	go func() { n.tries.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeGrace):
		n.stopTries()
		<-done
	}
	n.stopTries()
}

// recipientsAt are the email addresses among recipients.
func recipientsAt(rs []string) []string {
	var out []string
	for _, r := range rs {
		if strings.Contains(r, "@") && !strings.ContainsAny(r, " \r\n") {
			out = append(out, r)
		}
	}
	return out
}

// redact removes a URL from an error, which may hold a secret.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

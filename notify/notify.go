// Package notify delivers notifications (budget alerts, policy notices,
// approval requests and decisions) to channels: webhooks that receive
// the message as JSON, Slack incoming webhooks, and email over SMTP.
// Delivery is asynchronous with retries and backoff, so it never delays
// a request; a message that cannot be delivered is reported to
// Options.OnFailure.
package notify

import (
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
	Event  string `json:"event"`
	Tenant string `json:"tenant"`
	// Text is the human sentence (the field Slack displays).
	Text string `json:"text"`
	// Recipients name who the message is for: roles ("role team_lead"),
	// users and email addresses. Email channels mail the addresses.
	Recipients []string       `json:"recipients,omitempty"`
	Data       map[string]any `json:"data,omitempty"`
	Time       time.Time      `json:"time"`
}

// Options tune a Notifier.
type Options struct {
	Logger *slog.Logger
	// OnFailure hears of each message that could not be delivered after
	// every retry. It runs on a delivery goroutine.
	OnFailure func(channel string, m Message, err error)
	// Retries are the waits before each retry, each drawn at random
	// between half of it and all of it, so that receivers coming back are
	// not hit by every sender at once. Default: exponential, 1 s doubling
	// to 32 s (six retries over about a minute).
	Retries []time.Duration
}

// queueSize bounds the messages waiting for delivery; past it new ones
// are refused and reported as failures.
const queueSize = 1024

// parallel bounds concurrent deliveries, so one slow channel does not
// hold back the others.
const parallel = 8

// Notifier sends messages to channels.
type Notifier struct {
	channels map[string]*sender
	opts     Options
	queue    chan delivery
	mu       sync.RWMutex
	closed   bool
	wg       sync.WaitGroup
	stats    Stats
	// closing is closed by Close: retries stop waiting.
	closing chan struct{}
}

// Stats count what a notifier did with its messages since it started.
type Stats struct {
	// Delivered counts messages a channel took, Retried the sends tried
	// again after a failure, and Failed the messages given up after the
	// last try.
	Delivered, Retried, Failed atomic.Int64
}

// Stats returns the notifier's counts.
func (n *Notifier) Stats() *Stats { return &n.stats }

type delivery struct {
	s   *sender
	msg Message
}

// New checks the channels and starts delivering.
func New(channels []Channel, opts Options) (*Notifier, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Retries == nil {
		opts.Retries = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second}
	}
	senders, err := check(channels)
	if err != nil {
		return nil, err
	}
	n := &Notifier{channels: senders, opts: opts, queue: make(chan delivery, queueSize), closing: make(chan struct{})}
	n.wg.Add(1)
	go n.deliver()
	return n, nil
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

// Send queues a message for each named channel; names without a
// configured channel are logged and skipped.
func (n *Notifier) Send(names []string, m Message) {
	if m.Time.IsZero() {
		m.Time = time.Now().UTC()
	}
	if m.ID == "" {
		m.ID = "msg_" + rand.Text()
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		n.opts.Logger.Warn("notifier closed: message dropped", "event", m.Event, "tenant", m.Tenant)
		return
	}
	for _, name := range names {
		s := n.channels[name]
		if s == nil {
			n.opts.Logger.Warn("notification channel not configured", "channel", name, "event", m.Event, "tenant", m.Tenant)
			continue
		}
		select {
		case n.queue <- delivery{s, m}:
		default:
			n.failed(name, m, errors.New("the notification queue is full"))
		}
	}
}

func (n *Notifier) failed(channel string, m Message, err error) {
	n.stats.Failed.Add(1)
	n.opts.Logger.Error("notification not delivered", "channel", channel, "event", m.Event, "error", err)
	if n.opts.OnFailure != nil {
		n.opts.OnFailure(channel, m, err)
	}
}

func (n *Notifier) deliver() {
	defer n.wg.Done()
	slots := make(chan struct{}, parallel)
	for d := range n.queue {
		slots <- struct{}{}
		n.wg.Add(1)
		go func() {
			defer func() { <-slots; n.wg.Done() }()
			err := d.s.send(d.msg)
			for _, wait := range n.opts.Retries {
				if err == nil {
					break
				}
				select { // once closing, the remaining tries go at once
				case <-time.After(jitter(wait)):
				case <-n.closing:
				}
				n.stats.Retried.Add(1)
				err = d.s.send(d.msg)
			}
			if err != nil {
				n.failed(d.s.ch.Name, d.msg, err)
				return
			}
			n.stats.Delivered.Add(1)
		}()
	}
}

// jitter is a wait drawn at random between half of d and d.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + mathrand.N(d/2+1)
}

// Close stops accepting messages and waits for those queued to be
// delivered or to fail; their remaining retries no longer wait.
func (n *Notifier) Close() {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.queue)
		close(n.closing)
	}
	n.mu.Unlock()
	n.wg.Wait()
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

// Package notify delivers notifications (budget alerts, and what
// policies ask to announce) to webhook channels: a JSON POST per message,
// shaped so that Slack and Teams incoming webhooks show its text.
// Delivery is asynchronous with retries, so it never delays a request.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Channel is a named webhook.
type Channel struct {
	// Name is what tenants list in notification_channels, e.g. "slack".
	Name string `json:"name"`
	// URL receives a POST of each message as JSON. Use a placeholder
	// such as {env.SLACK_WEBHOOK} for a URL that holds a secret.
	URL string `json:"url"`
}

// Message is one notification.
type Message struct {
	// Event names what happened, e.g. "qgov.budget.threshold".
	Event  string `json:"event"`
	Tenant string `json:"tenant"`
	// Text is the human sentence (the field Slack displays).
	Text string         `json:"text"`
	Data map[string]any `json:"data,omitempty"`
	Time time.Time      `json:"time"`
}

// queueSize bounds the messages waiting for delivery; past it new ones
// are dropped and logged.
const queueSize = 1024

// Notifier sends messages to channels.
type Notifier struct {
	channels map[string]Channel
	client   *http.Client
	logger   *slog.Logger
	queue    chan delivery
	retries  []time.Duration
	mu       sync.RWMutex
	closed   bool
}

type delivery struct {
	ch  Channel
	msg Message
}

// New checks the channels and starts delivering.
func New(channels []Channel, logger *slog.Logger) (*Notifier, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{channels: map[string]Channel{}, client: &http.Client{Timeout: 10 * time.Second}, logger: logger,
		queue: make(chan delivery, queueSize), retries: []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}}
	var errs []error
	for _, c := range channels {
		u, err := url.Parse(c.URL)
		switch {
		case c.Name == "":
			errs = append(errs, errors.New("notification channel: a name is required"))
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			errs = append(errs, fmt.Errorf("notification channel %q: the webhook URL must be http(s)://host/…", c.Name))
		case n.channels[c.Name].Name != "":
			errs = append(errs, fmt.Errorf("notification channel %q: declared twice", c.Name))
		}
		n.channels[c.Name] = c
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	go n.deliver()
	return n, nil
}

// Send queues a message for each named channel; names without a
// configured channel are logged and skipped.
func (n *Notifier) Send(names []string, m Message) {
	if m.Time.IsZero() {
		m.Time = time.Now().UTC()
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		n.logger.Warn("notifier closed: message dropped", "event", m.Event, "tenant", m.Tenant)
		return
	}
	for _, name := range names {
		ch, ok := n.channels[name]
		if !ok {
			n.logger.Warn("notification channel not configured", "channel", name, "event", m.Event, "tenant", m.Tenant)
			continue
		}
		select {
		case n.queue <- delivery{ch, m}:
		default:
			n.logger.Error("notification queue full: message dropped", "channel", name, "event", m.Event)
		}
	}
}

func (n *Notifier) deliver() {
	for d := range n.queue {
		err := n.post(d)
		for _, wait := range n.retries {
			if err == nil {
				break
			}
			time.Sleep(wait)
			err = n.post(d)
		}
		if err != nil {
			n.logger.Error("notification not delivered", "channel", d.ch.Name, "event", d.msg.Event, "error", err)
		}
	}
}

func (n *Notifier) post(d delivery) error {
	body, _ := json.Marshal(d.msg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.ch.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a secret
		}
		return fmt.Errorf("posting to the webhook: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("the webhook answered %d", resp.StatusCode)
	}
	return nil
}

// Close stops accepting messages; those queued are still delivered.
func (n *Notifier) Close() {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.queue)
	}
	n.mu.Unlock()
}

package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	gomail "github.com/wneessen/go-mail"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sender delivers to one channel.
type sender struct {
	ch     Channel
	u      *url.URL
	client *http.Client
	// key signs a webhook's messages (Channel.Secret), when set.
	key []byte
}

func newSender(c Channel) (*sender, error) {
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" {
		return nil, errors.New("the URL must be http(s)://host/… or smtp(s)://host:port")
	}
	// a webhook is posted to its URL only: a redirect is a failure, never
	// followed to a host the operator did not name (with the URL, which
	// may hold a secret, as its Referer)
	s := &sender{ch: c, u: u, client: &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	switch u.Scheme {
	case "http", "https":
		if c.Secret != "" {
			key, ok := strings.CutPrefix(c.Secret, "whsec_")
			if s.key, err = base64.StdEncoding.DecodeString(key); !ok || err != nil || len(s.key) < 16 {
				return nil, errors.New(`the secret must be "whsec_" and a base64 key of 16 bytes or more`)
			}
		}
		if s.ch.Format == "" {
			s.ch.Format = FormatJSON
			if u.Hostname() == "hooks.slack.com" {
				s.ch.Format = FormatSlack
			}
		}
		if s.ch.Format != FormatJSON && s.ch.Format != FormatSlack {
			return nil, fmt.Errorf("format %q: a webhook posts json or slack", s.ch.Format)
		}
	case "smtp", "smtps":
		if s.ch.Format != "" && s.ch.Format != FormatEmail {
			return nil, fmt.Errorf("format %q: an smtp URL sends email", s.ch.Format)
		}
		s.ch.Format = FormatEmail
		if _, err := mail.ParseAddress(c.From); err != nil {
			return nil, fmt.Errorf("an email channel needs a valid from address: %w", err)
		}
		for _, to := range c.To {
			if _, err := mail.ParseAddress(to); err != nil {
				return nil, fmt.Errorf("to %q: %w", to, err)
			}
		}
	default:
		return nil, errors.New("the URL must be http(s)://host/… or smtp(s)://host:port")
	}
	return s, nil
}

// send tries the message once; ctx ends it early.
func (s *sender) send(ctx context.Context, m Message) error {
	if s.ch.Format == FormatEmail {
		return s.mail(ctx, m)
	}
	var body []byte
	if s.ch.Format == FormatSlack {
		body, _ = json.Marshal(map[string]string{"text": m.Text})
	} else {
		body, _ = json.Marshal(m)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.ch.URL, bytes.NewReader(body))
	if err != nil {
		return redact(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if s.key != nil {
		s.sign(req.Header, m.ID, time.Now(), body)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("posting to the webhook: %w", redact(err))
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("the webhook answered %d", resp.StatusCode)
	}
	return nil
}

// sign adds the Standard Webhooks headers: the message's id, the time
// of this try, and "v1," and the base64 HMAC-SHA256 of
// "<id>.<timestamp>.<body>" under the channel's key.
func (s *sender) sign(h http.Header, id string, now time.Time, body []byte) {
	ts := strconv.FormatInt(now.Unix(), 10)
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}

// mail sends m to the channel's To and the message's addresses, through
// go-mail: STARTTLS when the server offers it (TLS from the start for
// smtps), PLAIN authentication with the URL's user, an RFC 2047 subject,
// a Date, a Message-ID, and the message's id for receivers that
// deduplicate.
func (s *sender) mail(ctx context.Context, m Message) error {
	to := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(s.ch.To), recipientsAt(m.Recipients)...))))
	if len(to) == 0 {
		return errors.New("the mail has no recipients")
	}
	msg := gomail.NewMsg()
	if err := msg.From(s.ch.From); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if err := msg.To(to...); err != nil {
		return fmt.Errorf("to: %w", err)
	}
	msg.Subject(fmt.Sprintf("[qgov] %s (%s)", m.Event, m.Tenant))
	msg.SetDateWithValue(m.Time)
	msg.SetMessageID()
	msg.SetGenHeader("X-Qgov-Message-Id", m.ID)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	port := map[string]int{"smtp": 25, "smtps": 465}[s.u.Scheme]
	if p, err := strconv.Atoi(s.u.Port()); err == nil {
		port = p
	}
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTimeout(30 * time.Second), gomail.WithoutNoop(),
		gomail.WithTLSConfig(&tls.Config{ServerName: s.u.Hostname(), MinVersion: tls.VersionTLS12})}
	if s.u.Scheme == "smtps" {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if user := s.u.User; user != nil {
		pass, _ := user.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(user.Username()), gomail.WithPassword(pass))
	}
	c, err := gomail.NewClient(s.u.Hostname(), opts...)
	if err != nil {
		return fmt.Errorf("the mail server: %w", redact(err))
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("sending the mail: %w", redact(err))
	}
	return nil
}

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
	"net"
	"net/http"
	"net/mail"
	"net/smtp"
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
	s := &sender{ch: c, u: u, client: &http.Client{Timeout: 10 * time.Second}}
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

func (s *sender) send(m Message) error {
	if s.ch.Format == FormatEmail {
		return s.mail(m)
	}
	var body []byte
	if s.ch.Format == FormatSlack {
		body, _ = json.Marshal(map[string]string{"text": m.Text})
	} else {
		body, _ = json.Marshal(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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

// mail sends m to the channel's To and the message's addresses.
func (s *sender) mail(m Message) error {
	to := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(s.ch.To), recipientsAt(m.Recipients)...))))
	if len(to) == 0 {
		return errors.New("the mail has no recipients")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: [qgov] %s (%s)\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		s.ch.From, strings.Join(to, ", "), m.Event, m.Tenant, m.Time.Format(time.RFC1123Z), strings.ReplaceAll(m.Text, "\n", "\r\n"))
	host := s.u.Host
	if s.u.Port() == "" {
		host = net.JoinHostPort(s.u.Hostname(), map[string]string{"smtp": "25", "smtps": "465"}[s.u.Scheme])
	}
	var conn net.Conn
	var err error
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	if s.u.Scheme == "smtps" {
		conn, err = tls.DialWithDialer(dialer, "tcp", host, &tls.Config{ServerName: s.u.Hostname()})
	} else {
		conn, err = dialer.Dial("tcp", host)
	}
	if err != nil {
		return fmt.Errorf("connecting to the mail server: %w", err)
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	c, err := smtp.NewClient(conn, s.u.Hostname())
	if err != nil {
		conn.Close()
		return fmt.Errorf("greeting the mail server: %w", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok && s.u.Scheme == "smtp" {
		if err := c.StartTLS(&tls.Config{ServerName: s.u.Hostname()}); err != nil {
			return fmt.Errorf("starting TLS with the mail server: %w", err)
		}
	}
	if user := s.u.User; user != nil {
		pass, _ := user.Password()
		if err := c.Auth(smtp.PlainAuth("", user.Username(), pass, s.u.Hostname())); err != nil {
			return fmt.Errorf("signing in to the mail server: %w", err)
		}
	}
	if err := c.Mail(addr(s.ch.From)); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, r := range to {
		if err := c.Rcpt(addr(r)); err != nil {
			return fmt.Errorf("rcpt to %s: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write([]byte(b.String())); err != nil {
		return fmt.Errorf("writing the mail: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("the mail server refused the mail: %w", err)
	}
	return c.Quit()
}

func addr(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	return s
}

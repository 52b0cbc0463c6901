package notify

import (
	"bufio"
	"net"
	"strings"
	"testing"
)

// smtpServer is a local SMTP server speaking the protocol's core
// (RFC 5321: HELO/EHLO, MAIL, RCPT, DATA, QUIT) over real TCP.
type smtpServer struct {
	addr  string
	mails chan received
}

type received struct {
	from string
	to   []string
	data string
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &smtpServer{addr: ln.Addr().String(), mails: make(chan received, 8)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	say := func(line string) { _, _ = w.WriteString(line + "\r\n"); _ = w.Flush() }
	say("220 localhost ESMTP")
	var m received
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(line, "\r\n")
		upper := strings.ToUpper(cmd)
		switch {
		case strings.HasPrefix(upper, "EHLO"), strings.HasPrefix(upper, "HELO"):
			say("250 localhost")
		case strings.HasPrefix(upper, "MAIL FROM:"):
			m = received{from: strings.Trim(cmd[len("MAIL FROM:"):], "<> ")}
			say("250 OK")
		case strings.HasPrefix(upper, "RCPT TO:"):
			m.to = append(m.to, strings.Trim(cmd[len("RCPT TO:"):], "<> "))
			say("250 OK")
		case upper == "DATA":
			say("354 end with .")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			m.data = b.String()
			s.mails <- m
			say("250 queued")
		case upper == "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

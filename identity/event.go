package identity

import "github.com/qgov/qgov/audit"

// Event is what an identity endpoint did, for the audit trail: the
// caller (when known), the action, the key or session acted on, whose it
// is, and for changes the object before and after. It never holds a
// secret.
type Event struct {
	Principal *Principal
	Action    string
	Resource  audit.Resource
	// Subject is the user whose key or session it is, when not the
	// caller.
	Subject       string
	Before, After any
	// Code and Reason describe an error already answered (IssueToken).
	Code, Reason string
}

// object names what the event acted on.
func (e *Event) object(kind, id string) {
	if id != "" {
		e.Resource = audit.Resource{Type: kind, ID: id}
	}
}

// sessionID is the principal's browser session, if any.
func (p *Principal) sessionID() string {
	if p == nil {
		return ""
	}
	return p.SessionID
}

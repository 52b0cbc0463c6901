package identity

import (
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/qgov/qgov/runtimeapi"
)

// rateLimits holds a token bucket per API key with a rate limit. The
// buckets are per replica.
type rateLimits struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// CheckRate applies an API key's requests-per-minute limit.
func (a *Authenticator) CheckRate(p *Principal) *runtimeapi.Error {
	if p.RateLimit <= 0 {
		return nil
	}
	now := a.Now()
	lim := a.limits.bucket(p.KeyID, p.RateLimit)
	r := lim.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if delay == 0 {
		return nil
	}
	r.CancelAt(now)
	wait := int(math.Ceil(delay.Seconds()))
	e := runtimeapi.Errorf(http.StatusTooManyRequests, "rate_limited", fmt.Sprintf(
		"API key %s is limited to %d requests per minute (rule: the key's rate_limit); retry in %ds, at %s",
		p.KeyID, p.RateLimit, wait, now.Add(delay).UTC().Format(time.RFC3339)))
	e.RetryAfter = wait
	return e
}

func (l *rateLimits) bucket(key string, perMinute int) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	limit := rate.Limit(float64(perMinute) / 60)
	b := l.buckets[key]
	if b == nil || b.Limit() != limit {
		if l.buckets == nil || len(l.buckets) >= maxCached {
			l.buckets = map[string]*rate.Limiter{}
		}
		b = rate.NewLimiter(limit, perMinute)
		l.buckets[key] = b
	}
	return b
}

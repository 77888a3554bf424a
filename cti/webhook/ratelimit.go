package webhook

import (
	"time"
)

// The windows of RateLimit, each with a margin: the receiver counts with
// its own clock and sees our requests after a network delay, so we keep a
// little further apart than the limit strictly needs.
const (
	minuteWindow = time.Minute + time.Second
	dayWindow    = 24*time.Hour + time.Minute
)

// requestLog is a sliding-window log of one endpoint's requests.
//
// A token bucket (x/time/rate) with burst N lets through N requests at once
// and then N more as the bucket refills within the same minute: up to 2N-1
// in a sliding minute. A CRM counting calls per minute would refuse the
// excess, so the outbox keeps the times of the last requests instead and
// admits a request only when fewer than the limit fall in the window. The
// memory is bounded by the larger limit (8 bytes per request).
type requestLog struct {
	perMinute, perDay int
	times             []int64 // unix nanoseconds, oldest first
}

func newRequestLog(rl RateLimit) *requestLog {
	return &requestLog{perMinute: rl.PerMinute, perDay: rl.PerDay}
}

// limited reports whether any limit applies.
func (l *requestLog) limited() bool { return l.perMinute > 0 || l.perDay > 0 }

// keep is how many request times the limits need.
func (l *requestLog) keep() int { return max(l.perMinute, l.perDay) }

// span is how far back requests matter.
func (l *requestLog) span() time.Duration {
	if l.perDay > 0 {
		return dayWindow
	}
	return minuteWindow
}

// add records a request made at t.
func (l *requestLog) add(t time.Time) {
	if !l.limited() {
		return
	}
	l.times = append(l.times, t.UnixNano())
	if extra := len(l.times) - l.keep(); extra > 0 {
		// Shift rather than reslice so the backing array does not grow
		// without bound.
		n := copy(l.times, l.times[extra:])
		l.times = l.times[:n]
	}
}

// nextAllowed returns the earliest time at or after now when one more
// request stays within both limits.
func (l *requestLog) nextAllowed(now time.Time) time.Time {
	at := now
	check := func(limit int, window time.Duration) {
		if limit <= 0 || len(l.times) < limit {
			return
		}
		// The limit-th most recent request must have left the window.
		free := time.Unix(0, l.times[len(l.times)-limit]).Add(window)
		if free.After(at) {
			at = free
		}
	}
	check(l.perMinute, minuteWindow)
	check(l.perDay, dayWindow)
	return at
}

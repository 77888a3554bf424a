package trunk

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimits bound what one source IP may send, per request kind. A zero
// field takes its default; a negative rate turns that limit off.
//
// Over the limit, a source gets one 503 with Retry-After per second (so a
// well-behaved carrier backs off) and everything else it sends is dropped
// unparsed: answering a flood would only amplify it.
type RateLimits struct {
	// InvitePerSecond and InviteBurst bound new INVITEs (default 20/s,
	// burst 40: a busy trunk's call rate, far below a flood's).
	InvitePerSecond float64 `json:"invitePerSecond"`
	InviteBurst     int     `json:"inviteBurst"`
	// OptionsPerSecond and OptionsBurst bound OPTIONS pings (default 5/s, 10).
	OptionsPerSecond float64 `json:"optionsPerSecond"`
	OptionsBurst     int     `json:"optionsBurst"`
	// RegisterPerSecond and RegisterBurst bound REGISTER and every method
	// we do not handle (SUBSCRIBE, MESSAGE, …; default 2/s, 5): we are no
	// registrar, so these are scanners.
	RegisterPerSecond float64 `json:"registerPerSecond"`
	RegisterBurst     int     `json:"registerBurst"`
	// Sources bounds how many source IPs are tracked (default 10000); the
	// least recently seen is forgotten first.
	Sources int `json:"sources"`
}

func (r RateLimits) withDefaults() RateLimits {
	def := func(rate *float64, burst *int, dr float64, db int) {
		if *rate == 0 {
			*rate = dr
		}
		if *burst <= 0 {
			*burst = db
		}
	}
	def(&r.InvitePerSecond, &r.InviteBurst, 20, 40)
	def(&r.OptionsPerSecond, &r.OptionsBurst, 5, 10)
	def(&r.RegisterPerSecond, &r.RegisterBurst, 2, 5)
	if r.Sources <= 0 {
		r.Sources = 10000
	}
	return r
}

// limitKind is what a request counts against.
type limitKind int

const (
	limitNone limitKind = iota
	limitInvite
	limitOptions
	limitRegister
	numLimitKinds
)

func kindOf(method string) limitKind {
	switch method {
	case "INVITE":
		return limitInvite
	case "OPTIONS":
		return limitOptions
	case "ACK", "BYE", "CANCEL", "INFO", "PRACK", "UPDATE":
		return limitNone // in-dialog, or tied to a transaction we accepted
	}
	return limitRegister
}

// verdict of the limiter for one request.
type verdict int

const (
	admit  verdict = iota
	refuse         // answer 503 + Retry-After
	drop           // say nothing
)

// sourceLimits is one source IP's state.
type sourceLimits struct {
	ip      netip.Addr
	kinds   [numLimitKinds]*rate.Limiter
	reply   *rate.Limiter // 503s we may still send
	dropped uint64        // since the last log line
	logged  time.Time
}

// limiter is a bounded LRU of per-source token buckets. Safe for
// concurrent use.
type limiter struct {
	cfg RateLimits
	// onExceeded is called (outside the lock) at most every 10 s per
	// source while it is over a limit, with what was dropped meanwhile.
	onExceeded func(ip netip.Addr, method string, dropped uint64)

	mu    sync.Mutex
	lru   *list.List // of *sourceLimits, most recent first
	index map[netip.Addr]*list.Element
}

func newLimiter(cfg RateLimits, onExceeded func(netip.Addr, string, uint64)) *limiter {
	return &limiter{cfg: cfg.withDefaults(), onExceeded: onExceeded, lru: list.New(), index: map[netip.Addr]*list.Element{}}
}

// check counts one request of method from ip.
func (l *limiter) check(ip netip.Addr, method string, now time.Time) verdict {
	k := kindOf(method)
	if k == limitNone {
		return admit
	}
	var perSec float64
	var burst int
	switch k {
	case limitInvite:
		perSec, burst = l.cfg.InvitePerSecond, l.cfg.InviteBurst
	case limitOptions:
		perSec, burst = l.cfg.OptionsPerSecond, l.cfg.OptionsBurst
	case limitRegister:
		perSec, burst = l.cfg.RegisterPerSecond, l.cfg.RegisterBurst
	}
	if perSec < 0 {
		return admit
	}
	l.mu.Lock()
	s := l.sourceLocked(ip.Unmap())
	if s.kinds[k] == nil {
		s.kinds[k] = rate.NewLimiter(rate.Limit(perSec), burst)
	}
	if s.kinds[k].AllowN(now, 1) {
		l.mu.Unlock()
		return admit
	}
	v := drop
	if s.reply.AllowN(now, 1) {
		v = refuse
	}
	s.dropped++
	var report uint64
	if now.Sub(s.logged) >= 10*time.Second {
		report, s.dropped, s.logged = s.dropped, 0, now
	}
	l.mu.Unlock()
	if report > 0 && l.onExceeded != nil {
		l.onExceeded(ip, method, report)
	}
	return v
}

func (l *limiter) sourceLocked(ip netip.Addr) *sourceLimits {
	if e, ok := l.index[ip]; ok {
		l.lru.MoveToFront(e)
		return e.Value.(*sourceLimits)
	}
	for l.lru.Len() >= l.cfg.Sources {
		old := l.lru.Back()
		delete(l.index, old.Value.(*sourceLimits).ip)
		l.lru.Remove(old)
	}
	s := &sourceLimits{ip: ip, reply: rate.NewLimiter(1, 1)}
	l.index[ip] = l.lru.PushFront(s)
	return s
}

// tracked is how many sources are remembered.
func (l *limiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

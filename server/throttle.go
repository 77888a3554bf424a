package server

import (
	"strings"
	"sync"
	"time"
)

// Password guessing is slowed per account and per client IP, over the
// login route and HTTP Basic alike (docs/security.md):
//
//   - the first Free failures of a key cost nothing;
//   - each further failure makes the key wait BaseDelay, doubling per
//     failure (1s, 2s, 4s, …), answered 429 with Retry-After without
//     checking the password, so a throttled guess learns nothing;
//   - at LockoutAfter failures the key is locked for LockoutFor;
//   - a key's failures are forgotten Window after its last failure or
//     lockout, and a successful sign-in clears the account's count;
//   - an attempt is charged when admitted, not when its hash is done, so
//     parallel guesses are throttled like sequential ones.
//
// A lockout always expires, so an attacker can delay the real user by at
// most LockoutFor per LockoutAfter guesses, never lock them out for good.

// ThrottleConfig tunes sign-in throttling. Zero values take the defaults.
type ThrottleConfig struct {
	// AccountFree and IPFree are the failures allowed before delays
	// start: per account (tenant + login) default 5, per client IP
	// default 20 (offices share addresses).
	AccountFree int
	IPFree      int
	// BaseDelay is the first delay, doubled with every further failure.
	// Default 1s.
	BaseDelay time.Duration
	// LockoutAfter failures lock the key for LockoutFor. Defaults 10
	// (per account; the IP's is IPFree+5) and 15 minutes.
	LockoutAfter int
	LockoutFor   time.Duration
	// Window forgets a key's failures after this long without one.
	// Default 15 minutes.
	Window time.Duration
	// MaxKeys bounds the memory the throttle uses. Default 100 000.
	MaxKeys int
}

func (c *ThrottleConfig) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.AccountFree, 5)
	def(&c.IPFree, 20)
	def(&c.LockoutAfter, 10)
	def(&c.MaxKeys, 100_000)
	if c.BaseDelay <= 0 {
		c.BaseDelay = time.Second
	}
	if c.LockoutFor <= 0 {
		c.LockoutFor = 15 * time.Minute
	}
	if c.Window <= 0 {
		c.Window = 15 * time.Minute
	}
}

type throttleEntry struct {
	fails int
	last  time.Time // last failure
	until time.Time // no attempt before this
}

// throttle is the failure book of sign-in attempts.
//
// # Concurrency
//
// Safe for concurrent use; one mutex, held only for map operations.
type throttle struct {
	cfg ThrottleConfig
	now func() time.Time

	mu sync.Mutex
	m  map[string]*throttleEntry
}

func newThrottle(cfg ThrottleConfig) *throttle {
	cfg.setDefaults()
	return &throttle{cfg: cfg, now: time.Now, m: map[string]*throttleEntry{}}
}

func accountKey(tenant, login string) string {
	return "a\x00" + tenant + "\x00" + strings.ToLower(login)
}

func ipKey(ip string) string { return "i\x00" + ip }

// throttleVerdict is why an attempt may not go ahead now.
type throttleVerdict struct {
	wait   time.Duration
	locked bool
}

// attempt admits a sign-in attempt or says how long it must wait. An
// admitted attempt is charged as a failure at once, so that a burst of
// parallel guesses cannot all pass before the first one has failed; the
// caller refunds it when the password turned out right or was never
// checked.
func (t *throttle) attempt(tenant, login, ip string) throttleVerdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var v throttleVerdict
	for _, k := range []string{accountKey(tenant, login), ipKey(ip)} {
		e := t.m[k]
		if e == nil {
			continue
		}
		if t.expired(e, now) {
			delete(t.m, k)
			continue
		}
		if w := e.until.Sub(now); w > v.wait {
			v.wait = w
			v.locked = e.fails >= t.lockoutAfter(k)
		}
	}
	if v.wait <= 0 {
		t.chargeLocked(now, accountKey(tenant, login), ipKey(ip))
	}
	return v
}

// succeeded clears the account's failures and refunds the IP's charge
// (one known password must not buy an attacker fresh guesses at other
// accounts, so the IP's earlier failures stay).
func (t *throttle) succeeded(tenant, login, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, accountKey(tenant, login))
	t.refundLocked(ipKey(ip))
}

// unchecked refunds an attempt whose password was never checked (the
// hashing pool was full, the store failed).
func (t *throttle) unchecked(tenant, login, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refundLocked(accountKey(tenant, login))
	t.refundLocked(ipKey(ip))
}

func (t *throttle) refundLocked(k string) {
	e := t.m[k]
	if e == nil {
		return
	}
	if e.fails--; e.fails <= 0 {
		delete(t.m, k)
		return
	}
	if e.fails <= t.free(k) {
		e.until = time.Time{}
	}
}

func (t *throttle) lockoutAfter(k string) int {
	if strings.HasPrefix(k, "i\x00") {
		return t.cfg.IPFree + 5
	}
	return t.cfg.LockoutAfter
}

func (t *throttle) free(k string) int {
	if strings.HasPrefix(k, "i\x00") {
		return t.cfg.IPFree
	}
	return t.cfg.AccountFree
}

func (t *throttle) expired(e *throttleEntry, now time.Time) bool {
	return now.Sub(e.last) >= t.cfg.Window && !now.Before(e.until)
}

// chargeLocked counts a failure against each key; t.mu is held.
func (t *throttle) chargeLocked(now time.Time, keys ...string) {
	for _, k := range keys {
		e := t.m[k]
		if e == nil || t.expired(e, now) {
			t.makeRoom(now)
			e = &throttleEntry{}
			t.m[k] = e
		}
		e.fails++
		e.last = now
		switch free := t.free(k); {
		case e.fails >= t.lockoutAfter(k):
			e.until = now.Add(t.cfg.LockoutFor)
		case e.fails > free:
			d := t.cfg.BaseDelay << min(e.fails-free-1, 20)
			e.until = now.Add(min(d, t.cfg.LockoutFor))
		}
	}
}

// makeRoom keeps the map under MaxKeys: expired entries go first; if that
// is not enough the map starts afresh, which forgets some failures but
// keeps a flood of made-up logins from exhausting memory.
func (t *throttle) makeRoom(now time.Time) {
	if len(t.m) < t.cfg.MaxKeys {
		return
	}
	for k, e := range t.m {
		if t.expired(e, now) {
			delete(t.m, k)
		}
	}
	if len(t.m) >= t.cfg.MaxKeys {
		clear(t.m)
	}
}

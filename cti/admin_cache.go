package cti

import (
	"context"
	"sync"
	"time"
)

// adminCacheTTL bounds how stale a cached tenant setting or user state may
// be. Writes through Service drop the entry at once; the TTL is for writes
// made by another process on the same database (ringbridge admin), which
// then take effect within this time, without a restart.
const adminCacheTTL = time.Second

// settingsCache keeps each tenant's stored settings for adminCacheTTL, so
// a call reading them several times costs one store read at most.
type settingsCache struct {
	mu sync.Mutex
	m  map[string]cachedSettings
}

type cachedSettings struct {
	s     TenantSettings
	found bool
	at    time.Time
}

// get returns the tenant's stored settings, or false when it has none (or
// the store cannot say; the call then runs with Config's settings rather
// than failing).
func (c *settingsCache) get(st Store, tenantID string) (TenantSettings, bool) {
	if st == nil {
		return TenantSettings{}, false
	}
	c.mu.Lock()
	e, ok := c.m[tenantID]
	c.mu.Unlock()
	if ok && time.Since(e.at) < adminCacheTTL {
		return e.s, e.found
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ts, err := st.GetSettings(ctx, tenantID)
	e = cachedSettings{at: time.Now()}
	switch {
	case err == nil:
		e.s, e.found = *ts, true
	case ErrorKind(err) != KindNotFound:
		// Not cached: the next read tries the store again.
		return TenantSettings{}, false
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]cachedSettings{}
	}
	c.m[tenantID] = e
	c.mu.Unlock()
	return e.s, e.found
}

func (c *settingsCache) invalidate(tenantID string) {
	c.mu.Lock()
	delete(c.m, tenantID)
	c.mu.Unlock()
}

// userCache remembers for adminCacheTTL whether a user may act, so that
// checking it on every request and websocket message costs no store read.
type userCache struct {
	mu sync.Mutex
	m  map[userKey]cachedUser
}

type userKey struct{ tenant, id string }

type cachedUser struct {
	u  *User // nil: deleted
	at time.Time
}

func (c *userCache) get(k userKey) (*User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || time.Since(e.at) >= adminCacheTTL {
		return nil, false
	}
	return e.u, true
}

func (c *userCache) put(k userKey, u *User) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[userKey]cachedUser{}
	}
	c.m[k] = cachedUser{u: u, at: time.Now()}
	c.mu.Unlock()
}

func (c *userCache) invalidate(k userKey) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

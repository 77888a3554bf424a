package cti

import (
	"context"
	"sync"
	"time"
)

// adminCacheTTL bounds how stale a cached tenant setting may be. Writes
// through Service drop the entry at once; the TTL is for writes made by
// another process on the same database (ringbridge admin), which then take
// effect within this time, without a restart. (Users are cached by the
// access check, revocation.go, with its own TTL.)
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

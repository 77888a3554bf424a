package cti

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Revocation. Access tokens are stateless, so each carries the user's
// TokenEpoch from when it was issued, and every authenticated request
// (and, periodically, every open websocket) asks CheckAccess whether the
// user still exists, is not disabled, still has the role and extension
// the token names, and still has that epoch. The user row is cached for
// AccessCacheTTL so this costs one read per user per TTL, not one per
// request; RevokeUserSessions drops the cache entry so revocations made
// through this process apply at once.

// DefaultAccessCacheTTL is Config.AccessCacheTTL's default.
const DefaultAccessCacheTTL = 2 * time.Second

// maxAccessEntries bounds the cache; beyond it expired entries are swept
// and, if that is not enough, the cache is emptied (it only costs reads).
const maxAccessEntries = 50_000

// Reasons CheckAccess refuses a principal. They are KindUnauthorized so
// the edge answers 401 and clients sign in again (and fail, if disabled).
var (
	ErrUserGone     = &Error{Kind: KindUnauthorized, Message: "the account no longer exists"}
	ErrUserDisabled = &Error{Kind: KindUnauthorized, Message: "the account is disabled"}
	ErrSessionStale = &Error{Kind: KindUnauthorized, Message: "the account's role or extension changed; sign in again"}
	ErrRevoked      = &Error{Kind: KindUnauthorized, Message: "the session was revoked; sign in again"}
)

type accessEntry struct {
	user *UserAccess // nil: the user does not exist
	at   time.Time
}

// accessCache holds recently read user rows.
type accessCache struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[agentKey]accessEntry // agentKey{tenant, userID}
	// forgets counts forget calls: a row read before a revocation must
	// not be put back after the revocation dropped it.
	forgets uint64
}

func newAccessCache(ttl time.Duration) *accessCache {
	if ttl <= 0 {
		ttl = DefaultAccessCacheTTL
	}
	return &accessCache{ttl: ttl, now: time.Now, m: map[agentKey]accessEntry{}}
}

func (c *accessCache) get(k agentKey) (accessEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || c.now().Sub(e.at) >= c.ttl {
		return accessEntry{}, false
	}
	return e, true
}

// generation is what put's caller reads before reading the rows.
func (c *accessCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.forgets
}

// put caches e unless something was forgotten since gen (then the rows
// may predate a revocation; the next check reads them again).
func (c *accessCache) put(k agentKey, e accessEntry, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.forgets != gen {
		return
	}
	if len(c.m) >= maxAccessEntries {
		now := c.now()
		for key, old := range c.m {
			if now.Sub(old.at) >= c.ttl {
				delete(c.m, key)
			}
		}
		if len(c.m) >= maxAccessEntries {
			clear(c.m)
		}
	}
	c.m[k] = e
}

func (c *accessCache) forget(k agentKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
	c.forgets++
}

// CheckAccess reports whether a principal established from an access
// token (or at websocket sign-in) may still act: nil, or one of ErrUserGone,
// ErrUserDisabled, ErrSessionStale, ErrRevoked, or a store error.
func (s *Service) CheckAccess(ctx context.Context, p Principal) error {
	_, err := s.checkAccess(ctx, p)
	return err
}

// Authorize is the edge's check of every credential (access token, API
// key, password): CheckAccess, and then the principal completed from the
// stored user with what no credential carries — the super-admin flag and
// the teams — and the current username, so that administrators' changes
// to those apply to the very next request.
func (s *Service) Authorize(ctx context.Context, p Principal) (Principal, error) {
	u, err := s.checkAccess(ctx, p)
	if err != nil {
		return Principal{}, err
	}
	p.Username = u.Username
	p.SuperAdmin = u.SuperAdmin && u.Role == RoleAdmin
	p.Teams = u.Teams
	return p, nil
}

func (s *Service) checkAccess(ctx context.Context, p Principal) (*UserAccess, error) {
	u, err := s.currentUser(ctx, p.TenantID, p.UserID)
	if err != nil {
		return nil, err
	}
	switch {
	case u == nil:
		return nil, ErrUserGone
	case u.Disabled:
		return nil, ErrUserDisabled
	case u.TokenEpoch != p.TokenEpoch:
		return nil, ErrRevoked
	case u.Role != p.Role || u.Extension != p.Extension:
		return nil, ErrSessionStale
	}
	return u, nil
}

// currentUser returns the user's access, from the cache when fresh; nil
// when the user does not exist.
func (s *Service) currentUser(ctx context.Context, tenantID, userID string) (*UserAccess, error) {
	k := agentKey{tenantID, userID}
	if e, ok := s.access.get(k); ok {
		return e.user, nil
	}
	gen, at := s.access.generation(), s.access.now()
	var a *UserAccess
	u, err := s.store.GetUser(ctx, tenantID, userID)
	switch {
	case ErrorKind(err) == KindNotFound:
	case err != nil:
		return nil, fmt.Errorf("access check: %w", err)
	default:
		acc := u.Access()
		a = &acc
	}
	s.access.put(k, accessEntry{user: a, at: at}, gen)
	return a, nil
}

// refreshAccess reads the users of every open agent session into the
// access cache (twice per AccessCacheTTL, from Start), one query per tenant, so that the websockets' periodic
// rechecks (each AuthRecheck) find their rows fresh instead of reading
// one each: at 200 signed-in agents that was about 100 reads a second,
// the largest part of an idle agent's cost.
func (s *Service) refreshAccess(ctx context.Context) {
	s.mu.Lock()
	byTenant := map[string][]string{}
	for _, ss := range s.sessions {
		p := ss.principal
		byTenant[p.TenantID] = append(byTenant[p.TenantID], p.UserID)
	}
	s.mu.Unlock()
	for tenant, ids := range byTenant {
		gen, at := s.access.generation(), s.access.now()
		users, err := s.store.GetUsersAccess(ctx, tenant, ids)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("access refresh failed; sessions read their own rows", "tenant", tenant, "err", err)
			}
			continue
		}
		found := make(map[string]bool, len(users))
		for i := range users {
			found[users[i].ID] = true
			s.access.put(agentKey{tenant, users[i].ID}, accessEntry{user: &users[i], at: at}, gen)
		}
		for _, id := range ids {
			if !found[id] {
				s.access.put(agentKey{tenant, id}, accessEntry{at: at}, gen)
			}
		}
	}
}

// RevokeUserSessions signs a user out everywhere: every access token
// issued so far stops working at once in this process (within
// AccessCacheTTL in others sharing the database), every refresh token is
// deleted, and the user's open agent sessions are closed with a reason.
// It is the hook for administration: call it after disabling a user,
// changing their role or extension, or resetting their password. The
// caller is responsible for authorising the action (and auditing it).
func (s *Service) RevokeUserSessions(ctx context.Context, tenantID, userID string) error {
	_, err := s.revokeUser(ctx, tenantID, userID, ErrRevoked.Message)
	return err
}

// revokeUser is RevokeUserSessions with the reason the client is told;
// it reports how many open sessions it ended (for the audit log).
func (s *Service) revokeUser(ctx context.Context, tenantID, userID, reason string) (int, error) {
	if _, err := s.store.RevokeUserTokens(ctx, tenantID, userID); err != nil {
		return 0, err
	}
	n := s.endUserAccess(tenantID, userID, reason)
	s.log.Info("user sessions revoked", "tenant", tenantID, "user", userID, "sessions", n)
	return n, nil
}

// endUserAccess drops the cached user, so the next access check reads
// the row, and closes the user's open sessions. Alone it is enough for a
// deleted user (nothing left to check against, tokens deleted with the
// row); otherwise revokeUser comes first.
func (s *Service) endUserAccess(tenantID, userID, reason string) int {
	s.access.forget(agentKey{tenantID, userID})
	return s.closeUserSessions(tenantID, userID, reason)
}

// closeUserSessions ends the user's agent sessions, telling the client
// why, and reports how many there were.
func (s *Service) closeUserSessions(tenantID, userID, reason string) int {
	s.mu.Lock()
	var victims []*AgentSession
	for _, ss := range s.sessions {
		if ss.principal.TenantID == tenantID && ss.principal.UserID == userID {
			victims = append(victims, ss)
		}
	}
	s.mu.Unlock()
	for _, ss := range victims {
		ss.Revoke(reason)
	}
	return len(victims)
}

// Passwords is the bounded pool all password hashing goes through.
func (s *Service) Passwords() *HashPool { return s.hashes }

// PruneExpiredTokens deletes expired refresh tokens; the edge runs it
// periodically.
func (s *Service) PruneExpiredTokens(ctx context.Context) (int64, error) {
	return s.store.DeleteExpiredRefreshTokens(ctx, time.Now())
}

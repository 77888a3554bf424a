package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
)

type loginRequest struct {
	Tenant   string `json:"tenant"`
	Login    string `json:"login"`
	Password string `json:"password"`
}

type refreshRequest struct {
	Tenant       string `json:"tenant"`
	RefreshToken string `json:"refreshToken"`
}

type userJSON struct {
	ID          string   `json:"id"`
	TenantID    string   `json:"tenantId"`
	Username    string   `json:"username"`
	DisplayName string   `json:"displayName"`
	Extension   string   `json:"extension"`
	Role        cti.Role `json:"role"`
}

type tokenResponse struct {
	AccessToken  string   `json:"accessToken"`
	TokenType    string   `json:"tokenType"`
	ExpiresIn    int64    `json:"expiresIn"` // seconds
	RefreshToken string   `json:"refreshToken"`
	User         userJSON `json:"user"`
}

type principalJSON struct {
	TenantID   string   `json:"tenantId"`
	UserID     string   `json:"userId"`
	Username   string   `json:"username"`
	Extension  string   `json:"extension"`
	Role       cti.Role `json:"role"`
	SuperAdmin bool     `json:"superAdmin"`
	Teams      []string `json:"teams"`
}

// errBadCredentials is the single answer to every failed login, so the
// response does not reveal whether the user exists.
var errBadCredentials = cti.Errorf(cti.KindUnauthorized, "wrong login or password")

var errBadRefresh = cti.Errorf(cti.KindUnauthorized, "invalid, expired or already used refresh token")

// errDisabled answers a correct password of a disabled account. Only the
// holder of the password learns the account exists.
var errDisabled = cti.Errorf(cti.KindForbidden, "this account is disabled")

// dummyHash is verified against when the login names no user, so that a
// miss costs as much argon2 time as a wrong password and response timing
// does not enumerate users. Computed once, on first use.
var dummyHash = sync.OnceValues(func() (string, error) {
	return cti.HashPassword("ringbridge timing equaliser")
})

// errThrottled is a 429 problem telling the client when to try again.
type errThrottled struct{ v throttleVerdict }

func (e *errThrottled) Error() string {
	secs := retryAfterSeconds(e.v.wait)
	if e.v.locked {
		return fmt.Sprintf("too many failed sign-ins: temporarily locked; try again in %d s", secs)
	}
	return fmt.Sprintf("too many failed sign-ins; try again in %d s", secs)
}

func retryAfterSeconds(d time.Duration) int64 {
	return max(1, int64((d+time.Second-1)/time.Second))
}

// guard runs a password check for (tenant, login) from the caller's IP
// under the sign-in throttle: a throttled attempt gets 429 without the
// password being checked; a refused one counts as a failure.
func (s *Server) guard(c *fiber.Ctx, tenant, login, password string) (*cti.User, error) {
	ip := c.IP()
	if v := s.throttle.attempt(tenant, login, ip); v.wait > 0 {
		s.log.Info("sign-in throttled", "tenant", tenant, "login", login, "ip", ip, "wait", v.wait, "locked", v.locked)
		c.Set(fiber.HeaderRetryAfter, strconv.FormatInt(retryAfterSeconds(v.wait), 10))
		return nil, &errThrottled{v: v}
	}
	u, err := s.authenticate(c.UserContext(), tenant, login, password)
	switch {
	case errors.Is(err, errBadCredentials):
		// Charged already by attempt.
	case err == nil:
		s.throttle.succeeded(tenant, login, ip)
	default:
		s.throttle.unchecked(tenant, login, ip)
		if cti.ErrorKind(err) == cti.KindUnavailable {
			c.Set(fiber.HeaderRetryAfter, "1")
		}
	}
	return u, err
}

// postLogin exchanges a login (username or extension) and password for an
// access and a refresh token.
func (s *Server) postLogin(c *fiber.Ctx) error {
	if s.draining.Load() {
		return cti.Errorf(cti.KindUnavailable, "server is shutting down: sign in again in a moment")
	}
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Tenant == "" {
		req.Tenant = s.cfg.DefaultTenant
	}
	switch {
	case req.Login == "":
		return badRequest("login is required")
	case req.Password == "":
		return badRequest("password is required")
	}
	u, err := s.guard(c, req.Tenant, req.Login, req.Password)
	if err != nil {
		if errors.Is(err, errBadCredentials) {
			s.log.Info("login failed", "tenant", req.Tenant, "login", req.Login, "ip", c.IP())
		}
		return err
	}
	if u.Disabled() {
		return errDisabled
	}
	resp, err := s.issueTokens(c.UserContext(), u, "")
	if err != nil {
		return err
	}
	s.log.Info("login", "tenant", u.TenantID, "user", u.ID, "ext", u.Extension, "ip", c.IP())
	return c.JSON(resp)
}

// authenticate returns the user whose login and password match, or
// errBadCredentials. The password check runs in the service's bounded
// pool; when it is saturated the answer is cti.ErrHashBusy (503).
func (s *Server) authenticate(ctx context.Context, tenant, login, password string) (*cti.User, error) {
	pool := s.svc.Passwords()
	u, err := s.svc.FindUserByLogin(ctx, tenant, login)
	if err != nil {
		if cti.ErrorKind(err) != cti.KindNotFound {
			return nil, fmt.Errorf("find user: %w", err)
		}
		if h, herr := dummyHash(); herr == nil {
			if _, perr := pool.Verify(ctx, h, password); perr != nil {
				return nil, perr
			}
		}
		return nil, errBadCredentials
	}
	ok, err := pool.Verify(ctx, u.PasswordHash, password)
	if cti.ErrorKind(err) == cti.KindUnavailable { // the pool is full
		return nil, err
	}
	if err != nil {
		// A user with an unusable hash (say, an API user created without a
		// password) cannot log in; that is a data issue worth a warning.
		s.log.Warn("stored password hash unusable", "tenant", u.TenantID, "user", u.ID, "err", err)
		return nil, errBadCredentials
	}
	if !ok {
		return nil, errBadCredentials
	}
	return u, nil
}

// postRefresh exchanges a refresh token for a new token pair in the same
// family. The old refresh token is consumed, so a stolen one works at most
// once; presenting it again revokes the whole family (docs/security.md).
func (s *Server) postRefresh(c *fiber.Ctx) error {
	if s.draining.Load() {
		return cti.Errorf(cti.KindUnavailable, "server is shutting down: sign in again in a moment")
	}
	var req refreshRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Tenant == "" {
		req.Tenant = s.cfg.DefaultTenant
	}
	if req.RefreshToken == "" {
		return badRequest("refreshToken is required")
	}
	ctx := c.UserContext()
	rt, err := s.svc.ConsumeRefreshToken(ctx, req.Tenant, cti.HashToken(req.RefreshToken))
	if err != nil {
		if cti.ErrorKind(err) == cti.KindNotFound {
			if errors.Is(err, cti.ErrRefreshTokenReused) {
				s.log.Warn("refresh token replayed; its family is revoked", "tenant", req.Tenant, "ip", c.IP())
			} else {
				s.log.Info("refresh refused", "tenant", req.Tenant, "ip", c.IP())
			}
			return errBadRefresh
		}
		return fmt.Errorf("consume refresh token: %w", err)
	}
	u, err := s.svc.UserByID(ctx, rt.TenantID, rt.UserID)
	if err != nil {
		if cti.ErrorKind(err) == cti.KindNotFound {
			// The user was deleted after the token was issued.
			return errBadRefresh
		}
		return fmt.Errorf("load user for refresh: %w", err)
	}
	if u.Disabled() {
		return errBadRefresh
	}
	resp, err := s.issueTokens(ctx, u, rt.FamilyID)
	if err != nil {
		return err
	}
	return c.JSON(resp)
}

type logoutRequest struct {
	Tenant       string `json:"tenant"`
	RefreshToken string `json:"refreshToken"`
	// Everywhere also signs the caller out on every other device; it needs
	// a valid access token in Authorization.
	Everywhere bool `json:"everywhere"`
}

// postLogout revokes the refresh token's family (this device's sign-in).
// Holding the refresh token is proof enough, so an expired access token
// does not prevent logging out. With everywhere, the caller's every
// access and refresh token is revoked (cti.Service.RevokeUserSessions).
func (s *Server) postLogout(c *fiber.Ctx) error {
	var req logoutRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Tenant == "" {
		req.Tenant = s.cfg.DefaultTenant
	}
	if req.RefreshToken == "" && !req.Everywhere {
		return badRequest("refreshToken is required (or everywhere: true with an access token)")
	}
	ctx := c.UserContext()
	if req.RefreshToken != "" {
		if err := s.svc.RevokeRefreshFamily(ctx, req.Tenant, cti.HashToken(req.RefreshToken)); err != nil {
			return err
		}
	}
	if req.Everywhere {
		tok, ok := bearerToken(c.Get(fiber.HeaderAuthorization))
		if !ok {
			return cti.Errorf(cti.KindUnauthorized, "everywhere needs Authorization: Bearer <access token>")
		}
		p, err := s.tokens.verify(tok)
		if err != nil {
			return errBadToken
		}
		if err := s.svc.CheckAccess(ctx, p); err != nil {
			return err
		}
		if err := s.svc.RevokeUserSessions(ctx, p.TenantID, p.UserID); err != nil {
			return err
		}
		s.log.Info("logout everywhere", "tenant", p.TenantID, "user", p.UserID, "ip", c.IP())
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// issueTokens creates an access token and a stored refresh token for u;
// family continues a refresh token family ("" starts one).
func (s *Server) issueTokens(ctx context.Context, u *cti.User, family string) (*tokenResponse, error) {
	access, ttl, err := s.tokens.issue(principalFor(u))
	if err != nil {
		return nil, err
	}
	refresh, hash := cti.NewOpaqueToken()
	err = s.svc.CreateRefreshToken(ctx, &cti.RefreshToken{
		TenantID:  u.TenantID,
		UserID:    u.ID,
		FamilyID:  family,
		Hash:      hash,
		ExpiresAt: time.Now().Add(s.cfg.RefreshTTL),
	})
	if err != nil {
		return nil, fmt.Errorf("store refresh token: %w", err)
	}
	return &tokenResponse{
		AccessToken:  access,
		TokenType:    "Bearer",
		ExpiresIn:    int64(ttl / time.Second),
		RefreshToken: refresh,
		User: userJSON{
			ID:          u.ID,
			TenantID:    u.TenantID,
			Username:    u.Username,
			DisplayName: u.DisplayName,
			Extension:   u.Extension,
			Role:        u.Role,
		},
	}, nil
}

func principalFor(u *cti.User) cti.Principal {
	return cti.Principal{
		TenantID:   u.TenantID,
		UserID:     u.ID,
		Username:   u.Username,
		Extension:  u.Extension,
		Role:       u.Role,
		TokenEpoch: u.TokenEpoch,
	}
}

// getMe returns the caller as the access token describes them.
func (s *Server) getMe(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	return c.JSON(principalJSON{
		TenantID:  p.TenantID,
		UserID:    p.UserID,
		Username:  p.Username,
		Extension: p.Extension,
		Role:      p.Role,
		// From the stored user (requireAuth refreshed them).
		SuperAdmin: p.SuperAdmin,
		Teams:      nonNil(p.Teams),
	})
}

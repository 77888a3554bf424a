package server

import (
	"context"
	"errors"
	"fmt"
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

// dummyHash is verified against when the login names no user, so that a
// miss costs as much argon2 time as a wrong password and response timing
// does not enumerate users. Computed once, on first use.
var dummyHash = sync.OnceValues(func() (string, error) {
	return cti.HashPassword("ringbridge timing equaliser")
})

// postLogin exchanges a login (username or extension) and password for an
// access and a refresh token.
func (s *Server) postLogin(c *fiber.Ctx) error {
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
	ctx := c.UserContext()
	u, err := s.authenticate(ctx, req.Tenant, req.Login, req.Password)
	if err != nil {
		if errors.Is(err, errBadCredentials) {
			s.log.Info("login failed", "tenant", req.Tenant, "login", req.Login, "ip", c.IP())
		}
		return err
	}
	resp, err := s.issueTokens(ctx, u)
	if err != nil {
		return err
	}
	s.log.Info("login", "tenant", u.TenantID, "user", u.ID, "ext", u.Extension, "ip", c.IP())
	return c.JSON(resp)
}

// authenticate returns the user whose login and password match, or
// errBadCredentials.
func (s *Server) authenticate(ctx context.Context, tenant, login, password string) (*cti.User, error) {
	u, err := s.svc.Store().FindUserByLogin(ctx, tenant, login)
	if err != nil {
		if cti.ErrorKind(err) != cti.KindNotFound {
			return nil, fmt.Errorf("find user: %w", err)
		}
		if h, herr := dummyHash(); herr == nil {
			_, _ = cti.VerifyPassword(h, password)
		}
		return nil, errBadCredentials
	}
	ok, err := cti.VerifyPassword(u.PasswordHash, password)
	if err != nil {
		// A user with an unusable hash (say, an API user created without a
		// password) cannot log in; that is a data issue worth a warning.
		s.log.Warn("stored password hash unusable", "tenant", u.TenantID, "user", u.ID, "err", err)
		return nil, errBadCredentials
	}
	if !ok {
		return nil, errBadCredentials
	}
	if u.Disabled {
		// Same answer as a wrong password: the password was right, but
		// telling so would confirm it to whoever holds it.
		s.log.Info("login of a disabled user refused", "tenant", u.TenantID, "user", u.ID)
		return nil, errBadCredentials
	}
	return u, nil
}

// postRefresh exchanges a refresh token for a new token pair. The old
// refresh token is consumed, so a stolen one works at most once and a
// replay after the legitimate client used it fails.
func (s *Server) postRefresh(c *fiber.Ctx) error {
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
	rt, err := s.svc.Store().ConsumeRefreshToken(ctx, req.Tenant, cti.HashToken(req.RefreshToken))
	if err != nil {
		if cti.ErrorKind(err) == cti.KindNotFound {
			s.log.Info("refresh refused", "tenant", req.Tenant, "ip", c.IP())
			return errBadRefresh
		}
		return fmt.Errorf("consume refresh token: %w", err)
	}
	u, err := s.svc.Store().GetUser(ctx, rt.TenantID, rt.UserID)
	if err != nil {
		if cti.ErrorKind(err) == cti.KindNotFound {
			// The user was deleted after the token was issued.
			return errBadRefresh
		}
		return fmt.Errorf("load user for refresh: %w", err)
	}
	if u.Disabled {
		return errBadRefresh
	}
	resp, err := s.issueTokens(ctx, u)
	if err != nil {
		return err
	}
	return c.JSON(resp)
}

// issueTokens creates an access token and a stored refresh token for u.
func (s *Server) issueTokens(ctx context.Context, u *cti.User) (*tokenResponse, error) {
	access, ttl, err := s.tokens.issue(principalFor(u))
	if err != nil {
		return nil, err
	}
	refresh, hash := cti.NewOpaqueToken()
	err = s.svc.Store().CreateRefreshToken(ctx, &cti.RefreshToken{
		TenantID:  u.TenantID,
		UserID:    u.ID,
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
		TenantID:  u.TenantID,
		UserID:    u.ID,
		Username:  u.Username,
		Extension: u.Extension,
		Role:      u.Role,
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

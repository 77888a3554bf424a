package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/ringbridge/ringbridge/cti"
)

const (
	jwtIssuer   = "ringbridge"
	jwtAudience = "ringbridge"
	// jwtLeeway absorbs clock skew between nodes of a cluster; it is far
	// below AccessTTL so it does not meaningfully extend a token's life.
	jwtLeeway = 30 * time.Second
)

// accessClaims is the payload of an access token. Short claim names keep
// the token small enough to travel in every websocket auth message.
type accessClaims struct {
	TenantID  string   `json:"tid"`
	Extension string   `json:"ext,omitempty"`
	Role      cti.Role `json:"role"`
	Username  string   `json:"usr"`
	// Epoch is the user's token epoch at issue (cti/revocation.go).
	Epoch int64 `json:"ep"`
	jwt.RegisteredClaims
}

// errBadToken covers every reason a token is refused. Clients get the same
// answer for all of them; the specific reason is only logged.
var errBadToken = cti.Errorf(cti.KindUnauthorized, "invalid or expired access token")

// tokenIssuer signs and verifies access tokens.
type tokenIssuer struct {
	secret []byte
	ttl    time.Duration
	parser *jwt.Parser
	now    func() time.Time
}

func newTokenIssuer(secret []byte, ttl time.Duration) *tokenIssuer {
	return &tokenIssuer{
		// Copied so a caller reusing its slice cannot change our key.
		secret: append([]byte(nil), secret...),
		ttl:    ttl,
		now:    time.Now,
		parser: jwt.NewParser(
			// Pinning the algorithm defeats "alg":"none" and algorithm
			// confusion; requiring exp defeats tokens that never expire.
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithIssuer(jwtIssuer),
			jwt.WithAudience(jwtAudience),
			jwt.WithLeeway(jwtLeeway),
		),
	}
}

// issue returns a signed access token for p and its lifetime.
func (t *tokenIssuer) issue(p cti.Principal) (string, time.Duration, error) {
	now := t.now()
	claims := accessClaims{
		TenantID:  p.TenantID,
		Extension: p.Extension,
		Role:      p.Role,
		Username:  p.Username,
		Epoch:     p.TokenEpoch,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    jwtIssuer,
			Subject:   p.UserID,
			Audience:  jwt.ClaimStrings{jwtAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        newJTI(),
		},
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	if err != nil {
		return "", 0, fmt.Errorf("sign access token: %w", err)
	}
	return signed, t.ttl, nil
}

// verify checks an access token and returns whom it was issued to. The
// returned error wraps errBadToken; its text says why, for the log.
func (t *tokenIssuer) verify(token string) (cti.Principal, error) {
	var claims accessClaims
	_, err := t.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) {
		return t.secret, nil
	})
	if err != nil {
		return cti.Principal{}, fmt.Errorf("%w: %w", errBadToken, err)
	}
	if claims.Subject == "" || claims.TenantID == "" || claims.Role == "" {
		return cti.Principal{}, fmt.Errorf("%w: missing sub, tid or role claim", errBadToken)
	}
	// The decoded claims are fresh allocations, never views into a
	// fasthttp buffer, so the principal may outlive the request.
	return cti.Principal{
		TenantID:   claims.TenantID,
		UserID:     claims.Subject,
		Username:   claims.Username,
		Extension:  claims.Extension,
		Role:       claims.Role,
		TokenEpoch: claims.Epoch,
	}, nil
}

func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// localPrincipal is the c.Locals key under which requireAuth stores the
// caller. An unexported type would be nicer, but Fiber's Locals is keyed by
// string in v2.
const localPrincipal = "ringbridge.principal"

// requireAuth accepts "Authorization: Bearer <access token>" (people),
// "Bearer rbk_…" API keys and HTTP Basic (integrations, auth_api.go), and
// puts the cti.Principal in c.Locals for the handlers behind it.
func (s *Server) requireAuth(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	if isBasic(h) {
		return s.basicAuth(c, h)
	}
	token, ok := bearerToken(h)
	if !ok {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="ringbridge"`)
		return cti.Errorf(cti.KindUnauthorized, "missing Authorization: Bearer token")
	}
	if strings.HasPrefix(token, cti.APIKeyPrefix) {
		return s.apiKeyAuth(c, token)
	}
	p, err := s.tokens.verify(token)
	if err != nil {
		s.log.Debug("access token refused", "path", c.Path(), "ip", c.IP(), "err", err)
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="ringbridge", error="invalid_token"`)
		return errBadToken
	}
	return s.authorize(c, p)
}

// authorize completes authentication by any credential (token, key,
// password): a valid signature or secret is not enough, the user may have
// been deleted, disabled, demoted or signed out everywhere since
// (cti.Service.Authorize, revocation.go). The request then runs with the
// user's current super-admin flag and teams, which no credential carries.
func (s *Server) authorize(c *fiber.Ctx, p cti.Principal) error {
	authorized, err := s.svc.Authorize(c.UserContext(), p)
	if err != nil {
		if cti.ErrorKind(err) == cti.KindUnauthorized {
			s.log.Info("access revoked", "tenant", p.TenantID, "user", p.UserID, "path", c.Path(), "ip", c.IP(), "err", err)
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="ringbridge", error="invalid_token"`)
		}
		return err
	}
	c.Locals(localPrincipal, authorized)
	return c.Next()
}

// bearerToken extracts the token from an Authorization header value. The
// result is a copy: the header value is a view into a fasthttp buffer that
// is reused once the handler returns.
func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", false
	}
	return strings.Clone(tok), true
}

// principalOf returns the caller established by requireAuth.
func principalOf(c *fiber.Ctx) (cti.Principal, error) {
	p, ok := c.Locals(localPrincipal).(cti.Principal)
	if !ok {
		// A route registered without requireAuth: a programming error.
		return cti.Principal{}, errors.New("no principal in request context")
	}
	return p, nil
}

package server

import (
	"encoding/base64"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
)

// Integrations (CRMs) authenticate as technical users: with an API key
// ("Authorization: Bearer rbk_…", preferred: one hash per request) or with
// HTTP Basic (username and password of an api or admin user, argon2id:
// deliberately slow). People keep using JWTs from /auth/login.

// HeaderTenant names the tenant of an HTTP Basic login; without it the
// default tenant is meant. API keys carry their tenant themselves.
const HeaderTenant = "Ringbridge-Tenant"

// apiKeyAuth authenticates a request by API key.
func (s *Server) apiKeyAuth(c *fiber.Ctx, key string) error {
	p, err := s.svc.AuthenticateAPIKey(c.UserContext(), key)
	if err != nil {
		if cti.ErrorKind(err) == cti.KindUnauthorized {
			s.log.Info("API key refused", "path", c.Path(), "ip", c.IP())
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="ringbridge", error="invalid_token"`)
		}
		return err
	}
	return s.authorize(c, p)
}

// errBasicRole refuses Basic logins of people: agents and supervisors
// sign in through /auth/login and use tokens.
var errBasicRole = cti.Errorf(cti.KindForbidden, "HTTP Basic is for api and admin users; sign in for a token instead")

// basicAuth authenticates a request by username and password.
func (s *Server) basicAuth(c *fiber.Ctx, h string) error {
	user, pass, ok := parseBasic(h)
	if !ok {
		c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="ringbridge", charset="UTF-8"`)
		return cti.Errorf(cti.KindUnauthorized, "malformed Basic credentials")
	}
	tenant := strings.Clone(c.Get(HeaderTenant))
	if tenant == "" {
		tenant = s.cfg.DefaultTenant
	}
	u, err := s.guard(c, tenant, user, pass)
	if err != nil {
		if errors.Is(err, errBadCredentials) {
			s.log.Info("Basic login refused", "tenant", tenant, "user", user, "ip", c.IP())
			c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="ringbridge", charset="UTF-8"`)
		}
		return err
	}
	if u.Disabled() {
		return errDisabled
	}
	if u.Role != cti.RoleAPI && u.Role != cti.RoleAdmin {
		return errBasicRole
	}
	return s.authorize(c, principalFor(u))
}

func isBasic(h string) bool {
	scheme, _, _ := strings.Cut(strings.TrimSpace(h), " ")
	return strings.EqualFold(scheme, "Basic")
}

// parseBasic decodes "Basic base64(user:pass)"; the results are copies.
func parseBasic(h string) (user, pass string, ok bool) {
	_, enc, _ := strings.Cut(strings.TrimSpace(h), " ")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(raw), ":")
	if !ok || user == "" || pass == "" {
		return "", "", false
	}
	return user, pass, true
}

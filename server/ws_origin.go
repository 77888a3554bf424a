package server

import (
	"fmt"
	"net/url"
	"strings"
)

// originPolicy decides which browser pages may open /ws/agent. Without a
// check any web page could drive an agent's phone with the agent's
// credentials (cross-site websocket hijacking).
//
// Same-origin is always allowed: the softphone page we serve (also inside
// a CRM's iframe) connects from our own origin, and an allowlist written
// for third-party pages must not lock it out.
type originPolicy struct {
	allowed  map[string]bool // extra exact origins
	noOrigin bool
}

func newOriginPolicy(list []string, allowMissing bool) (originPolicy, error) {
	p := originPolicy{allowed: map[string]bool{}, noOrigin: allowMissing}
	for _, o := range list {
		o = strings.TrimSuffix(strings.TrimSpace(o), "/")
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			return originPolicy{}, fmt.Errorf("server: AllowedOrigins entry %q is not scheme://host[:port]", o)
		}
		// Browsers serialise origins in lower case.
		p.allowed[strings.ToLower(o)] = true
	}
	return p, nil
}

// allows reports whether a request with this Origin and Host may upgrade.
// host must be the raw Host header, never X-Forwarded-Host.
func (p originPolicy) allows(origin, host string) bool {
	if origin == "" {
		return p.noOrigin
	}
	if p.allowed[origin] {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

package server

import (
	"fmt"
	"net"
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

// allows reports whether a request with this Origin may upgrade. host
// must be the raw Host header, never X-Forwarded-Host; scheme is the
// scheme the browser used to reach us ("https" when we or a proxy in
// front terminate TLS). Same-origin means the same scheme, host and port:
// a page on http://pbx.example.com must not drive the agent's phone on
// https://pbx.example.com, nor one on another port of the same host.
func (p originPolicy) allows(origin, host, scheme string) bool {
	if origin == "" {
		return p.noOrigin
	}
	if p.allowed[strings.ToLower(origin)] {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Path != "" || u.User != nil || !strings.EqualFold(u.Scheme, scheme) {
		return false
	}
	return strings.EqualFold(withPort(u.Host, scheme), withPort(host, scheme))
}

// withPort spells out the scheme's default port, so that "example.com"
// and "example.com:443" compare equal for https.
func withPort(hostport, scheme string) string {
	if _, port, err := net.SplitHostPort(hostport); err == nil && port != "" {
		return hostport
	}
	h := strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
	if strings.EqualFold(scheme, "https") {
		return net.JoinHostPort(h, "443")
	}
	return net.JoinHostPort(h, "80")
}

package crm

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// TenantConfig is one tenant's CRM connection. Only URLs that are set are
// used: a tenant with no LookupURL gets phonebook-only screen pop, one
// with no RoutingURL sends its CRM-routed numbers to their fallback.
type TenantConfig struct {
	// LookupURL identifies callers for screen pop (http or https).
	LookupURL string `json:"lookupUrl"`
	// LookupMethod is GET (default: parameters in the query string) or
	// POST (parameters as a JSON body).
	LookupMethod string `json:"lookupMethod"`
	// RoutingURL answers where a call to a CRM-routed number goes
	// (always POST with a JSON body).
	RoutingURL string `json:"routingUrl"`
	// QueryURL answers IVR flows' CRM nodes (always POST with a JSON
	// body); empty: the RoutingURL, which then tells the two apart by
	// the body's "node".
	QueryURL string `json:"queryUrl"`
	// APIKey is sent with every request: as "Authorization: Bearer
	// <apiKey>", or as the bare value of AuthHeader when that is set
	// (e.g. "X-Api-Key").
	APIKey     string `json:"apiKey"`
	AuthHeader string `json:"authHeader"`
	// Username and Password send HTTP Basic authentication instead.
	Username string `json:"username"`
	Password string `json:"password"`
}

// Validate checks the URLs, the method, and that one authentication
// scheme is chosen.
func (c TenantConfig) Validate() error { return c.validate() }

// validate is Validate, and settles the default lookup method.
func (c *TenantConfig) validate() error {
	for name, u := range map[string]string{"lookupUrl": c.LookupURL, "routingUrl": c.RoutingURL, "queryUrl": c.QueryURL} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("%s %q: want an absolute http or https URL", name, u)
		}
	}
	switch m := strings.ToUpper(c.LookupMethod); m {
	case "", http.MethodGet, http.MethodPost:
		c.LookupMethod = m
		if m == "" {
			c.LookupMethod = http.MethodGet
		}
	default:
		return fmt.Errorf("lookupMethod %q: want GET or POST", c.LookupMethod)
	}
	if c.APIKey != "" && c.Username != "" {
		return fmt.Errorf("set apiKey or username/password, not both")
	}
	if c.AuthHeader != "" && c.APIKey == "" {
		return fmt.Errorf("authHeader needs an apiKey to send")
	}
	if c.AuthHeader != "" && !validHeaderName(c.AuthHeader) {
		return fmt.Errorf("authHeader %q is not a header name", c.AuthHeader)
	}
	return nil
}

func validHeaderName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

// authorize sets the tenant's credentials on a request.
func (c *TenantConfig) authorize(req *http.Request) {
	switch {
	case c.Username != "":
		req.SetBasicAuth(c.Username, c.Password)
	case c.APIKey != "" && c.AuthHeader != "":
		req.Header.Set(c.AuthHeader, c.APIKey)
	case c.APIKey != "":
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
}

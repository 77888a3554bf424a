package server

import (
	"slices"
	"strings"
	"testing"

	"github.com/ringbridge/ringbridge/cti"
)

func TestWidgetFrameAncestors(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.AllowedOrigins = []string{"https://crm.example.test", "http://localhost:3000/"}
	})
	resp, body := e.do("GET", "/widget", nil, "Host", "phone.example.test:8443")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /widget: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{
		"default-src 'self'",
		"connect-src 'self' wss://phone.example.test:8443 ws://phone.example.test:8443",
		"frame-ancestors 'self' https://crm.example.test http://localhost:3000",
	} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	// The bridge reads the same list from the page.
	if want := `<meta name="rb-embed-origins" content="https://crm.example.test http://localhost:3000">`; !strings.Contains(string(body), want) {
		t.Errorf("widget page lacks %s", want)
	}

	// Only at /widget, where the policy is the widget's.
	if resp, _ := e.do("GET", "/widget.html", nil); resp.StatusCode != 404 {
		t.Errorf("/widget.html: %d, want 404", resp.StatusCode)
	}
}

func TestWidgetWithoutAllowlistIsSelfOnly(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do("GET", "/widget", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.HasSuffix(csp, "; frame-ancestors 'self'") {
		t.Errorf("CSP %q: want frame-ancestors 'self' only", csp)
	}
	if !strings.Contains(string(body), `<meta name="rb-embed-origins" content="">`) {
		t.Error("the widget page should carry an empty allowlist")
	}
}

func TestFrameOriginsDropsWhatIsNotAnOrigin(t *testing.T) {
	got := frameOrigins([]string{
		"https://crm.example.test",
		"HTTPS://CRM.example.test/", // a duplicate once normalised
		"https://a.example.test; script-src *",
		"https://a.example.test/path",
		"https://user@a.example.test",
		"javascript:alert(1)",
		"ftp://a.example.test",
		"*",
		"http://[::1]:8080",
	})
	want := []string{"https://crm.example.test", "http://[::1]:8080"}
	if !slices.Equal(got, want) {
		t.Errorf("frameOrigins = %q, want %q", got, want)
	}
}

func TestExampleCRMPage(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do("GET", "/examples/crm-host.html", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "crm-host.js") {
		t.Fatalf("GET /examples/crm-host.html: %d", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("example page CSP %q", csp)
	}
	for path, ct := range map[string]string{
		"/examples/crm-host.js":  "text/javascript; charset=utf-8",
		"/examples/crm-host.css": "text/css; charset=utf-8",
		"/embed.js":              "text/javascript; charset=utf-8",
		"/softphone-element.js":  "text/javascript; charset=utf-8",
	} {
		if resp, _ := e.do("GET", path, nil); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

// /widget?tenant=… adds that tenant's own origins, as saved at runtime,
// and only that tenant's.
func TestWidgetTenantOrigins(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowedOrigins = []string{"https://all.example"} })
	admin := cti.SystemPrincipal(testTenant, "test")
	if _, err := e.svc.UpdateSettings(t.Context(), admin, func(s *cti.TenantSettings) {
		s.AllowedOrigins = []string{"https://mine.example"}
	}); err != nil {
		t.Fatal(err)
	}
	resp, body := e.do("GET", "/widget?tenant="+testTenant, nil)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' https://all.example https://mine.example") {
		t.Errorf("tenant widget CSP %q", csp)
	}
	if !strings.Contains(string(body), `content="https://all.example https://mine.example"`) {
		t.Error("tenant widget page lacks the tenant's origin")
	}
	for _, q := range []string{"", "?tenant=other", "?tenant=../x"} {
		resp, _ := e.do("GET", "/widget"+q, nil)
		if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "mine.example") || !strings.Contains(csp, "https://all.example") {
			t.Errorf("/widget%s CSP %q", q, csp)
		}
	}
}

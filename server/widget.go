package server

import (
	"bytes"
	"html"
	"io/fs"
	"net/url"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/frontend"
)

// The embeddable softphone (docs/widget-api.md) is widget.html, served only
// at /widget: its policy differs from the other pages in one directive,
// frame-ancestors, which names the CRM origins allowed to put it in an
// iframe. The same list goes into the page itself (the rb-embed-origins
// meta tag) because the widget's postMessage bridge must know which parent
// origins it may talk to, and a page cannot read its own response headers.
//
// The allowlist is Config.AllowedOrigins (every tenant's), plus, for
// /widget?tenant=…, that tenant's own allowedOrigins from its settings
// (docs/admin.md), read on every request so a change applies to the next
// page load. The same lists admit those origins to /ws/agent.
const (
	widgetFile       = "widget.html"
	embedOriginsMeta = `<meta name="rb-embed-origins" content="">`
	examplesDir      = "examples"
)

// widgetRoutes serves /widget and the example CRM host page under
// /examples/ (same-origin with the widget, which 'self' lets it frame).
func (s *Server) widgetRoutes() {
	origins := frameOrigins(s.cfg.AllowedOrigins)
	if page, err := fs.ReadFile(frontend.FS, widgetFile); err != nil {
		s.log.Error("reading embedded widget page", "err", err)
	} else {
		if !bytes.Contains(page, []byte(embedOriginsMeta)) {
			s.log.Error("widget page lacks the embed origins placeholder; the bridge will accept same-origin hosts only")
		}
		f := widgetPage(page, origins)
		s.app.Get("/widget", func(c *fiber.Ctx) error {
			tenant := c.Query("tenant")
			if tenant == "" || !validTenantID(tenant) {
				return f.serve(c)
			}
			own := s.svc.TenantSettings(tenant).AllowedOrigins
			if len(own) == 0 {
				return f.serve(c)
			}
			return widgetPage(page, frameOrigins(append(append([]string{}, s.cfg.AllowedOrigins...), own...))).serve(c)
		})
	}

	entries, err := fs.ReadDir(frontend.FS, examplesDir)
	if err != nil {
		s.log.Error("reading embedded examples", "err", err)
		return
	}
	for _, e := range entries {
		name := e.Name()
		ct, known := staticTypes[path.Ext(name)]
		if e.IsDir() || !known {
			continue
		}
		body, err := fs.ReadFile(frontend.FS, examplesDir+"/"+name)
		if err != nil {
			s.log.Error("reading embedded example", "file", name, "err", err)
			continue
		}
		var csp func(string) string
		if path.Ext(name) == ".html" {
			csp = selfFramedCSP
		}
		s.app.Get("/"+examplesDir+"/"+name, newStaticFile(body, ct, csp).serve)
	}
}

// widgetPage is the widget with origins in its meta tag and policy.
func widgetPage(page []byte, origins []string) *staticFile {
	meta := `<meta name="rb-embed-origins" content="` + html.EscapeString(strings.Join(origins, " ")) + `">`
	body := bytes.Replace(page, []byte(embedOriginsMeta), []byte(meta), 1)
	return newStaticFile(body, staticTypes[".html"], func(host string) string { return widgetCSP(host, origins) })
}

// validTenantID keeps a query parameter that cannot name a tenant from
// reaching the store.
func validTenantID(s string) bool {
	if len(s) == 0 || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// widgetCSP is pageCSP plus the frame-ancestors allowlist. Without the
// directive any site could frame the widget and trick an agent into
// clicking its buttons (clickjacking); 'self' keeps our own pages able to.
func widgetCSP(host string, origins []string) string {
	fa := "frame-ancestors 'self'"
	if len(origins) > 0 {
		fa += " " + strings.Join(origins, " ")
	}
	return pageCSP(host) + "; " + fa
}

// frameOrigins turns the configured origins into CSP host-sources:
// normalised like browsers serialise origins (lower case, no trailing
// slash), http or https only, and without anything that could end the
// directive or the policy. newOriginPolicy already refused malformed
// entries at start-up; this is the second line of defence for a header.
func frameOrigins(list []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, o := range list {
		o = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o), "/"))
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || !validHost(u.Host) || seen[o] {
			continue
		}
		seen[o] = true
		out = append(out, o)
	}
	return out
}

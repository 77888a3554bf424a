package server

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/frontend"
)

// staticFile is one embedded file, read once at start-up: the set is tiny
// and immutable, so serving from memory beats an fs round trip per request.
type staticFile struct {
	body        []byte
	contentType string
	etag        string
	// csp, when set, gives the page's Content-Security-Policy for the
	// request's Host header.
	csp func(host string) string
}

func newStaticFile(body []byte, contentType string, csp func(string) string) *staticFile {
	sum := sha256.Sum256(body)
	return &staticFile{body: body, contentType: contentType, csp: csp,
		etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// staticTypes is explicit rather than mime.TypeByExtension, whose answer
// depends on the host's /etc/mime.types; a wrong script type is fatal under
// nosniff.
var staticTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".json": "application/json",
}

// staticRoutes serves the softphone page at / and every other top-level
// file of frontend.FS under its own name, plus the widget routes
// (widget.go). Nothing else is reachable, so there is no path traversal to
// get wrong.
func (s *Server) staticRoutes() {
	s.widgetRoutes()
	entries, err := fs.ReadDir(frontend.FS, ".")
	if err != nil {
		// embed.FS root always reads; keep going with no page rather than
		// failing the whole API.
		s.log.Error("reading embedded frontend", "err", err)
		return
	}
	for _, e := range entries {
		name := e.Name()
		ct, known := staticTypes[path.Ext(name)]
		if e.IsDir() || !known || name == widgetFile {
			continue
		}
		body, err := fs.ReadFile(frontend.FS, name)
		if err != nil {
			s.log.Error("reading embedded frontend file", "file", name, "err", err)
			continue
		}
		var csp func(string) string
		if path.Ext(name) == ".html" {
			csp = selfFramedCSP
		}
		f := newStaticFile(body, ct, csp)
		s.app.Get("/"+name, f.serve)
		switch name {
		case "index.html":
			s.app.Get("/", f.serve)
		case "admin.html":
			s.app.Get("/admin", f.serve) // the admin console (docs/admin.md)
		case "wallboard.html":
			s.app.Get("/wallboard", f.serve) // the supervisors' wallboard
		}
	}
}

func (f *staticFile) serve(c *fiber.Ctx) error {
	if f.csp != nil {
		c.Set(fiber.HeaderContentSecurityPolicy, f.csp(string(c.Request().Header.Host())))
	}
	// no-cache means "revalidate", not "do not store": the ETag makes a
	// reload cheap while a new build is picked up immediately.
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderETag, f.etag)
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && etagMatches(inm, f.etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, f.contentType)
	return c.Send(f.body)
}

func etagMatches(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// pageCSP is the Content-Security-Policy of the softphone page: scripts,
// styles and connections to this server only. 'self' covers ws: and wss: to
// the same host in CSP Level 3 browsers; the explicit entries keep older
// ones (Safari before 15.4) able to open the agent websocket. It has no
// frame-ancestors directive; CRMs embed /widget (widget.go), whose policy
// adds the allowlist.
func pageCSP(host string) string {
	connect := "connect-src 'self'"
	if validHost(host) {
		connect += " wss://" + host + " ws://" + host
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		"media-src 'self' blob:",
		connect,
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'self'",
	}, "; ")
}

// selfFramedCSP is pageCSP for pages only we may frame. The full softphone
// at / must not be framable by any site, or the /widget allowlist could be
// sidestepped by framing / instead (clickjacking).
func selfFramedCSP(host string) string { return pageCSP(host) + "; frame-ancestors 'self'" }

// validHost accepts host[:port] (including [v6]:port) and nothing that
// could break out of the policy, since Host is supplied by the client.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '.', r == '-', r == ':', r == '[', r == ']':
		default:
			return false
		}
	}
	return true
}

package server

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// openAPI is the REST API's OpenAPI 3.1 document, written by hand next to
// the handlers; openapi_test.go fails when a route is added or removed
// without it.
//
//go:embed openapi.json
var openAPI []byte

// getOpenAPI serves GET /api/v1/openapi.json (no credentials needed).
func (s *Server) getOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.Send(openAPI)
}

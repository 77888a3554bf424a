package server

import (
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// routes registers every endpoint. Keeping them in one list makes the
// surface reviewable at a glance (and is what the OpenAPI test will walk).
func (s *Server) routes(reg *prometheus.Registry) {
	app := s.app
	app.Use(s.recoverPanic, baseHeaders)

	app.Get("/healthz", s.getHealth)
	app.Get("/metrics", metricsHandler(reg))

	api := app.Group("/api/v1")
	api.Post("/auth/login", s.postLogin)
	api.Post("/auth/refresh", s.postRefresh)
	api.Get("/me", s.requireAuth, s.getMe)

	app.Get("/ws/agent", s.agentUpgradeGuard, s.agentWebsocket())

	s.staticRoutes()
}

// baseHeaders are safe on every response, API and page alike.
func baseHeaders(c *fiber.Ctx) error {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	return c.Next()
}

package server

import "github.com/gofiber/fiber/v2"

// getHealth reports whether the node takes traffic. Load balancers stop
// sending new agents here as soon as Shutdown begins.
func (s *Server) getHealth(c *fiber.Ctx) error {
	if s.draining.Load() {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "draining",
			"reason": "shutting down: no new sign-ins or calls; live calls are finishing"})
	}
	return c.JSON(fiber.Map{"status": "ok"})
}

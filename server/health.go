package server

import "github.com/gofiber/fiber/v2"

// getHealth reports whether the node takes traffic. Load balancers stop
// sending new agents here as soon as Shutdown begins.
func (s *Server) getHealth(c *fiber.Ctx) error {
	if s.draining.Load() {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "draining"})
	}
	return c.JSON(fiber.Map{"status": "ok"})
}

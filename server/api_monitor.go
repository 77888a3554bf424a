package server

import (
	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
)

// monitorRequest is PUT /api/v1/calls/{id}/monitor.
type monitorRequest struct {
	Mode string `json:"mode"`
}

// putMonitor puts the signed-in supervisor's softphone into a live call
// (listen, whisper or barge), or switches the mode; the audio follows on
// the softphone's existing PeerConnection.
func (s *Server) putMonitor(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req monitorRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	mode, err := cti.ParseMonitorMode(req.Mode)
	if err != nil {
		return err
	}
	ci, err := s.svc.Monitor(c.UserContext(), p, c.Params("id"), mode)
	if err != nil {
		return err
	}
	return c.JSON(callToWire(ci))
}

// deleteMonitor takes the supervisor out of the call.
func (s *Server) deleteMonitor(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	if err := s.svc.StopMonitor(c.UserContext(), p, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

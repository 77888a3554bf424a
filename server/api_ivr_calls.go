package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
)

// Outbound IVR calls (docs/ivr.md): admins and integrations (API keys)
// ask for a number to be called and a flow run when it answers; the
// status is read back by id, and the outcome arrives as ivr.call.ended.

// ivrCallRequest is POST /api/v1/ivr-calls.
type ivrCallRequest struct {
	Number      string            `json:"number"`
	Flow        string            `json:"flow"`
	Variables   map[string]string `json:"variables"`
	CallerID    string            `json:"callerId"`
	RingSeconds int               `json:"ringSeconds"`
}

func (s *Server) postIVRCall(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req ivrCallRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	call, err := s.svc.StartIVRCall(c.UserContext(), p, cti.IVRCallRequest{Number: req.Number, Flow: req.Flow,
		Variables: req.Variables, CallerID: req.CallerID, Ring: time.Duration(req.RingSeconds) * time.Second})
	if err != nil {
		return err
	}
	c.Location("/api/v1/ivr-calls/" + call.ID)
	return c.Status(fiber.StatusAccepted).JSON(call)
}

func (s *Server) getIVRCall(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	call, err := s.svc.GetIVRCall(c.UserContext(), p, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(call)
}

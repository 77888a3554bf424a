package server

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
)

// getRecording: GET /api/v1/recordings/{code} streams a call recording
// (audio/wav) to an authenticated caller of the recording's tenant. The
// code comes from the call record or the recording.ready webhook.
func (s *Server) getRecording(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	meta, body, err := s.svc.OpenRecording(c.UserContext(), p, c.Params("code"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, cti.RecordingContentType)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+meta.ID+`.wav"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set("Content-Length", strconv.FormatInt(meta.SizeBytes, 10))
	// fasthttp closes body once it is sent.
	return c.SendStream(body, int(meta.SizeBytes))
}

// listRecordingPolicies: GET /api/v1/recording-policies — the tenant's
// default and its rules per number, queue and agent.
func (s *Server) listRecordingPolicies(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	out, err := s.svc.ListRecordingPolicies(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// putRecordingPolicy: PUT /api/v1/recording-policies/{scope}/{target}
// with {"policy": "always" | "never" | "on_demand"} (admins).
func (s *Server) putRecordingPolicy(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req struct {
		Policy string `json:"policy"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	r, err := s.svc.PutRecordingPolicy(c.UserContext(), p, cti.RecordingPolicyRule{
		Scope: cti.RecordingScope(c.Params("scope")), Target: c.Params("target"), Policy: cti.RecordingPolicy(req.Policy)})
	if err != nil {
		return err
	}
	return c.JSON(r)
}

// deleteRecordingPolicy: DELETE /api/v1/recording-policies/{scope}/{target} (admins).
func (s *Server) deleteRecordingPolicy(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteRecordingPolicy(c.UserContext(), p, cti.RecordingScope(c.Params("scope")), c.Params("target")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// postCallRecording: POST /api/v1/calls/{id}/recording/{action} starts,
// pauses or resumes a live call's recording.
func (s *Server) postCallRecording(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	st, err := s.svc.ControlRecording(c.UserContext(), p, c.Params("id"), cti.RecordingAction(c.Params("action")))
	if err != nil {
		return err
	}
	return c.JSON(st)
}

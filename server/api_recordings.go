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

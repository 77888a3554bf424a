package server

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
)

// getRecording: GET /api/v1/recordings/{code} streams a call recording
// (audio/wav) to an authenticated caller of the recording's tenant, whole
// or one byte range of it (RFC 9110 Range: a browser player seeks), from
// this server's disk or the object store alike. The code comes from the
// call record or the recording.ready webhook.
func (s *Server) getRecording(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	meta, open, err := s.svc.OpenRecordingRange(c.UserContext(), p, c.Params("code"))
	if err != nil {
		return err
	}
	return sendRecording(c, meta, open)
}

// postPlayLink: POST /api/v1/recordings/{code}/play-link returns a
// short-lived URL for an <audio> element, which cannot send our
// Authorization header.
func (s *Server) postPlayLink(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	link, err := s.svc.RecordingPlayLink(c.UserContext(), p, c.Params("code"), time.Now())
	if err != nil {
		return err
	}
	return c.JSON(link)
}

// getRecordingPlay: GET /api/v1/recordings/{code}/play?t=&exp=&sig= is
// getRecording authorised by a play link instead of a credential.
func (s *Server) getRecordingPlay(c *fiber.Ctx) error {
	meta, open, err := s.svc.OpenRecordingByLink(c.UserContext(), c.Query("t"), c.Params("code"), c.Query("exp"), c.Query("sig"), time.Now())
	if err != nil {
		return err
	}
	return sendRecording(c, meta, open)
}

// sendRecording answers with the recording, whole or the asked range.
func sendRecording(c *fiber.Ctx, meta *cti.RecordingMeta, open cti.RecordingOpener) error {
	size := meta.SizeBytes
	c.Set(fiber.HeaderAcceptRanges, "bytes")
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	off, n, status := int64(0), size, fiber.StatusOK
	if h := c.Get(fiber.HeaderRange); h != "" {
		first, last, ok := parseRange(h, size)
		if !ok {
			c.Set(fiber.HeaderContentRange, "bytes */"+strconv.FormatInt(size, 10))
			return fiber.NewError(fiber.StatusRequestedRangeNotSatisfiable, "the range is outside the recording ("+strconv.FormatInt(size, 10)+" bytes)")
		}
		off, n, status = first, last-first+1, fiber.StatusPartialContent
		c.Set(fiber.HeaderContentRange, "bytes "+strconv.FormatInt(first, 10)+"-"+strconv.FormatInt(last, 10)+"/"+strconv.FormatInt(size, 10))
	}
	body, err := open(off, n)
	if err != nil {
		return err
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, cti.RecordingContentType)
	c.Set(fiber.HeaderContentDisposition, `inline; filename="`+meta.ID+`.wav"`)
	c.Set(fiber.HeaderContentLength, strconv.FormatInt(n, 10))
	// fasthttp closes body once it is sent.
	return c.SendStream(body, int(n))
}

// parseRange resolves a single-range "bytes=" header against size:
// "a-b", "a-" and the suffix "-n". ok is false when the header asks for
// nothing inside the file, for several ranges, or is malformed (all 416,
// so a player learns the size from Content-Range).
func parseRange(h string, size int64) (first, last int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false
	}
	switch {
	case a == "": // the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size - 1, true
	default:
		f, err := strconv.ParseInt(a, 10, 64)
		if err != nil || f < 0 || f >= size {
			return 0, 0, false
		}
		l := size - 1
		if b != "" {
			if l, err = strconv.ParseInt(b, 10, 64); err != nil || l < f {
				return 0, 0, false
			}
		}
		return f, min(l, size-1), true
	}
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

// postCallAnalysis: POST /api/v1/calls/{id}/analysis — the analysis
// service's result for a recorded call (API keys and admins).
func (s *Server) postCallAnalysis(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var a cti.CallAnalysis
	if err := decodeJSON(c, &a); err != nil {
		return err
	}
	rec, err := s.svc.SubmitAnalysis(c.UserContext(), p, c.Params("id"), a)
	if err != nil {
		return err
	}
	return c.JSON(rec)
}

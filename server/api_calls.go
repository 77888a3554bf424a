package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
)

// clickToCallRequest is POST /api/v1/calls.
type clickToCallRequest struct {
	Extension string `json:"extension"`
	Number    string `json:"number"`
	CallerID  string `json:"callerId"`
}

// callStartedJSON answers a click-to-call: the call exists and the agent's
// phone is ringing; its progress follows in call.* webhooks and in
// GET /api/v1/calls/{id}.
type callStartedJSON struct {
	ID        string    `json:"id"`
	State     string    `json:"state"`
	Extension string    `json:"extension"`
	Number    string    `json:"number"`
	StartedAt time.Time `json:"startedAt"`
}

// callPatch is PATCH /api/v1/calls/{id}; absent fields stay as they are.
type callPatch struct {
	Disposition *string   `json:"disposition"`
	Notes       *string   `json:"notes"`
	Tags        *[]string `json:"tags"`
}

// postCall starts a click-to-call.
func (s *Server) postCall(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req clickToCallRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ci, err := s.svc.ClickToCall(c.UserContext(), p, cti.ClickToCall{Extension: req.Extension, Number: req.Number, CallerID: req.CallerID})
	if err != nil {
		return err
	}
	c.Location("/api/v1/calls/" + ci.ID)
	return c.Status(fiber.StatusAccepted).JSON(callStartedJSON{ID: ci.ID, State: ci.State.String(),
		Extension: ci.From, Number: ci.To, StartedAt: ci.StartedAt})
}

// getCall returns a call's record (live or finished).
func (s *Server) getCall(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	rec, err := s.svc.GetCall(c.UserContext(), p, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(rec)
}

// listCalls: GET /api/v1/calls?from=&to=&limit=&cursor=, finished calls
// started in [from, to) (RFC 3339), newest first.
func (s *Server) listCalls(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var f cti.CallFilter
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return badRequest("%s must be an RFC 3339 time such as 2026-03-02T09:00:00Z", name)
			}
			*dst = t
		}
	}
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	list, next, err := s.svc.ListCalls(c.UserContext(), p, f, page)
	if err != nil {
		return err
	}
	return c.JSON(listJSON[cti.CallRecord]{Items: list, NextCursor: next})
}

// patchCall sets a call's disposition, notes or tags (two-way sync).
func (s *Server) patchCall(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req callPatch
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	rec, err := s.svc.UpdateCall(c.UserContext(), p, c.Params("id"), cti.CallUpdate{Disposition: req.Disposition, Notes: req.Notes, Tags: req.Tags})
	if err != nil {
		return err
	}
	return c.JSON(rec)
}

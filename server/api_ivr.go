package server

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ivr"
)

// IVR flows (docs/ivr.md): admins change them, admins, supervisors and
// integrations read them. Every change is a new version.

func (s *Server) listIVRFlows(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	list, err := s.svc.ListIVRFlows(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(listJSON[cti.IVRFlowVersion]{Items: list})
}

// postIVRFlow creates a flow (its version 1) — or a new version when the
// id exists already, as PUT does.
func (s *Server) postIVRFlow(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var f ivr.Flow
	if err := decodeJSON(c, &f); err != nil {
		return err
	}
	v, err := s.svc.SaveIVRFlow(c.UserContext(), p, f)
	if err != nil {
		return err
	}
	c.Location("/api/v1/ivr/flows/" + v.Flow.ID)
	return c.Status(fiber.StatusCreated).JSON(v)
}

func (s *Server) putIVRFlow(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var f ivr.Flow
	if err := decodeJSON(c, &f); err != nil {
		return err
	}
	if f.ID != "" && f.ID != c.Params("id") {
		return badRequest("the flow's id %q differs from the path's %q", f.ID, c.Params("id"))
	}
	f.ID = c.Params("id")
	v, err := s.svc.SaveIVRFlow(c.UserContext(), p, f)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

// getIVRFlow: ?version=N reads an earlier version.
func (s *Server) getIVRFlow(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	version := 0
	if q := c.Query("version"); q != "" {
		if version, err = strconv.Atoi(q); err != nil || version < 1 {
			return badRequest("version must be a positive whole number")
		}
	}
	v, err := s.svc.GetIVRFlow(c.UserContext(), p, c.Params("id"), version)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) deleteIVRFlow(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteIVRFlow(c.UserContext(), p, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) listIVRFlowVersions(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	list, err := s.svc.IVRFlowVersions(c.UserContext(), p, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(listJSON[cti.IVRFlowVersion]{Items: list})
}

// rollbackRequest is POST /api/v1/ivr/flows/{id}/rollback.
type rollbackRequest struct {
	Version int `json:"version"`
}

func (s *Server) rollbackIVRFlow(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req rollbackRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Version < 1 {
		return badRequest("version must be a positive whole number")
	}
	v, err := s.svc.RollbackIVRFlow(c.UserContext(), p, c.Params("id"), req.Version)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) putIVRNode(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var n ivr.Node
	if err := decodeJSON(c, &n); err != nil {
		return err
	}
	if n.ID != "" && n.ID != c.Params("node") {
		return badRequest("the node's id %q differs from the path's %q", n.ID, c.Params("node"))
	}
	n.ID = c.Params("node")
	v, err := s.svc.SaveIVRNode(c.UserContext(), p, c.Params("id"), n)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) deleteIVRNode(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	v, err := s.svc.DeleteIVRNode(c.UserContext(), p, c.Params("id"), c.Params("node"))
	if err != nil {
		return err
	}
	return c.JSON(v)
}

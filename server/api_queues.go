package server

import (
	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
)

// Queues (docs/queues.md): configuration for administrators, state for
// supervisors and integrations.

func (s *Server) listQueues(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	list, err := s.svc.ListQueues(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(listJSON[cti.QueueConfig]{Items: list})
}

func (s *Server) createQueue(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var q cti.QueueConfig
	if err := decodeJSON(c, &q); err != nil {
		return err
	}
	out, err := s.svc.CreateQueue(c.UserContext(), p, q)
	if err != nil {
		return err
	}
	c.Location("/api/v1/queues/" + out.ID)
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *Server) getQueue(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	q, err := s.svc.GetQueue(c.UserContext(), p, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(q)
}

func (s *Server) putQueue(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var q cti.QueueConfig
	if err := decodeJSON(c, &q); err != nil {
		return err
	}
	out, err := s.svc.UpdateQueue(c.UserContext(), p, c.Params("id"), q)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) deleteQueue(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteQueue(c.UserContext(), p, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// getQueueState: GET /api/v1/queues/{id}/state, the waiting calls and
// how the members stand.
func (s *Server) getQueueState(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	st, err := s.svc.QueueStateOf(c.UserContext(), p, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(st)
}

// putQueueMusic: PUT /api/v1/queues/{id}/music with an audio/wav body.
func (s *Server) putQueueMusic(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	q, err := s.svc.SetQueueMusic(c.UserContext(), p, c.Params("id"), c.Body())
	if err != nil {
		return err
	}
	return c.JSON(q)
}

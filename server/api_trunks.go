package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
)

// SIP trunks (docs/admin.md), install-wide: super-admins only. The
// password is write-only; a PUT without one keeps the stored one.

type trunkJSON struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Address     string   `json:"address"`
	Transport   string   `json:"transport"`
	AllowFrom   []string `json:"allowFrom"`
	Username    string   `json:"username"`
	PasswordSet bool     `json:"passwordSet"`
	Domain      string   `json:"domain"`
	Register    bool     `json:"register"`
	CallerID    string   `json:"callerId"`
	// InDialogTarget: auto, contact or source (docs/sip.md, "NAT").
	InDialogTarget string `json:"inDialogTarget"`
	// EarlyMedia: oneway or twoway (docs/sip.md, "Early media").
	EarlyMedia string    `json:"earlyMedia"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

type trunkRequest struct {
	Name           string   `json:"name"`
	Address        string   `json:"address"`
	Transport      string   `json:"transport"`
	AllowFrom      []string `json:"allowFrom"`
	Username       string   `json:"username"`
	Password       *string  `json:"password"`
	Domain         string   `json:"domain"`
	Register       bool     `json:"register"`
	CallerID       string   `json:"callerId"`
	InDialogTarget string   `json:"inDialogTarget"`
	EarlyMedia     string   `json:"earlyMedia"`
}

func (r trunkRequest) trunk() cti.Trunk {
	t := cti.Trunk{Name: r.Name, Address: r.Address, Transport: r.Transport, AllowFrom: r.AllowFrom,
		Username: r.Username, Domain: r.Domain, Register: r.Register, CallerID: r.CallerID,
		InDialogTarget: r.InDialogTarget, EarlyMedia: r.EarlyMedia}
	if r.Password != nil {
		t.Password = *r.Password
	}
	return t
}

func trunkToJSON(t *cti.Trunk) trunkJSON {
	return trunkJSON{ID: t.ID, Name: t.Name, Address: t.Address, Transport: t.Transport, AllowFrom: nonNil(t.AllowFrom),
		Username: t.Username, PasswordSet: t.Password != "", Domain: t.Domain, Register: t.Register, CallerID: t.CallerID,
		InDialogTarget: t.InDialogTarget, EarlyMedia: t.EarlyMedia, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

func (s *Server) listTrunks(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	ts, err := s.svc.ListTrunks(c.UserContext(), p)
	if err != nil {
		return err
	}
	out := listJSON[trunkJSON]{Items: make([]trunkJSON, 0, len(ts))}
	for i := range ts {
		out.Items = append(out.Items, trunkToJSON(&ts[i]))
	}
	return c.JSON(out)
}

func (s *Server) createTrunk(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req trunkRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.svc.CreateTrunk(c.UserContext(), p, req.trunk())
	if err != nil {
		return err
	}
	c.Location("/api/v1/trunks/" + t.ID)
	return c.Status(fiber.StatusCreated).JSON(trunkToJSON(t))
}

func (s *Server) getTrunk(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	t, err := s.svc.GetTrunk(c.UserContext(), p, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(trunkToJSON(t))
}

func (s *Server) putTrunk(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req trunkRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.svc.UpdateTrunk(c.UserContext(), p, c.Params("id"), req.trunk(), req.Password == nil)
	if err != nil {
		return err
	}
	return c.JSON(trunkToJSON(t))
}

func (s *Server) deleteTrunk(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteTrunk(c.UserContext(), p, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

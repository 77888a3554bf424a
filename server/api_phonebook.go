package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
)

// contactJSON is a phonebook entry on the wire.
type contactJSON struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Company   string            `json:"company"`
	Tier      string            `json:"tier"`
	Notes     string            `json:"notes"`
	URL       string            `json:"url"`
	Numbers   []string          `json:"numbers"`
	Fields    map[string]string `json:"fields"`
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
}

// contactInput is what POST and PUT accept; numbers in any common
// format, stored as E.164.
type contactInput struct {
	ID      string            `json:"id"` // ignored on POST; must match the path on PUT
	Name    string            `json:"name"`
	Company string            `json:"company"`
	Tier    string            `json:"tier"`
	Notes   string            `json:"notes"`
	URL     string            `json:"url"`
	Numbers []string          `json:"numbers"`
	Fields  map[string]string `json:"fields"`
}

func contactToJSON(c *cti.Contact) contactJSON {
	fields := c.Fields
	if fields == nil {
		fields = map[string]string{}
	}
	nums := c.Numbers
	if nums == nil {
		nums = []string{}
	}
	return contactJSON{ID: c.ID, Name: c.Name, Company: c.Company, Tier: c.Tier, Notes: c.Notes, URL: c.URL,
		Numbers: nums, Fields: fields, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

func (in contactInput) contact() cti.Contact {
	return cti.Contact{Name: in.Name, Company: in.Company, Tier: in.Tier, Notes: in.Notes, URL: in.URL,
		Numbers: in.Numbers, Fields: in.Fields}
}

// listPhonebook: GET /api/v1/phonebook?limit=&cursor=, or ?number= to
// look one number up (a list of zero or one).
func (s *Server) listPhonebook(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	if num := c.Query("number"); num != "" {
		ct, err := s.svc.FindContact(c.UserContext(), p, num)
		switch {
		case cti.ErrorKind(err) == cti.KindNotFound:
			return c.JSON(listJSON[contactJSON]{Items: []contactJSON{}})
		case err != nil:
			return err
		}
		return c.JSON(listJSON[contactJSON]{Items: []contactJSON{contactToJSON(ct)}})
	}
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	list, next, err := s.svc.ListContacts(c.UserContext(), p, page)
	if err != nil {
		return err
	}
	out := listJSON[contactJSON]{Items: make([]contactJSON, 0, len(list)), NextCursor: next}
	for i := range list {
		out.Items = append(out.Items, contactToJSON(&list[i]))
	}
	return c.JSON(out)
}

// createContact: POST /api/v1/phonebook.
func (s *Server) createContact(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var in contactInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	ct, err := s.svc.CreateContact(c.UserContext(), p, in.contact())
	if err != nil {
		return err
	}
	c.Location("/api/v1/phonebook/" + ct.ID)
	return c.Status(fiber.StatusCreated).JSON(contactToJSON(ct))
}

// getContact: GET /api/v1/phonebook/{id}.
func (s *Server) getContact(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	ct, err := s.svc.GetContact(c.UserContext(), p, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(contactToJSON(ct))
}

// putContact: PUT /api/v1/phonebook/{id} replaces the entry.
func (s *Server) putContact(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var in contactInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	id := c.Params("id")
	if in.ID != "" && in.ID != id {
		return badRequest("id in the body does not match the path")
	}
	ct := in.contact()
	ct.ID = id
	updated, err := s.svc.UpdateContact(c.UserContext(), p, ct)
	if err != nil {
		return err
	}
	return c.JSON(contactToJSON(updated))
}

// deleteContact: DELETE /api/v1/phonebook/{id}.
func (s *Server) deleteContact(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteContact(c.UserContext(), p, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

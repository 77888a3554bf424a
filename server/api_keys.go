package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
)

type apiKeyRequest struct {
	Name   string `json:"name"`
	UserID string `json:"userId"`
}

type apiKeyJSON struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	UserID     string    `json:"userId"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
}

// newAPIKeyJSON is shown once: the key, and the technical user's password
// when the user was created with it.
type newAPIKeyJSON struct {
	apiKeyJSON
	Key      string `json:"key"`
	Username string `json:"username"`
	Password string `json:"password,omitempty"`
}

func apiKeyToJSON(k *cti.APIKey) apiKeyJSON {
	return apiKeyJSON{ID: k.ID, Name: k.Name, UserID: k.UserID, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt}
}

// createAPIKey: POST /api/v1/api-keys (admins).
func (s *Server) createAPIKey(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req apiKeyRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	k, err := s.svc.CreateAPIKey(c.UserContext(), p, cti.NewAPIKeyRequest{Name: req.Name, UserID: req.UserID})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(newAPIKeyJSON{apiKeyJSON: apiKeyToJSON(&k.APIKey), Key: k.Key,
		Username: k.User.Username, Password: k.Password})
}

// listAPIKeys: GET /api/v1/api-keys (admins; never the secrets).
func (s *Server) listAPIKeys(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	keys, err := s.svc.ListAPIKeys(c.UserContext(), p)
	if err != nil {
		return err
	}
	out := listJSON[apiKeyJSON]{Items: make([]apiKeyJSON, 0, len(keys))}
	for i := range keys {
		out.Items = append(out.Items, apiKeyToJSON(&keys[i]))
	}
	return c.JSON(out)
}

// deleteAPIKey: DELETE /api/v1/api-keys/{id} revokes a key.
func (s *Server) deleteAPIKey(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteAPIKey(c.UserContext(), p, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

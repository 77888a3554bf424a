package server

import (
	"bytes"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
)

// Users of a tenant (docs/admin.md): admins manage them, supervisors read
// the users of their teams.

type skillJSON struct {
	Name  string `json:"name"`
	Level int    `json:"level"`
}

type adminUserJSON struct {
	ID          string      `json:"id"`
	TenantID    string      `json:"tenantId"`
	Username    string      `json:"username"`
	DisplayName string      `json:"displayName"`
	Extension   string      `json:"extension"`
	Role        cti.Role    `json:"role"`
	Teams       []string    `json:"teams"`
	Skills      []skillJSON `json:"skills"`
	Disabled    bool        `json:"disabled"`
	SuperAdmin  bool        `json:"superAdmin,omitempty"`
	CreatedAt   time.Time   `json:"createdAt"`
	UpdatedAt   time.Time   `json:"updatedAt"`
	// Password is set once, in the answer that created or reset it.
	Password string `json:"password,omitempty"`
}

func adminUserToJSON(u *cti.User) adminUserJSON {
	out := adminUserJSON{ID: u.ID, TenantID: u.TenantID, Username: u.Username, DisplayName: u.DisplayName,
		Extension: u.Extension, Role: u.Role, Teams: u.Teams, Skills: make([]skillJSON, len(u.Skills)),
		Disabled: u.Disabled(), SuperAdmin: u.SuperAdmin, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
	if out.Teams == nil {
		out.Teams = []string{}
	}
	for i, s := range u.Skills {
		out.Skills[i] = skillJSON(s)
	}
	return out
}

func skillsFromJSON(in []skillJSON) []cti.Skill {
	out := make([]cti.Skill, len(in))
	for i, s := range in {
		out[i] = cti.Skill(s)
	}
	return out
}

type userCreateRequest struct {
	Username    string      `json:"username"`
	DisplayName string      `json:"displayName"`
	Extension   string      `json:"extension"`
	Role        cti.Role    `json:"role"`
	Teams       []string    `json:"teams"`
	Skills      []skillJSON `json:"skills"`
	Password    string      `json:"password"`
	Disabled    bool        `json:"disabled"`
	SuperAdmin  bool        `json:"superAdmin"`
}

func (r userCreateRequest) input() cti.UserInput {
	return cti.UserInput{Username: r.Username, DisplayName: r.DisplayName, Extension: r.Extension, Role: r.Role,
		Teams: r.Teams, Skills: skillsFromJSON(r.Skills), Password: r.Password, Disabled: r.Disabled, SuperAdmin: r.SuperAdmin}
}

type userPatchRequest struct {
	Username    *string      `json:"username"`
	DisplayName *string      `json:"displayName"`
	Extension   *string      `json:"extension"`
	Role        *cti.Role    `json:"role"`
	Teams       *[]string    `json:"teams"`
	Skills      *[]skillJSON `json:"skills"`
	Disabled    *bool        `json:"disabled"`
}

type passwordRequest struct {
	Password string `json:"password"`
}

type passwordJSON struct {
	Password string `json:"password,omitempty"`
}

// createUser: POST /api/v1/users.
func (s *Server) createUser(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req userCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u, err := s.svc.CreateUser(c.UserContext(), p, req.input())
	if err != nil {
		return err
	}
	out := adminUserToJSON(&u.User)
	out.Password = u.Password
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Location("/api/v1/users/" + u.ID)
	return c.Status(fiber.StatusCreated).JSON(out)
}

// getUser: GET /api/v1/users/{id}.
func (s *Server) getUser(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	u, err := s.svc.GetUser(c.UserContext(), p, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(adminUserToJSON(u))
}

// listUsers: GET /api/v1/users?role=&team=&skill=&q=&disabled=&limit=&cursor=.
func (s *Server) listUsers(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	f := cti.UserFilter{Role: cti.Role(c.Query("role")), Team: strings.Clone(c.Query("team")),
		Skill: strings.Clone(c.Query("skill")), Query: strings.Clone(c.Query("q")), Cursor: page.Cursor, Limit: page.Limit}
	if d := c.Query("disabled"); d != "" {
		b, err := strconv.ParseBool(d)
		if err != nil {
			return badRequest("disabled must be true or false")
		}
		f.Disabled = &b
	}
	users, next, err := s.svc.ListUsers(c.UserContext(), p, f)
	if err != nil {
		return err
	}
	out := listJSON[adminUserJSON]{Items: make([]adminUserJSON, 0, len(users)), NextCursor: next}
	for i := range users {
		out.Items = append(out.Items, adminUserToJSON(&users[i]))
	}
	return c.JSON(out)
}

// patchUser: PATCH /api/v1/users/{id}; absent fields stay.
func (s *Server) patchUser(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req userPatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ch := cti.UserPatch{Username: req.Username, DisplayName: req.DisplayName, Extension: req.Extension,
		Role: req.Role, Teams: req.Teams, Disabled: req.Disabled}
	if req.Skills != nil {
		sk := skillsFromJSON(*req.Skills)
		ch.Skills = &sk
	}
	u, err := s.svc.UpdateUser(c.UserContext(), p, c.Params("id"), ch)
	if err != nil {
		return err
	}
	return c.JSON(adminUserToJSON(u))
}

// disableUser: POST /api/v1/users/{id}/disable. The user's requests are
// refused and their websockets closed at once.
func (s *Server) disableUser(c *fiber.Ctx) error { return s.setDisabled(c, true) }

// enableUser: POST /api/v1/users/{id}/enable.
func (s *Server) enableUser(c *fiber.Ctx) error { return s.setDisabled(c, false) }

func (s *Server) setDisabled(c *fiber.Ctx, disabled bool) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	u, err := s.svc.SetUserDisabled(c.UserContext(), p, c.Params("id"), disabled)
	if err != nil {
		return err
	}
	return c.JSON(adminUserToJSON(u))
}

// deleteUser: DELETE /api/v1/users/{id}.
func (s *Server) deleteUser(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteUser(c.UserContext(), p, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// resetPassword: POST /api/v1/users/{id}/password, with a password or
// an empty object for a generated one (returned once).
func (s *Server) resetPassword(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req passwordRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	pw, err := s.svc.ResetPassword(c.UserContext(), p, c.Params("id"), req.Password)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(passwordJSON{Password: pw})
}

// importUsers: POST /api/v1/users/import with a text/csv body. All rows
// or none are created; generated passwords come back once.
func (s *Server) importUsers(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	mt, _, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if mt != "text/csv" {
		return fiber.NewError(fiber.StatusUnsupportedMediaType, "Content-Type must be text/csv")
	}
	users, err := s.svc.ImportUsersCSV(c.UserContext(), p, bytes.NewReader(c.Body()))
	if err != nil {
		return err
	}
	out := listJSON[adminUserJSON]{Items: make([]adminUserJSON, 0, len(users))}
	for i := range users {
		j := adminUserToJSON(&users[i].User)
		j.Password = users[i].Password
		out.Items = append(out.Items, j)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(out)
}

// exportUsers: GET /api/v1/users/export as text/csv.
func (s *Server) exportUsers(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := s.svc.ExportUsersCSV(c.UserContext(), p, &buf); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="users.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(buf.Bytes())
}

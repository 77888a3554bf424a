package server

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
)

// Numbers, tenant settings, dialing rules, tenants and the audit log
// (docs/admin.md). Every handler passes the caller to cti, which checks
// the role and scopes the query to the caller's tenant.

type numberJSON struct {
	ID        string        `json:"id"`
	Number    string        `json:"number"`
	Route     cti.RouteKind `json:"route"`
	Extension string        `json:"extension"`
	Target    string        `json:"target,omitempty"`
	Label     string        `json:"label,omitempty"`
	CreatedAt time.Time     `json:"createdAt"`
	UpdatedAt time.Time     `json:"updatedAt"`
}

type numberRequest struct {
	Number    string        `json:"number"`
	Route     cti.RouteKind `json:"route"`
	Extension string        `json:"extension"`
	Target    string        `json:"target"`
	Label     string        `json:"label"`
}

func numberToJSON(n *cti.Number) numberJSON {
	return numberJSON{ID: n.ID, Number: n.Number, Route: n.Route, Extension: n.Extension, Target: n.Target,
		Label: n.Label, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt}
}

func (r numberRequest) input() cti.NumberInput {
	return cti.NumberInput{Number: r.Number, Route: r.Route, Extension: r.Extension, Target: r.Target, Label: r.Label}
}

func (s *Server) listNumbers(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	nums, err := s.svc.ListNumbers(c.UserContext(), p)
	if err != nil {
		return err
	}
	out := listJSON[numberJSON]{Items: make([]numberJSON, 0, len(nums))}
	for i := range nums {
		out.Items = append(out.Items, numberToJSON(&nums[i]))
	}
	return c.JSON(out)
}

func (s *Server) createNumber(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req numberRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	n, err := s.svc.CreateNumber(c.UserContext(), p, req.input())
	if err != nil {
		return err
	}
	c.Location("/api/v1/numbers/" + n.ID)
	return c.Status(fiber.StatusCreated).JSON(numberToJSON(n))
}

func (s *Server) getNumber(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	n, err := s.svc.GetNumber(c.UserContext(), p, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(numberToJSON(n))
}

func (s *Server) putNumber(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req numberRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	n, err := s.svc.UpdateNumber(c.UserContext(), p, c.Params("id"), req.input())
	if err != nil {
		return err
	}
	return c.JSON(numberToJSON(n))
}

func (s *Server) deleteNumber(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteNumber(c.UserContext(), p, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// settingsJSON is a tenant's settings on the wire. CRM secrets are
// write-only: reads say whether they are set, writes replace them when
// present (an empty string clears one).
type settingsJSON struct {
	DefaultRegion     string   `json:"defaultRegion"`
	ScreenPop         string   `json:"screenPop"`
	Record            bool     `json:"record"`
	RecordingDelivery string   `json:"recordingDelivery"`
	RecordingPolicy   string   `json:"recordingPolicy"`
	RetentionDays     int      `json:"recordingRetentionDays"`
	Analysis          bool     `json:"recordingAnalysis"`
	CRM               crmJSON  `json:"crm"`
	AllowedOrigins    []string `json:"allowedOrigins"`
	WrapUpSeconds     int      `json:"wrapUpSeconds"`
	AwayReasons       []string `json:"awayReasons"`
	DialRules         dialJSON `json:"dialRules"`
	// AnnounceMonitoring beeps to the agents when a supervisor listens in.
	AnnounceMonitoring bool `json:"announceMonitoring"`
	// CallWaiting lets a second direct call ring for an agent on a call.
	CallWaiting bool `json:"callWaiting"`
	// TimeZone is where IVR conditions read the clock (IANA name).
	TimeZone string `json:"timeZone"`
}

type crmJSON struct {
	LookupURL     string  `json:"lookupUrl"`
	LookupMethod  string  `json:"lookupMethod"`
	RoutingURL    string  `json:"routingUrl"`
	QueryURL      string  `json:"queryUrl"`
	AuthHeader    string  `json:"authHeader"`
	Username      string  `json:"username"`
	LookupTimeout int64   `json:"lookupTimeoutMs"`
	RouteTimeout  int64   `json:"routeTimeoutMs"`
	APIKey        *string `json:"apiKey,omitempty"`
	Password      *string `json:"password,omitempty"`
	APIKeySet     bool    `json:"apiKeySet"`
	PasswordSet   bool    `json:"passwordSet"`
}

type dialJSON struct {
	AllowPrefixes  []string `json:"allowPrefixes"`
	AllowCountries []string `json:"allowCountries"`
	MaxDigits      int      `json:"maxDigits"`
	AllowPremium   bool     `json:"allowPremium"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func settingsToJSON(t cti.TenantSettings) settingsJSON {
	return settingsJSON{DefaultRegion: t.DefaultRegion, ScreenPop: string(t.ScreenPop), Record: t.Record,
		RecordingDelivery: string(t.RecordingDelivery), RecordingPolicy: string(t.RecordingPolicy),
		RetentionDays: t.RecordingRetentionDays, Analysis: t.RecordingAnalysis,
		CRM: crmJSON{LookupURL: t.CRM.LookupURL, LookupMethod: t.CRM.LookupMethod, RoutingURL: t.CRM.RoutingURL,
			QueryURL: t.CRM.QueryURL, AuthHeader: t.CRM.AuthHeader, Username: t.CRM.Username, LookupTimeout: t.LookupTimeout.Milliseconds(),
			RouteTimeout: t.RouteTimeout.Milliseconds(), APIKeySet: t.CRM.APIKey != "", PasswordSet: t.CRM.Password != ""},
		AllowedOrigins: nonNil(t.AllowedOrigins), WrapUpSeconds: int(t.WrapUp / time.Second),
		AwayReasons: nonNil(t.AwayReasons), DialRules: dialToJSON(t.DialRule), AnnounceMonitoring: t.AnnounceMonitoring,
		CallWaiting: t.CallWaiting, TimeZone: t.TimeZone}
}

func dialToJSON(r cti.DialRule) dialJSON {
	return dialJSON{AllowPrefixes: nonNil(r.AllowPrefixes), AllowCountries: nonNil(r.AllowCountries), MaxDigits: r.MaxDigits,
		AllowPremium: r.AllowPremium}
}

// apply writes the wire settings onto t (secrets only when sent).
func (j settingsJSON) apply(t *cti.TenantSettings) {
	t.DefaultRegion, t.ScreenPop, t.Record = j.DefaultRegion, cti.ScreenPopMode(j.ScreenPop), j.Record
	t.RecordingDelivery = cti.RecordingDelivery(j.RecordingDelivery)
	t.RecordingPolicy = cti.RecordingPolicy(j.RecordingPolicy)
	t.RecordingRetentionDays, t.RecordingAnalysis = j.RetentionDays, j.Analysis
	t.CRM.LookupURL, t.CRM.LookupMethod, t.CRM.RoutingURL = j.CRM.LookupURL, j.CRM.LookupMethod, j.CRM.RoutingURL
	t.CRM.QueryURL, t.CRM.AuthHeader, t.CRM.Username = j.CRM.QueryURL, j.CRM.AuthHeader, j.CRM.Username
	if j.CRM.APIKey != nil {
		t.CRM.APIKey = *j.CRM.APIKey
	}
	if j.CRM.Password != nil {
		t.CRM.Password = *j.CRM.Password
	}
	t.LookupTimeout = time.Duration(j.CRM.LookupTimeout) * time.Millisecond
	t.RouteTimeout = time.Duration(j.CRM.RouteTimeout) * time.Millisecond
	t.AllowedOrigins, t.AwayReasons = j.AllowedOrigins, j.AwayReasons
	t.WrapUp = time.Duration(j.WrapUpSeconds) * time.Second
	t.DialRule = cti.DialRule(j.DialRules)
	t.AnnounceMonitoring = j.AnnounceMonitoring
	t.CallWaiting = j.CallWaiting
	t.TimeZone = j.TimeZone
}

// getSettings: GET /api/v1/settings (admins).
func (s *Server) getSettings(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	t, err := s.svc.GetSettings(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(settingsToJSON(t))
}

// patchSettings: PATCH /api/v1/settings. Fields absent from the body
// keep their value: the body is decoded over the current settings.
func (s *Server) patchSettings(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	cur, err := s.svc.GetSettings(c.UserContext(), p)
	if err != nil {
		return err
	}
	req := settingsToJSON(cur)
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.svc.UpdateSettings(c.UserContext(), p, req.apply)
	if err != nil {
		return err
	}
	return c.JSON(settingsToJSON(t))
}

// getDialRules: GET /api/v1/dialing-rules (admins).
func (s *Server) getDialRules(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	r, err := s.svc.GetDialRule(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(dialToJSON(r))
}

// putDialRules: PUT /api/v1/dialing-rules replaces the tenant's rule.
func (s *Server) putDialRules(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req dialJSON
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	r, err := s.svc.SetDialRule(c.UserContext(), p, cti.DialRule(req))
	if err != nil {
		return err
	}
	return c.JSON(dialToJSON(r))
}

type tenantJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

type tenantCreateRequest struct {
	ID    string             `json:"id"`
	Name  string             `json:"name"`
	Admin *userCreateRequest `json:"admin"`
}

type tenantCreatedJSON struct {
	tenantJSON
	Admin *adminUserJSON `json:"admin,omitempty"`
}

type tenantPatchRequest struct {
	Name string `json:"name"`
}

func tenantToJSON(t *cti.Tenant) tenantJSON {
	return tenantJSON{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt}
}

func (s *Server) listTenants(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	ts, err := s.svc.ListTenants(c.UserContext(), p)
	if err != nil {
		return err
	}
	out := listJSON[tenantJSON]{Items: make([]tenantJSON, 0, len(ts))}
	for i := range ts {
		out.Items = append(out.Items, tenantToJSON(&ts[i]))
	}
	return c.JSON(out)
}

// createTenant: POST /api/v1/tenants (super-admins), optionally with the
// tenant's first admin, whose generated password comes back once.
func (s *Server) createTenant(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req tenantCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	in := cti.NewTenant{ID: req.ID, Name: req.Name}
	if req.Admin != nil {
		in.Admin = req.Admin.input()
		if in.Admin.Username == "" {
			return &cti.Error{Kind: cti.KindInvalid, Message: "admin.username: required",
				Fields: []cti.FieldError{{Field: "admin.username", Message: "required"}}}
		}
	}
	t, err := s.svc.CreateTenant(c.UserContext(), p, in)
	if err != nil {
		return err
	}
	out := tenantCreatedJSON{tenantJSON: tenantToJSON(&t.Tenant)}
	if t.Admin != nil {
		a := adminUserToJSON(&t.Admin.User)
		a.Password = t.Admin.Password
		out.Admin = &a
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Location("/api/v1/tenants/" + t.Tenant.ID)
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *Server) getTenant(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	t, err := s.svc.GetTenant(c.UserContext(), p, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(tenantToJSON(t))
}

func (s *Server) patchTenant(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req tenantPatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.svc.RenameTenant(c.UserContext(), p, c.Params("id"), req.Name)
	if err != nil {
		return err
	}
	return c.JSON(tenantToJSON(t))
}

func (s *Server) deleteTenant(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteTenant(c.UserContext(), p, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type auditJSON struct {
	ID        string         `json:"id"`
	At        time.Time      `json:"at"`
	ActorID   string         `json:"actorId"`
	ActorName string         `json:"actorName"`
	Action    string         `json:"action"`
	Target    string         `json:"target"`
	Details   map[string]any `json:"details"`
}

// listAudit: GET /api/v1/audit?action=&target=&limit=&cursor= (admins),
// newest first.
func (s *Server) listAudit(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	entries, next, err := s.svc.ListAudit(c.UserContext(), p, cti.AuditFilter{Action: strings.Clone(c.Query("action")),
		Target: strings.Clone(c.Query("target")), Cursor: page.Cursor, Limit: page.Limit})
	if err != nil {
		return err
	}
	out := listJSON[auditJSON]{Items: make([]auditJSON, 0, len(entries)), NextCursor: next}
	for _, e := range entries {
		out.Items = append(out.Items, auditJSON{ID: e.ID, At: e.At, ActorID: e.ActorID, ActorName: e.ActorName,
			Action: e.Action, Target: e.Target, Details: e.Details})
	}
	return c.JSON(out)
}

package server

import (
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/webhook"
)

// The webhook endpoint API (docs/webhooks.md): administrators and API
// users configure where a tenant's call events go and watch, and replay,
// their deliveries.

// webhookRoutes registers /api/v1/webhooks/….
func (s *Server) webhookRoutes(api fiber.Router) {
	add := func(method, path string, h fiber.Handler) {
		api.Add(method, "/webhooks"+path, s.requireAuth, s.webhookAdmin, h)
	}
	add(fiber.MethodGet, "", s.listWebhooks)
	add(fiber.MethodPost, "", s.createWebhook)
	// Before "/:id…" so that "deliveries" is never read as an endpoint id.
	add(fiber.MethodPost, "/deliveries/:id/redeliver", s.redeliverDelivery)
	add(fiber.MethodGet, "/:id", s.getWebhook)
	add(fiber.MethodPut, "/:id", s.putWebhook)
	add(fiber.MethodDelete, "/:id", s.deleteWebhook)
	add(fiber.MethodGet, "/:id/deliveries", s.listWebhookDeliveries)
	add(fiber.MethodPost, "/:id/redeliver", s.redeliverWebhook)
}

// webhookAdmin admits administrators and API users: webhook endpoints carry
// credentials for the tenant's CRM.
func (s *Server) webhookAdmin(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	if p.Role != cti.RoleAdmin && p.Role != cti.RoleAPI {
		return cti.Errorf(cti.KindForbidden, "role %s may not manage webhooks", p.Role)
	}
	if s.cfg.Webhooks == nil {
		return cti.Errorf(cti.KindUnavailable, "webhooks are not enabled on this server")
	}
	return c.Next()
}

// webhookJSON is an endpoint on the wire: its configuration (credentials
// for the receiver omitted; they are write-only), the signing secret in
// full only in the response to POST, and the delivery state.
type webhookJSON struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	webhook.Config
	// Secret is the whsec_ signing secret, returned once, on creation.
	Secret     string `json:"secret,omitempty"`
	SecretHint string `json:"secretHint"`
	// PausedUntil is set while a Retry-After holds every delivery back.
	PausedUntil         *time.Time `json:"pausedUntil,omitempty"`
	ConsecutiveFailures int        `json:"consecutiveFailures"`
	// Deliveries counts the endpoint's deliveries by status (GET of one
	// endpoint only).
	Deliveries map[webhook.Status]int `json:"deliveries,omitempty"`
	CreatedAt  time.Time              `json:"createdAt"`
	UpdatedAt  time.Time              `json:"updatedAt"`
}

func webhookToJSON(ep *webhook.Endpoint) webhookJSON {
	j := webhookJSON{
		ID: ep.ID, TenantID: ep.TenantID, Config: ep.Config, SecretHint: ep.MaskedSecret(),
		ConsecutiveFailures: ep.State.Failures, CreatedAt: ep.CreatedAt, UpdatedAt: ep.UpdatedAt,
	}
	j.Auth.Password, j.Auth.Value = "", ""
	if ep.State.PausedUntil.After(time.Now()) {
		t := ep.State.PausedUntil
		j.PausedUntil = &t
	}
	return j
}

// deliveryJSON is one delivery on the wire.
type deliveryJSON struct {
	ID             string         `json:"id"`
	EndpointID     string         `json:"endpointId"`
	EventID        string         `json:"eventId"`
	EventType      cti.EventType  `json:"eventType"`
	CallID         string         `json:"callId,omitempty"`
	Status         webhook.Status `json:"status"`
	Attempts       int            `json:"attempts"`
	NextAttemptAt  *time.Time     `json:"nextAttemptAt,omitempty"`
	LastAttemptAt  *time.Time     `json:"lastAttemptAt,omitempty"`
	LastStatusCode int            `json:"lastStatusCode,omitempty"`
	LastError      string         `json:"lastError,omitempty"`
	DeliveredAt    *time.Time     `json:"deliveredAt,omitempty"`
	CreatedAt      time.Time      `json:"createdAt"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func deliveryToJSON(d *webhook.Delivery) deliveryJSON {
	return deliveryJSON{
		ID: d.ID(), EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType, CallID: d.CallID,
		Status: d.Status, Attempts: d.Attempts, NextAttemptAt: optTime(d.NextAttemptAt),
		LastAttemptAt: optTime(d.LastAttemptAt), LastStatusCode: d.LastStatusCode, LastError: d.LastError,
		DeliveredAt: optTime(d.DeliveredAt), CreatedAt: d.CreatedAt,
	}
}

// webhookID is the :id path parameter, copied out of fasthttp's buffer.
func webhookID(c *fiber.Ctx) string { return strings.Clone(c.Params("id")) }

// listWebhooks: GET /api/v1/webhooks.
func (s *Server) listWebhooks(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	eps, err := s.cfg.Webhooks.Endpoints(c.UserContext(), p.TenantID)
	if err != nil {
		return err
	}
	out := listJSON[webhookJSON]{Items: make([]webhookJSON, 0, len(eps))}
	for i := range eps {
		out.Items = append(out.Items, webhookToJSON(&eps[i]))
	}
	return c.JSON(out)
}

// createWebhook: POST /api/v1/webhooks. The response is the only one that
// shows the signing secret.
func (s *Server) createWebhook(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var cfg webhook.Config
	if err := decodeJSON(c, &cfg); err != nil {
		return err
	}
	ep, err := s.cfg.Webhooks.CreateEndpoint(c.UserContext(), p.TenantID, cfg)
	if err != nil {
		return err
	}
	s.log.Info("webhook endpoint created", "tenant", p.TenantID, "webhook", ep.ID, "by", p.UserID)
	s.svc.Audit(c.UserContext(), p, "webhook.create", ep.ID, map[string]any{"url": redactURL(ep.Config.URL)})
	j := webhookToJSON(ep)
	j.Secret = ep.Secret
	c.Location("/api/v1/webhooks/" + ep.ID)
	return c.Status(fiber.StatusCreated).JSON(j)
}

// getWebhook: GET /api/v1/webhooks/{id}, with delivery counts.
func (s *Server) getWebhook(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	ep, err := s.cfg.Webhooks.Endpoint(ctx, p.TenantID, webhookID(c))
	if err != nil {
		return err
	}
	j := webhookToJSON(ep)
	if j.Deliveries, err = s.cfg.Webhooks.QueueCounts(ctx, p.TenantID, ep.ID); err != nil {
		return err
	}
	return c.JSON(j)
}

// putWebhook: PUT /api/v1/webhooks/{id} replaces the configuration.
// Credentials left out keep their stored values (see UpdateEndpoint), and
// the read-only fields of a GET response are accepted and ignored, so a
// client can send back what it read with a change.
func (s *Server) putWebhook(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var in webhookJSON
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	id := webhookID(c)
	switch {
	case in.ID != "" && in.ID != id:
		return badRequest("id %q does not match the path's %q", in.ID, id)
	case in.Secret != "":
		return badRequest("secret is generated by the server and cannot be set")
	}
	ep, err := s.cfg.Webhooks.UpdateEndpoint(c.UserContext(), p.TenantID, id, in.Config)
	if err != nil {
		return err
	}
	s.log.Info("webhook endpoint updated", "tenant", p.TenantID, "webhook", ep.ID, "by", p.UserID)
	s.svc.Audit(c.UserContext(), p, "webhook.update", ep.ID, map[string]any{"url": redactURL(ep.Config.URL)})
	return c.JSON(webhookToJSON(ep))
}

// deleteWebhook: DELETE /api/v1/webhooks/{id}, with its queue.
func (s *Server) deleteWebhook(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	id := webhookID(c)
	if err := s.cfg.Webhooks.DeleteEndpoint(c.UserContext(), p.TenantID, id); err != nil {
		return err
	}
	s.log.Info("webhook endpoint deleted", "tenant", p.TenantID, "webhook", id, "by", p.UserID)
	s.svc.Audit(c.UserContext(), p, "webhook.delete", id, nil)
	return c.SendStatus(fiber.StatusNoContent)
}

// listWebhookDeliveries: GET /api/v1/webhooks/{id}/deliveries?status=&limit=&cursor=,
// newest first.
func (s *Server) listWebhookDeliveries(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	q := webhook.DeliveryQuery{Status: webhook.Status(strings.Clone(c.Query("status")))}
	if q.Status != "" && !q.Status.Valid() {
		return badRequest("status must be pending, failed, delivered or parked, not %q", q.Status)
	}
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	q.Limit = page.Normalized().Limit
	if page.Cursor != "" {
		if q.Before, err = decodeSeqCursor(page.Cursor); err != nil {
			return err
		}
	}
	list, err := s.cfg.Webhooks.Deliveries(c.UserContext(), p.TenantID, webhookID(c), q)
	if err != nil {
		return err
	}
	out := listJSON[deliveryJSON]{Items: make([]deliveryJSON, 0, len(list))}
	for i := range list {
		out.Items = append(out.Items, deliveryToJSON(&list[i]))
	}
	if len(list) == q.Limit {
		out.NextCursor = encodeSeqCursor(list[len(list)-1].Seq)
	}
	return c.JSON(out)
}

// Delivery cursors are opaque: the last sequence number, base64url.
func encodeSeqCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(seq, 10)))
}

func decodeSeqCursor(cur string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(cur)
	if err == nil {
		if n, perr := strconv.ParseInt(string(b), 10, 64); perr == nil && n > 0 {
			return n, nil
		}
	}
	return 0, badRequest("malformed cursor")
}

// redeliverDelivery: POST /api/v1/webhooks/deliveries/{id}/redeliver.
func (s *Server) redeliverDelivery(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	d, err := s.cfg.Webhooks.Redeliver(c.UserContext(), p.TenantID, webhookID(c))
	if err != nil {
		return err
	}
	s.log.Info("webhook delivery redelivered", "tenant", p.TenantID, "delivery", d.ID(), "by", p.UserID)
	return c.Status(fiber.StatusAccepted).JSON(deliveryToJSON(d))
}

// redeliverResult answers a bulk redelivery.
type redeliverResult struct {
	Redelivered int `json:"redelivered"`
}

// redeliverWebhook: POST /api/v1/webhooks/{id}/redeliver?status=parked
// (the default) or failed.
func (s *Server) redeliverWebhook(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	status := webhook.Status(c.Query("status", string(webhook.StatusParked)))
	if status != webhook.StatusParked && status != webhook.StatusFailed {
		return badRequest("status must be parked or failed, not %q", status)
	}
	id := webhookID(c)
	n, err := s.cfg.Webhooks.RedeliverAll(c.UserContext(), p.TenantID, id, status)
	if err != nil {
		return err
	}
	s.log.Info("webhook deliveries redelivered", "tenant", p.TenantID, "webhook", id, "status", status, "count", n, "by", p.UserID)
	return c.Status(fiber.StatusAccepted).JSON(redeliverResult{Redelivered: n})
}

// redactURL keeps a webhook URL's scheme, host and path for the audit
// log; query strings and user info may carry credentials.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

package crm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

var _ cti.CRM = (*Client)(nil)

// MaxResponse bounds a CRM's answer; anything longer is refused.
const MaxResponse = 64 << 10

// userAgent names us to the CRM's logs.
const userAgent = "ringbridge-crm/1"

// ErrNotConfigured is returned by Route for a tenant without a routing
// URL (cti then takes the fallback), and by Query without a query or
// routing URL (the node's onTimeout branch).
var ErrNotConfigured = errors.New("crm: no routing URL configured for this tenant")

// Client talks to every tenant's CRM over HTTP.
type Client struct {
	http    *http.Client
	tenants map[string]TenantConfig
	log     *slog.Logger
	// resolve, when set, is asked first for a tenant's connection on
	// every request, so settings changed at runtime apply to the next
	// call. Set before the first request; never changed after.
	resolve func(tenantID string) (TenantConfig, bool)
}

// SetResolver makes the client read each tenant's connection from r on
// every request (the tenant settings administrators change at runtime),
// falling back to the tenants given to New when r has none. Call it
// before the client is used.
func (c *Client) SetResolver(r func(tenantID string) (TenantConfig, bool)) { c.resolve = r }

// tenant returns the tenant's connection, validated.
func (c *Client) tenant(id string) (TenantConfig, bool) {
	if c.resolve != nil {
		if tc, ok := c.resolve(id); ok {
			if err := tc.validate(); err != nil {
				c.log.Warn("tenant CRM settings unusable", "tenant", id, "err", err)
				return TenantConfig{}, false
			}
			return tc, true
		}
	}
	tc, ok := c.tenants[id]
	return tc, ok
}

// New validates the tenants' configurations and builds the client.
func New(tenants map[string]TenantConfig, log *slog.Logger) (*Client, error) {
	if log == nil {
		log = slog.Default()
	}
	checked := make(map[string]TenantConfig, len(tenants))
	for id, tc := range tenants {
		if err := tc.validate(); err != nil {
			return nil, fmt.Errorf("crm: tenant %s: %w", id, err)
		}
		checked[id] = tc
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16, // keep-alive: a lookup per ringing call must not pay a TLS handshake
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &Client{
		tenants: checked,
		log:     log,
		http: &http.Client{
			Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// lookupParams are the call's parameters as a lookup sends them.
type lookupParams struct {
	Number    string `json:"number"`
	From      string `json:"from"`
	To        string `json:"to"`
	CallID    string `json:"callId"`
	Direction string `json:"direction"`
	Extension string `json:"extension,omitempty"`
	Event     string `json:"event"`
	Tenant    string `json:"tenant"`
}

// Lookup implements cti.CRM.
func (c *Client) Lookup(ctx context.Context, r cti.LookupRequest) (*cti.Card, error) {
	tc, ok := c.tenant(r.TenantID)
	if !ok || tc.LookupURL == "" {
		return nil, nil
	}
	p := lookupParams{Number: r.Number, From: r.From, To: r.To, CallID: r.CallID, Direction: string(r.Direction),
		Extension: r.Extension, Event: string(r.Event), Tenant: r.TenantID}
	var req *http.Request
	var err error
	if tc.LookupMethod == http.MethodPost {
		req, err = jsonRequest(ctx, tc.LookupURL, p)
	} else {
		req, err = getRequest(ctx, tc.LookupURL, p)
	}
	if err != nil {
		return nil, err
	}
	tc.authorize(req)
	body, status, err := c.do(req)
	if err != nil {
		return nil, err
	}
	switch {
	case status == http.StatusNotFound || status == http.StatusNoContent:
		return nil, nil
	case status != http.StatusOK:
		return nil, fmt.Errorf("crm lookup: HTTP %d", status)
	}
	return parseCard(body)
}

// routeParams are the call's parameters as a routing query sends them.
type routeParams struct {
	CallID string `json:"callId"`
	Tenant string `json:"tenant"`
	From   string `json:"from"`
	To     string `json:"to"`
	Trunk  string `json:"trunk"`
}

// Route implements cti.CRM.
func (c *Client) Route(ctx context.Context, p cti.CallParams) (cti.RouteDecision, error) {
	tc, ok := c.tenant(p.TenantID)
	if !ok || tc.RoutingURL == "" {
		return cti.RouteDecision{}, ErrNotConfigured
	}
	req, err := jsonRequest(ctx, tc.RoutingURL, routeParams{CallID: p.CallID, Tenant: p.TenantID, From: p.From, To: p.To, Trunk: p.Trunk})
	if err != nil {
		return cti.RouteDecision{}, err
	}
	tc.authorize(req)
	body, status, err := c.do(req)
	if err != nil {
		return cti.RouteDecision{}, err
	}
	if status != http.StatusOK {
		return cti.RouteDecision{}, fmt.Errorf("crm route: HTTP %d", status)
	}
	return parseRoute(body)
}

// queryParams are an IVR query as sent.
type queryParams struct {
	CallID    string            `json:"callId"`
	Tenant    string            `json:"tenant"`
	From      string            `json:"from"`
	To        string            `json:"to"`
	Direction string            `json:"direction"`
	Flow      string            `json:"flow"`
	Node      string            `json:"node"`
	Vars      map[string]string `json:"vars"`
}

// Query implements cti.CRM: a POST to the tenant's query URL (its routing
// URL when none is set), with the same credentials as every request.
func (c *Client) Query(ctx context.Context, q cti.IVRQuery) (cti.IVRAnswer, error) {
	tc, ok := c.tenant(q.TenantID)
	target := tc.QueryURL
	if target == "" {
		target = tc.RoutingURL
	}
	if !ok || target == "" {
		return cti.IVRAnswer{}, ErrNotConfigured
	}
	vars := q.Vars
	if vars == nil {
		vars = map[string]string{}
	}
	req, err := jsonRequest(ctx, target, queryParams{CallID: q.CallID, Tenant: q.TenantID, From: q.From, To: q.To,
		Direction: string(q.Direction), Flow: q.Flow, Node: q.Node, Vars: vars})
	if err != nil {
		return cti.IVRAnswer{}, err
	}
	tc.authorize(req)
	body, status, err := c.do(req)
	if err != nil {
		return cti.IVRAnswer{}, err
	}
	if status != http.StatusOK {
		return cti.IVRAnswer{}, fmt.Errorf("crm query: HTTP %d", status)
	}
	return parseIVRAnswer(body)
}

func getRequest(ctx context.Context, raw string, p lookupParams) (*http.Request, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("crm: lookup URL: %w", err)
	}
	q := u.Query()
	for k, v := range map[string]string{"number": p.Number, "from": p.From, "to": p.To, "callId": p.CallID,
		"direction": p.Direction, "extension": p.Extension, "event": p.Event, "tenant": p.Tenant} {
		if v != "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("crm: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	return req, nil
}

func jsonRequest(ctx context.Context, raw string, v any) (*http.Request, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("crm: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, raw, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("crm: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	return req, nil
}

// do sends a request and reads at most MaxResponse bytes of the answer.
func (c *Client) do(req *http.Request) ([]byte, int, error) {
	res, err := c.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("crm %s %s: %w", req.Method, redact(req.URL), err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxResponse+1))
	if err != nil {
		return nil, 0, fmt.Errorf("crm %s %s: reading the answer: %w", req.Method, redact(req.URL), err)
	}
	if len(body) > MaxResponse {
		return nil, 0, fmt.Errorf("crm %s %s: answer larger than %d bytes", req.Method, redact(req.URL), MaxResponse)
	}
	return body, res.StatusCode, nil
}

// redact drops the query (customer numbers, perhaps a key) from logs.
func redact(u *url.URL) string {
	v := *u
	v.RawQuery, v.User = "", nil
	return v.String()
}

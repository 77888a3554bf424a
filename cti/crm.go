package cti

import "context"

// CRM is the port to the tenants' CRMs: the caller lookup behind screen
// pop and the routing query ("data query") of numbers routed by CRM.
// cti/crm implements it over HTTP. Implementations must honour ctx: cti
// gives every request a deadline and cancels it when the call ends.
type CRM interface {
	// Lookup finds the customer behind a number. No match is (nil, nil);
	// so is a tenant without a lookup URL.
	Lookup(ctx context.Context, req LookupRequest) (*Card, error)
	// Route asks where a call should go. An error, or a decision with
	// no target, makes cti take the number's fallback.
	Route(ctx context.Context, p CallParams) (RouteDecision, error)
	// Query is an IVR flow's CRM node: the call's data and the flow's
	// variables go to the CRM, whose answer picks the branch. An error
	// (none configured, a timeout, a garbled answer) takes the node's
	// onTimeout branch.
	Query(ctx context.Context, q IVRQuery) (IVRAnswer, error)
}

// IVRQuery is what an IVR flow's CRM node sends.
type IVRQuery struct {
	TenantID  string
	CallID    string
	From      string // the caller, E.164 when it could be read as one
	To        string // the called number
	Direction Direction
	Flow      string
	Node      string
	Vars      map[string]string // what the caller entered and set nodes set
}

// IVRAnswer is the CRM's answer to an IVR query.
type IVRAnswer struct {
	// Branch picks the node's answers entry ("" or no entry: next).
	Branch string
	// Tag becomes the caller's tag (the "tag" variable) when set.
	Tag string
	// Vars are set as flow variables.
	Vars map[string]string
}

// LookupEvent is the moment a lookup is made for.
type LookupEvent string

const (
	LookupRinging  LookupEvent = "ringing"
	LookupAnswered LookupEvent = "answered"
)

// LookupRequest is what a CRM learns about a call it is asked to identify.
type LookupRequest struct {
	TenantID  string
	CallID    string
	Number    string // the customer's number, E.164 when it could be read as one
	From      string // caller as presented
	To        string // called number or extension
	Direction Direction
	Extension string // the agent being rung or talking
	Event     LookupEvent
}

// CallParams are the parameters of a call sent to the CRM's routing query.
type CallParams struct {
	TenantID string
	CallID   string
	From     string // caller, E.164 when it could be read as one
	To       string // the called number (DID), E.164 when possible
	Trunk    string // the trunk the call came in on
}

// RouteDecision is the CRM's answer: exactly one target should be set.
type RouteDecision struct {
	Extension string
	Number    string
	Queue     string
	// Priority places the call in Queue: higher goes first (a VIP jumps
	// ahead); 0 by default.
	Priority int
}

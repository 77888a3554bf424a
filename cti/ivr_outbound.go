package cti

import (
	"context"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ringbridge/ringbridge/cti/ivr"
)

// Outbound IVR calls: another system asks us (POST /api/v1/ivr-calls) to
// call a number and run a flow once it answers. The number is checked
// against the tenant's dialing rules and dialled through the trunk like
// any outbound call; the call is an ordinary call (one owner goroutine,
// the same state machine) that starts dialling, and on answer becomes an
// IVR call walking the flow's version current when it was started. Its
// outcome — no answer, busy, failed, or answered with what the callee
// entered and where the walk ended — is in the call record (ivr) and is
// published as ivr.call.ended. A tenant's rate and number of such calls
// in progress are bounded, so a runaway system cannot start thousands.

// EventIVRCallEnded is an outbound IVR call's outcome (Data: IVRCall).
const EventIVRCallEnded EventType = "ivr.call.ended"

// OriginIVRCall marks calls started through POST /api/v1/ivr-calls.
const OriginIVRCall = "ivr_call"

// Defaults of the outbound IVR call limits (Config).
const (
	DefaultIVRCallsPerMinute  = 60
	DefaultIVRCallsConcurrent = 20
	// DefaultIVRCallRing is how long the callee's phone rings before the
	// call is given up as no_answer.
	DefaultIVRCallRing = 30 * time.Second
)

// Limits of one request.
const (
	maxIVRCallVars    = 32
	maxIVRCallVarText = 256
)

// IVRCallRequest asks for an outbound IVR call.
type IVRCallRequest struct {
	Number string
	Flow   string
	// Variables start the flow's variables (conditions, CRM queries and
	// webhooks see them).
	Variables map[string]string
	// CallerID is presented to the callee; default "anonymous" (a
	// trunk's configured caller id overrides it).
	CallerID string
	// Ring is how long the callee's phone rings; 0: DefaultIVRCallRing.
	Ring time.Duration
}

// IVRCall is an outbound IVR call's status, as GET /api/v1/ivr-calls/{id}
// and ivr.call.ended tell it.
type IVRCall struct {
	ID       string `json:"id"`
	Number   string `json:"number"`
	CallerID string `json:"callerId"`
	Flow     string `json:"flow"`
	Version  int    `json:"version"`
	// Status is dialing, in_flow (answered, walking the flow), routed
	// (the flow handed the call on: a queue, an agent, a number) or ended.
	Status string `json:"status"`
	// Outcome, once ended: answered, no_answer, busy or failed.
	Outcome   string    `json:"outcome,omitempty"`
	EndReason EndReason `json:"endReason,omitempty"`
	// Node is where the walk was last (where it ended).
	Node string `json:"node,omitempty"`
	// Vars holds what the callee entered (collect nodes' variables,
	// menu_<node> keys) and the variables the call started with.
	Vars       map[string]string `json:"vars"`
	StartedAt  time.Time         `json:"startedAt"`
	AnsweredAt time.Time         `json:"answeredAt,omitzero"`
	EndedAt    time.Time         `json:"endedAt,omitzero"`
}

// ivrOutbound is an outbound IVR call's flow until the callee answers.
type ivrOutbound struct {
	fv   *IVRFlowVersion
	vars map[string]string
}

// ivrCallLimits holds each tenant's rate of new outbound IVR calls.
type ivrCallLimits struct {
	mu   sync.Mutex
	rate map[string]*rate.Limiter
}

func (l *ivrCallLimits) allow(tenantID string, perMinute int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate == nil {
		l.rate = map[string]*rate.Limiter{}
	}
	lim, ok := l.rate[tenantID]
	if !ok {
		lim = rate.NewLimiter(rate.Limit(float64(perMinute)/60), max(1, perMinute/10))
		l.rate[tenantID] = lim
	}
	return lim.Allow()
}

// StartIVRCall calls a number and runs a flow when it answers. Refused
// before anything is dialled: a malformed request or number
// (KindInvalid), an unknown flow (KindInvalid), a number outside the
// tenant's dialing rules (KindForbidden), too many calls started or in
// progress (KindRateLimited).
func (s *Service) StartIVRCall(ctx context.Context, p Principal, req IVRCallRequest) (IVRCall, error) {
	if err := p.require(rolesIntegrate, "start IVR calls"); err != nil {
		return IVRCall{}, err
	}
	if s.media == nil {
		return IVRCall{}, Errorf(KindUnavailable, "media engine not running")
	}
	var f fieldErrors
	if strings.TrimSpace(req.Flow) == "" {
		f.add("flow", "the flow to run is required")
	}
	if len(req.Variables) > maxIVRCallVars {
		f.add("variables", "at most %d variables", maxIVRCallVars)
	}
	for k, v := range req.Variables {
		if !ivr.ValidVar(k) || len(v) > maxIVRCallVarText {
			f.add("variables", "%q: names are lower-case letters, digits and _ (at most 32), values at most %d characters", k, maxIVRCallVarText)
		}
	}
	if req.Ring != 0 && (req.Ring < 5*time.Second || req.Ring > 2*time.Minute) {
		f.add("ringSeconds", "want 5 to 120")
	}
	callerID := "anonymous"
	if req.CallerID != "" {
		if callerID = normalizeNumber(req.CallerID); callerID == "" || len(callerID) > 32 {
			f.add("callerId", "%q is not a phone number", req.CallerID)
		}
	}
	if err := f.err(); err != nil {
		return IVRCall{}, err
	}
	num, err := NormalizeE164(req.Number, s.tenant(p.TenantID).DefaultRegion)
	if err != nil {
		return IVRCall{}, err
	}
	if err := s.checkDialRule(p.TenantID, num); err != nil {
		return IVRCall{}, err
	}
	fv, err := s.store.GetIVRFlow(ctx, p.TenantID, req.Flow, 0)
	if ErrorKind(err) == KindNotFound {
		return IVRCall{}, &Error{Kind: KindInvalid, Message: "no IVR flow " + req.Flow, Err: err}
	}
	if err != nil {
		return IVRCall{}, err
	}
	ring := req.Ring
	if ring == 0 {
		ring = DefaultIVRCallRing
	}
	perMinute, concurrent := s.cfg.IVRCallsPerMinute, s.cfg.IVRCallsConcurrent
	if perMinute <= 0 {
		perMinute = DefaultIVRCallsPerMinute
	}
	if concurrent <= 0 {
		concurrent = DefaultIVRCallsConcurrent
	}

	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return IVRCall{}, Errorf(KindUnavailable, "shutting down")
	}
	if n := s.ivrCallsLocked(p.TenantID); n >= concurrent {
		s.mu.Unlock()
		return IVRCall{}, Errorf(KindRateLimited, "%d outbound IVR calls are in progress; at most %d at once", n, concurrent)
	}
	if !s.ivrCallLimits.allow(p.TenantID, perMinute) {
		s.mu.Unlock()
		return IVRCall{}, Errorf(KindRateLimited, "at most %d outbound IVR calls a minute", perMinute)
	}
	c := s.newCallLocked(p.TenantID, DirectionOutbound, callerID, num, CallDialing)
	c.info.Origin, c.hist.origin = OriginIVRCall, OriginIVRCall
	label := "ivr:" + fv.Flow.ID
	c.info.Route, c.hist.route = label, label
	vars := maps.Clone(req.Variables)
	if vars == nil {
		vars = map[string]string{}
	}
	c.ivrOut = &ivrOutbound{fv: fv, vars: vars}
	c.hist.ivr = &IVRRecord{Flow: fv.Flow.ID, Version: fv.Version, Vars: maps.Clone(vars)}
	s.mu.Unlock()

	s.audit(ctx, p, p.TenantID, "ivr_call.start", c.ID(), map[string]any{"number": num, "flow": fv.Flow.ID, "version": fv.Version})
	s.log.Info("outbound IVR call", "call", c.ID(), "tenant", p.TenantID, "to", num, "flow", fv.Flow.ID, "version", fv.Version, "by", p.UserID)
	status := ivrCallOf(c.Record())
	s.start(c, func(ctx context.Context, log *slog.Logger) EndReason {
		leg, err := s.media.Dial(ctx, DialRequest{TenantID: c.info.TenantID, CallID: c.ID(), From: callerID, To: num})
		if err != nil {
			log.Warn("outbound IVR call: dial failed", "err", err)
			return EndFailed
		}
		c.setSIPCallID(leg.CallID())
		c.trackLeg(leg, DirectionOutbound, num)
		c.watchDTMF(leg)
		c.b = legSide(leg, false)
		c.ring = time.NewTimer(ring)
		c.publishCall(EventCallRinging)
		return EndNone
	})
	return status, nil
}

// ivrCallsLocked counts the tenant's outbound IVR calls in progress.
// Callers hold s.mu.
func (s *Service) ivrCallsLocked(tenantID string) int {
	n := 0
	for _, c := range s.calls {
		if c.info.TenantID == tenantID && c.hist.origin == OriginIVRCall && !c.over.Load() {
			n++
		}
	}
	return n
}

// ivrCallAnswered: the callee answered; the call becomes an IVR call and
// walks its flow, the callee being the side that stays.
func (c *Call) ivrCallAnswered(*callEvent) EndReason {
	out := c.ivrOut
	c.ivrOut = nil
	c.stopRing()
	c.b.answered = true
	c.legAnswered(c.b.leg)
	c.a, c.b = c.b, nil
	c.mu.Lock()
	c.info.AnsweredAt = time.Now().UTC()
	c.mu.Unlock()
	c.setState(CallIVR)
	c.publishCall(EventCallAnswered)
	c.ivr = &ivrRun{flow: out.fv.Flow, version: out.fv.Version, vars: out.vars}
	c.log.Info("outbound IVR call answered; running the flow", "flow", out.fv.Flow.ID)
	return c.ivrGo(out.fv.Flow.Start)
}

// ivrOutcome names how an outbound IVR call went.
func ivrOutcome(answered time.Time, why EndReason) string {
	switch {
	case !answered.IsZero():
		return "answered"
	case why == EndBusy || why == EndRejected:
		return "busy"
	case why == EndNoAnswer:
		return "no_answer"
	}
	return "failed"
}

// ivrCallOf reads an outbound IVR call's status from its record.
func ivrCallOf(r CallRecord) IVRCall {
	out := IVRCall{ID: r.ID, Number: r.To, CallerID: r.From, Status: "dialing", EndReason: r.EndReason,
		StartedAt: r.StartedAt, AnsweredAt: r.AnsweredAt, EndedAt: r.EndedAt, Vars: map[string]string{}}
	if v := r.IVR; v != nil {
		out.Flow, out.Version, out.Node, out.Outcome = v.Flow, v.Version, v.Node, v.Outcome
		if v.Vars != nil {
			out.Vars = v.Vars
		}
	}
	switch {
	case !r.EndedAt.IsZero():
		out.Status = "ended"
		if out.Outcome == "" {
			out.Outcome = ivrOutcome(r.AnsweredAt, r.EndReason)
		}
	case !r.AnsweredAt.IsZero() && len(r.Agents) > 0 || r.Queue != nil:
		out.Status = "routed"
	case !r.AnsweredAt.IsZero():
		out.Status = "in_flow"
	}
	return out
}

// GetIVRCall returns an outbound IVR call's status: live, or from its
// record once ended.
func (s *Service) GetIVRCall(ctx context.Context, p Principal, id string) (IVRCall, error) {
	if err := p.require(rolesReadAll, "read IVR calls"); err != nil {
		return IVRCall{}, err
	}
	rec, err := s.GetCall(ctx, p, id)
	if err != nil {
		return IVRCall{}, err
	}
	if rec.Origin != OriginIVRCall {
		return IVRCall{}, Errorf(KindNotFound, "no IVR call %s", id)
	}
	return ivrCallOf(*rec), nil
}

// ivrCallEnded publishes an outbound IVR call's outcome, after its
// record is stored (so what the event points to can be read).
func (s *Service) ivrCallEnded(log *slog.Logger, rec *CallRecord) {
	st := ivrCallOf(*rec)
	if err := s.publish(EventIVRCallEnded, rec.TenantID, rec.ID, st); err != nil {
		log.Error("publishing ivr.call.ended", "err", err)
	}
}

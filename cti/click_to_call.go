package cti

import (
	"context"
	"log/slog"
	"strings"
)

// ClickToCall asks to connect an agent with a number: the agent's phone
// rings first, and once they answer the number is dialled and bridged.
type ClickToCall struct {
	Extension string
	Number    string
	// CallerID is presented to the called party; default the agent's
	// extension (a trunk's configured caller id overrides both).
	CallerID string
}

// ClickToCall starts a click-to-call for an integration. Everything that
// can be checked is checked before the agent's phone rings: a malformed
// number (KindInvalid), a destination outside the tenant's dialing rules
// (KindForbidden), an unknown extension (KindNotFound), an agent offline,
// away, in wrap-up or on a call (KindConflict).
func (s *Service) ClickToCall(ctx context.Context, p Principal, req ClickToCall) (CallInfo, error) {
	if err := p.require(rolesIntegrate, "start calls"); err != nil {
		return CallInfo{}, err
	}
	if s.media == nil {
		return CallInfo{}, Errorf(KindUnavailable, "media engine not running")
	}
	ext := strings.TrimSpace(req.Extension)
	if ext == "" {
		return CallInfo{}, Errorf(KindInvalid, "extension is required")
	}
	num, err := NormalizeE164(req.Number, s.tenant(p.TenantID).DefaultRegion)
	if err != nil {
		return CallInfo{}, err
	}
	if err := s.checkDialRule(p.TenantID, num); err != nil {
		return CallInfo{}, err
	}
	callerID := ext
	if req.CallerID != "" {
		if callerID = normalizeNumber(req.CallerID); callerID == "" || len(callerID) > 32 {
			return CallInfo{}, Errorf(KindInvalid, "callerId %q is not a phone number", req.CallerID)
		}
	}
	if _, err := s.store.GetUserByExtension(ctx, p.TenantID, ext); err != nil {
		if ErrorKind(err) == KindNotFound {
			return CallInfo{}, Errorf(KindNotFound, "no extension %s", ext)
		}
		return CallInfo{}, err
	}
	var card *Card
	if s.tenant(p.TenantID).ScreenPop.onRinging() {
		card = s.phonebookCard(ctx, p.TenantID, num)
	}

	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return CallInfo{}, Errorf(KindUnavailable, "shutting down")
	}
	ag, err := s.ringableLocked(p.TenantID, ext)
	if err != nil {
		s.mu.Unlock()
		// Offline, away or busy are all "not now" for the caller: 409.
		return CallInfo{}, &Error{Kind: KindConflict, Message: ErrorMessage(err), Err: err}
	}
	c := s.newCallLocked(p.TenantID, DirectionOutbound, ext, num, CallRinging, ag)
	c.info.Origin, c.hist.origin = OriginClickToCall, OriginClickToCall
	c.info.Card = card
	ep := ag.session.endpoint
	s.mu.Unlock()

	c.agentRinging(ag)
	s.log.Info("click-to-call", "call", c.ID(), "tenant", p.TenantID, "ext", ext, "to", num, "by", p.UserID)
	s.start(c, func(ctx context.Context, log *slog.Logger) EndReason {
		c.publishCall(EventCallRinging)
		if s.tenant(p.TenantID).ScreenPop.onRinging() {
			c.lookupCRM(ctx, log, LookupRinging, ext)
		}
		c.b, c.dial = agentSide(ag, ep, false), &dialPlan{num: num, callerID: callerID}
		c.armRing()
		return EndNone
	})
	return c.infoFor(ag), nil
}

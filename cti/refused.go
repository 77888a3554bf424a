package cti

import "time"

// Every call attempt leaves a record. An inbound call that is turned away
// before any agent rings (the agent is away, busy or offline, the server
// is draining) never becomes a Call, so refuse writes its record and its
// call.ended here: the CRM learns that it missed a customer.

// refusedCall is what is known of an inbound attempt when it is refused.
type refusedCall struct {
	in       InboundCall
	tenantID string
	id       string
	from, to string
	route    string // how it was routed, when it got that far
	ext      string // the extension it was meant for, if any
	started  time.Time
}

// refuse records the refused attempt and returns err for the trunk, which
// answers it with the SIP status of err's kind.
func (s *Service) refuse(a refusedCall, err error) error {
	now := time.Now().UTC()
	reason := refusalReason(err)
	rec := CallRecord{
		ID: a.id, TenantID: a.tenantID, Direction: DirectionInbound,
		From: a.from, To: a.to, CustomerNumber: s.e164(a.tenantID, a.from), Route: a.route,
		StartedAt: a.started, EndedAt: now, EndReason: reason, Tags: []string{},
		Legs: []LegRecord{{
			SIPCallID: a.in.Leg.CallID(), Direction: DirectionInbound, Number: a.from, Trunk: a.in.Trunk,
			StartedAt: a.started, EndedAt: now, EndReason: reason, SIPStatus: RefusalStatus(err),
		}},
		Agents: []AgentSegment{},
	}
	if tn, ok := a.in.Leg.(trunkNamer); ok && rec.Legs[0].Trunk == "" {
		rec.Legs[0].Trunk = tn.Trunk()
	}
	if a.ext != "" {
		rec.Agents = append(rec.Agents, AgentSegment{Extension: a.ext, EndedAt: now, EndReason: reason})
	}
	rec.Durations.Total = seconds(now.Sub(a.started))
	rec.Durations.Ring = rec.Durations.Total
	s.log.Info("inbound call refused", "call", a.id, "sip_call_id", a.in.Leg.CallID(), "from", a.from, "to", a.to,
		"ext", a.ext, "reason", reason, "err", err)
	if perr := s.publishWith(EventCallEnded, rec.TenantID, rec.ID, &rec, &EventState{CallRecord: &rec}); perr != nil {
		s.log.Error("storing the record of a refused call", "call", a.id, "err", perr)
	}
	return err
}

// refusalReason is the end reason a refusal is recorded with.
func refusalReason(err error) EndReason {
	switch ErrorKind(err) {
	case KindBusy:
		return EndBusy
	case KindUnavailable:
		return EndUnavailable
	case KindNotFound:
		return EndNotInService
	case KindForbidden:
		return EndRejected
	}
	return EndFailed
}

// RefusalStatus is the SIP final status an InboundHandler error stands
// for (the contract of InboundHandler): NotFound 404, Busy 486,
// Unavailable 480, Forbidden 403, anything else 500. The trunk answers
// with it, and refused calls' records carry it.
func RefusalStatus(err error) int {
	switch ErrorKind(err) {
	case KindNotFound:
		return 404
	case KindBusy:
		return 486
	case KindUnavailable:
		return 480
	case KindForbidden:
		return 403
	}
	return 500
}

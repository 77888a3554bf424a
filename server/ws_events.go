package server

import (
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// feedSource is an agent session as the pump forwards it: its events
// until the connection closes or the session ends, and a recheck every
// AuthRecheck that the user may still be signed in.
type feedSource interface {
	events() <-chan *cti.AgentEvent
	sessionDone() <-chan struct{}
	recheckEvery() time.Duration
	// relay writes one event with send; false ends the forwarding.
	relay(ev *cti.AgentEvent, send func(*wsproto.Message) bool) bool
	// recheck re-checks the user's access; false ends the forwarding.
	recheck(send func(*wsproto.Message) bool) bool
	// forwarded is called once when the pump stops forwarding.
	forwarded()
}

// feed is the pump's state of the session it forwards; the zero feed
// forwards nothing (nil channels never fire).
type feed struct {
	src     feedSource
	events  <-chan *cti.AgentEvent
	done    <-chan struct{}
	recheck <-chan time.Time
	ticker  *time.Ticker
}

func (f *feed) start(src feedSource) {
	f.stop()
	f.src, f.events, f.done = src, src.events(), src.sessionDone()
	f.ticker = time.NewTicker(src.recheckEvery())
	f.recheck = f.ticker.C
}

func (f *feed) stop() {
	if f.src == nil {
		return
	}
	f.ticker.Stop()
	f.src.forwarded()
	*f = feed{}
}

// drain writes the events already queued.
func (f *feed) drain(send func(*wsproto.Message) bool) {
	for {
		select {
		case ev := <-f.events:
			if !f.src.relay(ev, send) {
				return
			}
		default:
			return
		}
	}
}

func (a *agentConn) events() <-chan *cti.AgentEvent { return a.sess.Events() }
func (a *agentConn) sessionDone() <-chan struct{}   { return a.sess.Done() }
func (a *agentConn) recheckEvery() time.Duration    { return a.srv.cfg.AuthRecheck }
func (a *agentConn) forwarded()                     { a.fwdOnce.Do(func() { close(a.fwdDone) }) }

// relay sends one event and reports whether forwarding should go on.
func (a *agentConn) relay(ev *cti.AgentEvent, send func(*wsproto.Message) bool) bool {
	switch ev.Kind {
	case cti.EventCall:
		if ev.Call == nil {
			return true
		}
		call := callToWire(*ev.Call)
		return send(&wsproto.Message{Type: wsproto.TypeCall, Call: &call})
	case cti.EventICE:
		if ev.ICE == nil {
			return true
		}
		return send(&wsproto.Message{Type: wsproto.TypeICE, Candidate: candidateToWire(*ev.ICE)})
	case cti.EventDTMF:
		return send(&wsproto.Message{Type: wsproto.TypeDTMF, CallID: ev.CallID, Digits: string(ev.Digit)})
	case cti.EventStatus:
		return send(&wsproto.Message{Type: wsproto.TypeStatus, Status: string(ev.Status), Reason: ev.Reason, Until: rfc3339(ev.Until),
			Since: rfc3339(time.Now())})
	case cti.EventReplaced:
		a.log.Info("agent session replaced by a newer sign-in")
		send(&wsproto.Message{Type: wsproto.TypeError, Code: wsproto.CodeSessionReplace,
			Message: "signed in from another connection"})
		a.c.closeWith(closeReplaced, "session replaced")
		return false
	case cti.EventClosed:
		a.c.closeWith(closeNormal, "session closed")
		return false
	case cti.EventDraining:
		return send(&wsproto.Message{Type: wsproto.TypeDraining, Until: rfc3339(ev.Until),
			Message: "the server is restarting: calls in progress continue, new calls wait for it"})
	case cti.EventRevoked:
		a.revoked(ev.Reason, send)
		return false
	case cti.EventQuality:
		if ev.Quality == nil {
			return true
		}
		return send(&wsproto.Message{Type: wsproto.TypeQuality, Quality: qualityToWire(ev.Quality, a.principal.Extension)})
	}
	a.log.Warn("unknown agent event kind", "kind", int(ev.Kind))
	return true
}

// callToWire is the client's view of a call. Zero times are left out
// rather than sent as year 1.
func callToWire(ci cti.CallInfo) wsproto.Call {
	return wsproto.Call{
		ID:         ci.ID,
		Direction:  string(ci.Direction),
		State:      ci.State.String(),
		From:       ci.From,
		To:         ci.To,
		Remote:     ci.Remote,
		StartedAt:  rfc3339(ci.StartedAt),
		AnsweredAt: rfc3339(ci.AnsweredAt),
		EndedAt:    rfc3339(ci.EndedAt),
		EndReason:  string(ci.EndReason),
		Origin:     ci.Origin,
		Card:       cardToWire(ci.Card),
		RemoteHeld: ci.RemoteHeld,
		Queue:      ci.Queue,
		Monitor:    string(ci.Monitor),
		Consult:    consultToWire(ci.Consult),
		Recording:  string(ci.Recording),
	}
}

func consultToWire(k *cti.ConsultInfo) *wsproto.Consult {
	if k == nil {
		return nil
	}
	return &wsproto.Consult{By: k.By, Target: k.Target, State: k.State.String(), Talking: k.Talking,
		Conference: k.Conference, Internal: k.Internal}
}

func cardToWire(c *cti.Card) *wsproto.Card {
	if c == nil {
		return nil
	}
	return &wsproto.Card{Name: c.Name, Company: c.Company, Tier: c.Tier, Notes: c.Notes, URL: c.URL, Fields: c.Fields}
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func candidateToWire(c cti.ICECandidate) *wsproto.ICECandidate {
	return &wsproto.ICECandidate{
		Candidate:        c.Candidate,
		SDPMid:           c.SDPMid,
		SDPMLineIndex:    c.SDPMLineIndex,
		UsernameFragment: c.UsernameFragment,
	}
}

func candidateFromWire(c *wsproto.ICECandidate) cti.ICECandidate {
	return cti.ICECandidate{
		Candidate:        c.Candidate,
		SDPMid:           c.SDPMid,
		SDPMLineIndex:    c.SDPMLineIndex,
		UsernameFragment: c.UsernameFragment,
	}
}

// recheck re-checks the connection's user. A store error is logged
// and the connection kept: a database hiccup must not sign every agent
// out; the next tick checks again.
func (a *agentConn) recheck(send func(*wsproto.Message) bool) bool {
	err := a.srv.svc.CheckAccess(a.ctx, a.principal)
	switch {
	case err == nil:
		return true
	case cti.ErrorKind(err) != cti.KindUnauthorized:
		if a.ctx.Err() == nil {
			a.log.Warn("websocket access recheck failed; keeping the connection", "err", err)
		}
		return true
	}
	// Ending the session (not just the socket) keeps it from being
	// resumed and takes the agent offline; its close event comes back
	// through relay, but the reason is told here already.
	a.revoked(cti.ErrorMessage(err), send)
	a.sess.Revoke(cti.ErrorMessage(err))
	return false
}

// revoked tells the client its access ended, and closes the socket.
func (a *agentConn) revoked(reason string, send func(*wsproto.Message) bool) {
	a.log.Info("agent websocket closed: access revoked", "reason", reason)
	send(&wsproto.Message{Type: wsproto.TypeError, Code: wsproto.CodeRevoked, Message: reason})
	a.c.closeWith(closeRevoked, closeReason(cti.Errorf(cti.KindUnauthorized, "%s", reason)))
}

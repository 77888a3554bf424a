package cti

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// sessionQueue bounds the events waiting for an agent's websocket. A client
// that falls this far behind is resynchronised by resuming (the welcome
// carries the calls in progress), so dropping is safe. The queue holds
// pointers: 256 event values (112 bytes each) were 28 KiB per signed-in
// agent, allocated at sign-in and held for the session's life, while
// events themselves are rare.
const sessionQueue = 256

// AgentSession is one signed-in agent: a PeerConnection reused for every
// call and the event stream to the agent's websocket. It survives the
// websocket for Config.SessionGrace so a reconnecting client can resume it
// without dropping the call.
type AgentSession struct {
	id        string
	svc       *Service
	agent     *agent
	principal Principal
	endpoint  AgentEndpoint
	events    chan *AgentEvent
	done      chan struct{}
	// browser is what the agent's browser last said about its media.
	browser browserReport

	mu       sync.Mutex
	attached bool
	grace    *time.Timer
	closed   bool
}

// ErrSessionInUse refuses a sign-in while another tab holds the agent's
// live session; the client may retry with takeover.
var ErrSessionInUse = &Error{Kind: KindConflict, Message: "the softphone is open in another tab"}

// Connect opens a new session for the principal's extension. When the
// agent already has a session, a live one (its websocket attached) is
// kept unless takeover is set — a second tab must not steal the audio.
// A detached one (a reloaded page, a re-created iframe) is replaced at
// once. Either way the agent's call in progress moves to the new session
// and its audio follows as soon as the new PeerConnection is up.
func (s *Service) Connect(ctx context.Context, p Principal, takeover bool) (*AgentSession, error) {
	if p.Extension == "" {
		return nil, Errorf(KindForbidden, "user %s has no extension", p.Username)
	}
	if s.media == nil {
		return nil, Errorf(KindUnavailable, "media engine not running")
	}
	s.mu.Lock()
	if ag := s.agents[agentKey{p.TenantID, p.Extension}]; ag != nil && ag.session != nil && ag.session.reachable() && !takeover {
		s.mu.Unlock()
		return nil, ErrSessionInUse
	}
	s.mu.Unlock()
	ss := &AgentSession{
		id:        newID("sess"),
		svc:       s,
		principal: p,
		events:    make(chan *AgentEvent, sessionQueue),
		done:      make(chan struct{}),
		attached:  true,
	}
	ep, err := s.media.NewAgentEndpoint(ctx, ss.id, AgentEndpointEvents{
		OnICECandidate: func(c ICECandidate) { ss.push(AgentEvent{Kind: EventICE, ICE: &c}) },
		OnDTMF:         func(d rune) { ss.agentDigit(d) },
		OnConnectionState: func(st string) {
			s.log.Debug("agent peer state", "session", ss.id, "ext", p.Extension, "state", st)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("agent endpoint: %w", err)
	}
	ss.endpoint = ep

	var skills map[string]int
	var teams []string
	if u, err := s.store.GetUser(ctx, p.TenantID, p.UserID); err == nil {
		skills, teams = skillLevels(u.Skills), u.Teams
	}
	s.mu.Lock()
	ag := s.agentLocked(p.TenantID, p.Extension)
	ag.skills, ag.teams = skills, teams
	old := ag.session
	ag.session = ss
	ag.userID, ag.username = p.UserID, p.Username
	var ch statusChange
	if ag.status == StatusOffline {
		ch = s.setStatusLocked(ag, StatusAvailable, "", time.Time{})
		ag.idleSince = time.Now()
	}
	ss.agent = ag
	s.sessions[ss.id] = ss
	calls := []*Call{ag.call, ag.waiting}
	call := ag.call
	s.mu.Unlock()
	s.publishStatus(ch)
	s.dispatch()

	for _, c := range calls {
		if c == nil {
			continue
		}
		if err := c.sendCmd(callCmd{kind: inMove, from: ag, ep: ep}); err != nil {
			s.log.Warn("moving call to new session", "call", c.ID(), "err", err)
		}
	}
	if old != nil {
		old.close(EventReplaced)
	}
	s.claimSession(ctx, ss)
	s.log.Info("agent signed in", "tenant", p.TenantID, "ext", p.Extension, "session", ss.id, "moved_call", call != nil)
	return ss, nil
}

// Resume re-attaches a websocket to a session that lost its connection.
func (s *Service) Resume(p Principal, sessionID string) (*AgentSession, error) {
	s.mu.Lock()
	ss := s.sessions[sessionID]
	s.mu.Unlock()
	if ss == nil || ss.principal.TenantID != p.TenantID || ss.principal.UserID != p.UserID {
		return nil, Errorf(KindNotFound, "no session %s to resume", sessionID)
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return nil, Errorf(KindNotFound, "session %s has ended", sessionID)
	}
	if ss.grace != nil {
		ss.grace.Stop()
		ss.grace = nil
	}
	ss.attached = true
	return ss, nil
}

// reachable reports whether the agent can be offered a call now: a
// session waiting for its websocket to come back could not show it.
func (ss *AgentSession) reachable() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.attached && !ss.closed
}

// ID returns the session id a client uses to resume.
func (ss *AgentSession) ID() string { return ss.id }

// Principal returns who the session belongs to.
func (ss *AgentSession) Principal() Principal { return ss.principal }

// Events is the stream for the agent's websocket.
func (ss *AgentSession) Events() <-chan *AgentEvent { return ss.events }

// Done is closed when the session has ended.
func (ss *AgentSession) Done() <-chan struct{} { return ss.done }

// Status returns the agent's status, reason and (in wrap-up) its end.
func (ss *AgentSession) Status() (AgentStatus, string, time.Time) {
	ss.svc.mu.Lock()
	defer ss.svc.mu.Unlock()
	return ss.agent.status, ss.agent.reason, ss.agent.until
}

// StatusSince is when the agent's chosen status began.
func (ss *AgentSession) StatusSince() time.Time {
	ss.svc.mu.Lock()
	defer ss.svc.mu.Unlock()
	return ss.agent.statusSince
}

// Calls returns the agent's calls in progress (for a resuming client).
func (ss *AgentSession) Calls() []CallInfo {
	ss.svc.mu.Lock()
	calls := []*Call{ss.agent.call, ss.agent.waiting}
	ss.svc.mu.Unlock()
	var out []CallInfo
	for _, c := range calls {
		if c != nil {
			out = append(out, c.infoFor(ss.agent))
		}
	}
	return out
}

func (ss *AgentSession) push(ev AgentEvent) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return
	}
	select {
	case ss.events <- &ev:
	default:
		ss.svc.log.Warn("agent event dropped: client too slow", "session", ss.id, "kind", ev.Kind)
	}
}

// HandleOffer applies the browser's SDP offer and returns the answer.
func (ss *AgentSession) HandleOffer(ctx context.Context, sdp string) (string, error) {
	if sdp == "" {
		return "", Errorf(KindInvalid, "empty SDP offer")
	}
	ans, err := ss.endpoint.HandleOffer(ctx, sdp)
	if err != nil {
		// The reason is about the client's own offer (no PCMU, no
		// fingerprint…), so it is told: a developer embedding the
		// softphone needs it.
		return "", &Error{Kind: KindInvalid, Message: "SDP offer rejected: " + err.Error(), Err: err}
	}
	return ans, nil
}

// AddICECandidate adds a trickled browser candidate.
func (ss *AgentSession) AddICECandidate(c ICECandidate) error {
	if err := ss.endpoint.AddICECandidate(c); err != nil {
		return &Error{Kind: KindInvalid, Message: "ICE candidate rejected", Err: err}
	}
	return nil
}

// SetStatus changes the agent's chosen status. Choosing available ends
// wrap-up early.
func (ss *AgentSession) SetStatus(st AgentStatus, reason string) error {
	if st != StatusAvailable && st != StatusAway {
		return Errorf(KindInvalid, "unknown status %q", st)
	}
	if st == StatusAvailable {
		reason = ""
	}
	if st == StatusAway {
		if err := ss.svc.checkAwayReason(ss.principal.TenantID, reason); err != nil {
			return err
		}
	}
	ss.svc.mu.Lock()
	if !ss.agent.flapLimiterLocked().allowLocked(ss.svc.now()) {
		ss.svc.mu.Unlock()
		return errFlapping()
	}
	ch := ss.svc.setStatusLocked(ss.agent, st, reason, time.Time{})
	ss.svc.mu.Unlock()
	// The agent sees the change either way; the error tells the client
	// that the CRM may not hear of it.
	err := ss.svc.publishStatus(ch)
	ss.push(AgentEvent{Kind: EventStatus, Status: st, Reason: reason})
	ss.svc.dispatch()
	return err
}

// Answer picks up a ringing call. A second call (call waiting) is taken
// after the call in progress is put on hold.
func (ss *AgentSession) Answer(callID string) error {
	c, err := ss.svc.callFor(ss.agent, callID)
	if err != nil {
		return err
	}
	if err := ss.holdOther(c); err != nil {
		return err
	}
	if err := c.send(inAnswer, ss.agent, ""); err != nil {
		return err
	}
	ss.svc.focus(ss.agent, c)
	return nil
}

// Reject declines a ringing call.
func (ss *AgentSession) Reject(callID string) error { return ss.callCmd(callID, inReject, "") }

// Hangup ends a call (cancels it while dialing).
func (ss *AgentSession) Hangup(callID string) error { return ss.callCmd(callID, inHangup, "") }

// Hold puts a call on hold or resumes it.
func (ss *AgentSession) Hold(callID string, on bool) error {
	if on {
		return ss.callCmd(callID, inHold, "")
	}
	c, err := ss.svc.callFor(ss.agent, callID)
	if err != nil {
		return err
	}
	if err := ss.holdOther(c); err != nil {
		return err
	}
	if err := c.send(inUnhold, ss.agent, ""); err != nil {
		return err
	}
	ss.svc.focus(ss.agent, c)
	return nil
}

// Transfer hands an answered call to an extension or number (blind).
func (ss *AgentSession) Transfer(callID, to string) error {
	c, err := ss.svc.callFor(ss.agent, callID)
	if err != nil {
		return err
	}
	return c.sendCmd(callCmd{kind: inTransfer, from: ss.agent, to: to})
}

// Consult starts an attended transfer or a conference: the other party
// waits with hold music while the agent calls to (an extension or number).
func (ss *AgentSession) Consult(callID, to string) error {
	c, err := ss.svc.callFor(ss.agent, callID)
	if err != nil {
		return err
	}
	return c.sendCmd(callCmd{kind: inConsult, from: ss.agent, to: to})
}

// ConsultSwap talks to whichever of the customer and the consulted party
// waits; the other hears hold music.
func (ss *AgentSession) ConsultSwap(callID string) error {
	return ss.callCmd(callID, inConsultSwap, "")
}

// ConsultComplete hands the customer to the consulted party; the agent
// leaves the call.
func (ss *AgentSession) ConsultComplete(callID string) error {
	return ss.callCmd(callID, inConsultComplete, "")
}

// ConsultCancel ends the consultation; the agent is back with the customer.
func (ss *AgentSession) ConsultCancel(callID string) error {
	return ss.callCmd(callID, inConsultCancel, "")
}

// Conference joins the agent, the customer and the consulted party.
func (ss *AgentSession) Conference(callID string) error {
	return ss.callCmd(callID, inConference, "")
}

// SendDTMF plays digits to the other party.
func (ss *AgentSession) SendDTMF(callID, digits string) error {
	if digits == "" || len(digits) > 32 {
		return Errorf(KindInvalid, "digits must be 1 to 32 of 0-9 * # A-D")
	}
	for _, r := range digits {
		if !isDTMFDigit(r) {
			return Errorf(KindInvalid, "%q is not a DTMF digit", r)
		}
	}
	return ss.callCmd(callID, inDTMF, digits)
}

func isDTMFDigit(r rune) bool {
	return (r >= '0' && r <= '9') || r == '*' || r == '#' || (r >= 'A' && r <= 'D')
}

func (ss *AgentSession) callCmd(callID string, k callInput, digits string) error {
	c, err := ss.svc.callFor(ss.agent, callID)
	if err != nil {
		return err
	}
	return c.send(k, ss.agent, digits)
}

// agentDigit reports a digit the browser sent in-band to the call's other
// agent, if it is an internal call (SIP far ends hear it as RFC 4733).
func (ss *AgentSession) agentDigit(d rune) {
	ss.svc.mu.Lock()
	c := ss.agent.call
	ss.svc.mu.Unlock()
	if c == nil {
		return
	}
	c.mu.Lock()
	parties := append([]*agent(nil), c.parties...)
	c.mu.Unlock()
	for _, p := range parties {
		if p != ss.agent {
			ss.svc.pushToAgent(p, AgentEvent{Kind: EventDTMF, CallID: c.ID(), Digit: d})
		}
	}
}

// Detach records that the websocket went away. The session and its calls
// live on for the grace period, then close.
func (ss *AgentSession) Detach() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed || !ss.attached {
		return
	}
	ss.attached = false
	ss.grace = time.AfterFunc(ss.svc.cfg.SessionGrace, func() { ss.close(EventClosed) })
}

// Close ends the session now: its calls end and the agent goes offline.
func (ss *AgentSession) Close() { ss.close(EventClosed) }

func (ss *AgentSession) close(why AgentEventKind) { ss.closeWith(AgentEvent{Kind: why}) }

// Revoke ends the session because the user's access was revoked; reason
// is shown to the client.
func (ss *AgentSession) Revoke(reason string) {
	ss.closeWith(AgentEvent{Kind: EventRevoked, Reason: reason})
}

func (ss *AgentSession) closeWith(ev AgentEvent) {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	ss.closed = true
	if ss.grace != nil {
		ss.grace.Stop()
	}
	// Best effort: tell a still-attached client why it is being closed.
	select {
	case ss.events <- &ev:
	default:
	}
	ss.mu.Unlock()

	s := ss.svc
	s.mu.Lock()
	delete(s.sessions, ss.id)
	ag := ss.agent
	// A replaced session's call has moved to the new session; otherwise
	// the call rides on this session's PeerConnection and ends with it.
	var c, waiting *Call
	var ch statusChange
	if ag.session == ss {
		c, waiting = ag.call, ag.waiting
		ag.session = nil
		ch = s.setStatusLocked(ag, StatusOffline, "", time.Time{})
	}
	signedOut := ag.session == nil
	s.mu.Unlock()
	s.publishStatus(ch)
	if signedOut {
		s.releaseSession(ss)
	}

	for _, c := range []*Call{c, waiting} {
		if c == nil {
			continue
		}
		select {
		case c.cmds <- callCmd{kind: inAgentGone, from: ag}:
		case <-c.done:
		}
	}
	if err := ss.endpoint.Close(); err != nil {
		s.log.Debug("closing agent endpoint", "session", ss.id, "err", err)
	}
	close(ss.done)
	s.log.Info("agent session closed", "tenant", ss.principal.TenantID, "ext", ss.principal.Extension, "session", ss.id)
}

// ControlRecording starts, pauses or resumes the recording of one of the
// agent's calls.
func (ss *AgentSession) ControlRecording(ctx context.Context, callID string, action RecordingAction) (RecordingStatus, error) {
	return ss.svc.ControlRecording(ctx, ss.principal, callID, action)
}

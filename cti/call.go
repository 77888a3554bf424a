package cti

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// CallState is where a call is in its life. Transitions only move forward,
// except active ↔ held.
type CallState int

const (
	CallRinging CallState = iota // an agent's phone is ringing
	CallDialing                  // we are calling out, no answer yet
	CallEarly                    // the far end sent progress; early media flows
	CallActive                   // both parties talking
	CallHeld                     // on hold
	CallEnded
	CallQueued    // answered and waiting in a queue for an agent
	CallVoicemail // the caller is leaving a message
	CallIVR       // the caller walks an IVR flow (ivr_runtime.go)
	numCallStates
)

func (s CallState) String() string {
	switch s {
	case CallRinging:
		return "ringing"
	case CallDialing:
		return "dialing"
	case CallEarly:
		return "early"
	case CallActive:
		return "active"
	case CallHeld:
		return "held"
	case CallEnded:
		return "ended"
	case CallQueued:
		return "queued"
	case CallVoicemail:
		return "voicemail"
	case CallIVR:
		return "ivr"
	}
	return "unknown"
}

// Direction of a call from the point of view of the agent it is shown to.
type Direction string

const (
	DirectionInbound  Direction = "inbound"
	DirectionOutbound Direction = "outbound"
	DirectionInternal Direction = "internal"
)

// EndReason says why a call or leg ended.
type EndReason string

const (
	EndNone         EndReason = ""
	EndLocalHangup  EndReason = "local_hangup"  // our agent hung up
	EndRemoteHangup EndReason = "remote_hangup" // the other party hung up
	EndCancelled    EndReason = "cancelled"     // the caller gave up while ringing
	EndRejected     EndReason = "rejected"      // the callee declined
	EndBusy         EndReason = "busy"
	EndNoAnswer     EndReason = "no_answer"
	EndUnavailable  EndReason = "unavailable" // not reachable, trunk or agent down
	EndFailed       EndReason = "failed"      // signalling or media failure
	EndMediaTimeout EndReason = "media_timeout"
	EndShutdown     EndReason = "shutdown"
	EndAgentGone    EndReason = "agent_gone" // the agent's session closed
	// EndInterrupted: the process stopped (a crash, a kill) while the
	// call was live; the record was written at the next start.
	EndInterrupted EndReason = "interrupted"
	// EndNotInService: the called number routes nowhere usable.
	EndNotInService EndReason = "not_in_service"
	// EndAbandoned: the caller hung up while waiting in a queue.
	EndAbandoned EndReason = "abandoned"
	// EndAnsweredElsewhere ends the part of an agent who rang with others
	// (a ring-all queue) when another answered.
	EndAnsweredElsewhere EndReason = "answered_elsewhere"
)

// CallInfo is a snapshot of a call as one agent sees it.
type CallInfo struct {
	ID         string
	TenantID   string
	Direction  Direction
	State      CallState
	From       string
	To         string
	Remote     string // the other party, from this agent's point of view
	SIPCallID  string
	StartedAt  time.Time
	AnsweredAt time.Time
	EndedAt    time.Time
	EndReason  EndReason
	// Origin says how the call started when not dialled by hand
	// (OriginClickToCall).
	Origin string
	// Route is how an inbound call was routed ("static:1001",
	// "crm:1002", "fallback:1001"); empty for other calls.
	Route string
	// Card is the screen-pop data about the caller, when known.
	Card *Card
	// RemoteHeld says the far end (a trunk) has put the call on hold.
	RemoteHeld bool
	// Queue names the queue the call came through, if any.
	Queue string
	// Monitor is set in the view of a supervisor listening in: how they
	// take part.
	Monitor MonitorMode
	// Consult is the agent's consultation in progress (consult.go).
	Consult *ConsultInfo
	// Recording is the state of the call's recording.
	Recording RecordingState
}

// OriginClickToCall marks calls started through POST /api/v1/calls: the
// agent's phone rings first, and the number is dialled once they answer.
const OriginClickToCall = "click_to_call"

// Card is what the agent sees about the other party (screen pop).
type Card struct {
	Name    string
	Company string
	Tier    string
	Notes   string
	URL     string
	Fields  map[string]string
}

// Call is one conversation: the caller, the callee and the media between
// them. One goroutine owns each call (see flow.go); other goroutines talk
// to it through cmds, and read its snapshot under mu.
type Call struct {
	svc  *Service
	cmds chan callCmd
	done chan struct{}
	// over is set once the call has ended, while its record may still be
	// on its way to the disk: limits on calls in progress stop counting
	// it then.
	over atomic.Bool

	mu   sync.Mutex
	info CallInfo
	// parties are the agents taking part; index 0 is the caller for
	// internal and outbound calls, the callee for inbound calls.
	parties []*agent

	// hist is the call's history for its record; guarded by mu.
	hist callHistory
	// activity holds changes of the agents' effective status that the
	// call's next event stores (history.go); guarded by mu.
	activity []*AgentStatusChange
	// quality is the legs' live quality and summaries (quality_monitor.go);
	// guarded by mu.
	quality qualityState
	// qmu guards the quality loop's state of the call: whether it is
	// measured, its meters and its count of readings.
	qmu           sync.Mutex
	qualityOn     bool
	qualityMeters map[string]*legMeter
	qualityTicks  int

	// notifyMu keeps the agents' view of the call in order: a snapshot
	// and its push happen together, so a card arriving from a CRM
	// lookup cannot overtake a state change (or the other way round).
	notifyMu sync.Mutex
	// bg counts the goroutines the call owns besides its flow (CRM
	// lookups); the call waits for them before it ends.
	bg sync.WaitGroup
	// saved is closed once the final record is stored, so updates that
	// arrive during the call's teardown know where to go.
	saved chan struct{}
	// remoteMon is, for a supervisor's leg to another node, the call
	// there it listens to and how (cluster_monitor.go); set before the call
	// starts, then only read.
	remoteMon     string
	remoteMonMode MonitorMode

	// The rest belongs to the owner goroutine alone (callfsm.go).
	ctx  context.Context
	log  *slog.Logger
	a, b *side       // the party that stays, the party reached (side.go)
	dial *dialPlan   // a click-to-call's number, until its agent answers
	ring *time.Timer // while an agent's phone rings
	// Queued calls (queue_transitions.go): the music playing to the
	// caller, the longest-wait timer, the announcement ticker and the
	// agents an offer rings.
	moh      Playback
	maxWait  *time.Timer
	announce *time.Ticker
	offered  []*side
	// remote is the agent on another node an offer rings through the
	// leg in b (cluster_queue.go).
	remote *remoteOffer
	// voicemail is set while (and after) the caller leaves a message.
	voicemail bool
	// fwdNoAnswer is where the call goes if the ringing agent does not
	// answer within their no-answer time (forwarding.go).
	fwdNoAnswer *Destination
	fwdAfter    time.Duration
	conn        Connection
	held        bool
	// monitors are the supervisors listening in (monitor.go); beepAgents
	// asks the next link to beep to the agents.
	monitors []*monitor
	// watchers mirrors the supervisors' modes for snapshots; guarded by mu.
	watchers   map[*agent]MonitorMode
	consult    *consultation // an attended transfer or conference in the making
	ivr        *ivrRun       // the caller's walk through an IVR flow, while in one
	ivrOut     *ivrOutbound  // an outbound IVR call's flow, until answered (ivr_outbound.go)
	beepAgents bool
	rec        Recording // the call's recording in progress, if any
	recID      string
	// recCtl lets control requests pause and resume rec (recording_control.go).
	recCtl recordingControl
	// closed guards closeWith, the one way every call ends.
	closed atomic.Bool

	// q is the call's place in a queue; guarded by Service.mu.
	q *queued
	// offers brings the dispatcher's offers (capacity 1: a call has at
	// most one at a time); digits brings the caller's digits while queued.
	offers chan queueOffer
	digits chan rune
}

// callCmd is a command from an agent to the call's owner goroutine.
type callCmd struct {
	kind   callInput
	from   *agent
	digits string
	to     string
	ep     AgentEndpoint
	teams  []string   // inMonitor: a supervisor's teams (nil: an administrator)
	leg    SIPLeg     // inMonitor, inUnmonitor: a supervisor's leg from another node
	reply  chan error // buffered(1); nil when nobody waits
}

// ID returns the call's id.
func (c *Call) ID() string { return c.info.ID }

// Done is closed when the call has ended and its resources are released.
func (c *Call) Done() <-chan struct{} { return c.done }

// Info returns the call as ag sees it.
func (c *Call) infoFor(ag *agent) CallInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	ci := c.info
	if mode, ok := c.watchers[ag]; ok && ag != nil {
		ci.Monitor = mode
		return ci
	}
	if k := ci.Consult; k != nil && ag != nil && k.Internal && ag.ext == k.Target {
		// The consulted colleague sees a call from the consulting agent.
		ci.Direction, ci.Remote, ci.State = DirectionInternal, k.By, k.State
		return ci
	}
	if ci.Direction == DirectionInternal || ag == nil {
		switch {
		case ag != nil && ag.ext == ci.From:
			ci.Remote = ci.To
		default:
			ci.Remote = ci.From
		}
		// Flows record the reason from the caller's side; the callee of
		// an internal call sees who hung up from its own side.
		if ag != nil && ag.ext != ci.From {
			switch ci.EndReason {
			case EndLocalHangup:
				ci.EndReason = EndRemoteHangup
			case EndRemoteHangup:
				ci.EndReason = EndLocalHangup
			}
		}
		return ci
	}
	if ci.Direction == DirectionInbound {
		ci.Remote = ci.From
	} else {
		ci.Remote = ci.To
	}
	return ci
}

// Snapshot returns the call's current state.
func (c *Call) Snapshot() CallInfo { return c.infoFor(nil) }

func (c *Call) setState(s CallState) {
	c.mu.Lock()
	c.info.State = s
	if (s == CallActive) && c.info.AnsweredAt.IsZero() {
		c.info.AnsweredAt = time.Now().UTC()
	}
	c.mu.Unlock()
	c.notify()
}

func (c *Call) setSIPCallID(id string) {
	c.mu.Lock()
	c.info.SIPCallID = id
	c.mu.Unlock()
}

func (c *Call) state() CallState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info.State
}

// partiesNow returns the agents taking part right now.
func (c *Call) partiesNow() []*agent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*agent(nil), c.parties...)
}

// SetCard attaches screen-pop data and pushes it to the agents. A call
// that has ended keeps the card it had.
func (c *Call) SetCard(card *Card) {
	c.notifyMu.Lock()
	defer c.notifyMu.Unlock()
	c.mu.Lock()
	if c.info.State == CallEnded {
		c.mu.Unlock()
		return
	}
	c.info.Card = card
	c.mu.Unlock()
	c.notifyLocked()
}

// notify pushes the call's state to every agent taking part.
func (c *Call) notify() {
	c.notifyMu.Lock()
	defer c.notifyMu.Unlock()
	c.notifyLocked()
}

func (c *Call) notifyLocked() {
	c.svc.emitCall(c)
	for _, ag := range c.partiesNow() {
		c.svc.pushToAgent(ag, AgentEvent{Kind: EventCall, Call: ptr(c.infoFor(ag))})
	}
}

// send delivers a command to the call's owner goroutine and waits for its
// answer, or for the call to end.
func (c *Call) send(kind callInput, from *agent, digits string) error {
	return c.sendCmd(callCmd{kind: kind, from: from, digits: digits})
}

func (c *Call) sendCmd(cmd callCmd) error {
	cmd.reply = make(chan error, 1)
	select {
	case c.cmds <- cmd:
	case <-c.done:
		return Errorf(KindConflict, "call %s has ended", c.info.ID)
	}
	select {
	case err := <-cmd.reply:
		return err
	case <-c.done:
		return nil
	}
}

// reply answers a command once; a second answer (a transition that
// replied and then failed) is dropped.
func reply(cmd callCmd, err error) {
	if cmd.reply != nil {
		select {
		case cmd.reply <- err:
		default:
		}
	}
}

func ptr[T any](v T) *T { return &v }

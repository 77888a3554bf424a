package cti

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// The life of a call is one state machine. Its owner goroutine (started
// by Service.start) runs Call.run: it waits for the next input — an
// agent's command, the progress, answer or end of a SIP leg, the ring
// timer, shutdown — and dispatches (state, input) through the transitions
// table. A pair missing from the table is an input that makes no sense in
// that state: a command gets a precise error and the call goes on. A
// transition returns EndNone to go on, or the reason the call ends; every
// ending, a panic included, then goes through closeWith, exactly once.
//
// A call has two sides (side.go): a, the party that stays (the caller's
// leg, or the agent who dialled), and b, the party being reached or
// talked to (the agent who rings, the number being dialled). A blind
// transfer replaces the transferring agent's side; click-to-call starts
// with only b, the agent, and dials once the agent answers.

// callInput is what can happen to a call.
type callInput int

const (
	// Commands from agents (callCmd.kind).
	inAnswer callInput = iota
	inReject
	inHangup
	inHold
	inUnhold
	inDTMF
	inAgentGone // the agent's session closed (no reply expected)
	inMove      // the agent's media moved to a new session's endpoint
	inTransfer  // blind transfer to callCmd.to
	inMonitor   // a supervisor joins (or changes mode to callCmd.to)
	inUnmonitor // a supervisor leaves
	// Attended transfer and conference (consult.go).
	inConsult         // consult callCmd.to before transferring
	inConsultSwap     // talk to the other of customer and consulted party
	inConsultComplete // hand the customer to the consulted party
	inConsultCancel   // end the consultation, back to the customer
	inConference      // all three talk
	// From the voice path and the clock.
	inProgress // the leg being dialled sent 180/183
	inAnswered // the leg being dialled answered
	inLegEnded // a SIP leg ended, whichever side ended it
	inTimeout  // the agent did not answer in time
	inShutdown // the service is stopping
	// Queued calls.
	inOffer          // the dispatcher reserved agents for the call
	inCallerDigit    // a digit from the waiting caller
	inMaxWait        // the caller waited the queue's longest wait
	inAnnounce       // time to tell the caller their position
	inEarlyMedia     // the leg being dialled started early media
	inConsultTimeout // the consulted agent did not answer in time
	inIVRTimer       // an IVR prompt ended, or the caller did not answer in time
	inIVRAnswer      // an IVR flow's CRM query answered (or failed)
	numInputs
)

var inputNames = [numInputs]string{
	"answer", "reject", "hang up", "hold", "resume", "send digits", "agent gone", "move",
	"transfer", "listen in", "stop listening", "consult", "swap", "complete the transfer", "cancel the consultation",
	"conference", "progress", "answered", "leg ended", "ring timeout", "shutdown",
	"offer", "caller digit", "longest wait", "announce", "early media", "consult timeout", "IVR timer",
	"IVR CRM answer",
}

func (in callInput) String() string {
	if in >= 0 && in < numInputs {
		return inputNames[in]
	}
	return fmt.Sprintf("input(%d)", int(in))
}

// isCommand tells the inputs that agents send (and may wait a reply for).
func (in callInput) isCommand() bool { return in < inProgress }

// callEvent is one input and what came with it.
type callEvent struct {
	in    callInput
	cmd   callCmd    // for commands (and inCallerDigit's digit)
	leg   SIPLeg     // for inProgress, inAnswered and inLegEnded
	offer queueOffer // for inOffer
	// answer is an IVR CRM query's result, for inIVRAnswer.
	answer ivrQueryResult
}

// transition handles one input in one state.
type transition func(c *Call, ev *callEvent) EndReason

// transitions is the call's whole lifecycle as a table: which input each
// state accepts, and what it does. Filled in init (call_transitions.go
// holds the handlers) so that handlers may refer to the table's users.
var transitions [numCallStates][numInputs]transition

// end returns a transition that ends the call for why.
func end(why EndReason) transition {
	return func(*Call, *callEvent) EndReason { return why }
}

func init() {
	live := []CallState{CallRinging, CallDialing, CallEarly, CallActive, CallHeld}
	for _, st := range live {
		t := &transitions[st]
		t[inAgentGone] = end(EndAgentGone)
		t[inMove] = (*Call).move
		t[inLegEnded] = (*Call).legEnded
		t[inShutdown] = end(EndShutdown)
	}
	ring := &transitions[CallRinging]
	ring[inAnswer] = byQueue((*Call).answerRinging, (*Call).answerOffer)
	ring[inReject] = byQueue((*Call).refuseRinging, (*Call).refuseOffer)
	ring[inHangup] = byQueue((*Call).refuseRinging, (*Call).refuseOffer)
	ring[inTimeout] = byQueue(func(c *Call, ev *callEvent) EndReason {
		if c.fwdNoAnswer != nil {
			return c.forwardNoAnswer(ev)
		}
		return EndNoAnswer
	}, (*Call).offerTimeout)
	ring[inAgentGone] = byQueue(end(EndAgentGone), (*Call).offerGone)
	ring[inLegEnded] = byQueue((*Call).legEnded, (*Call).callerLeft)
	ring[inCallerDigit] = (*Call).callerDigit
	ring[inMaxWait] = (*Call).maxWaitReached
	ring[inAnswered] = (*Call).remoteOfferAnswered // an agent on another node (cluster_queue.go)

	wait := &transitions[CallQueued]
	wait[inOffer] = (*Call).offer
	wait[inCallerDigit] = (*Call).callerDigit
	wait[inMaxWait] = (*Call).maxWaitReached
	wait[inAnnounce] = (*Call).announcePosition
	wait[inLegEnded] = (*Call).callerLeft
	wait[inShutdown] = end(EndShutdown)

	iv := &transitions[CallIVR]
	iv[inCallerDigit] = (*Call).ivrDigit
	iv[inIVRTimer] = (*Call).ivrTimer
	iv[inIVRAnswer] = (*Call).ivrAnswer
	iv[inLegEnded] = end(EndRemoteHangup)
	iv[inShutdown] = end(EndShutdown)

	vm := &transitions[CallVoicemail]
	vm[inLegEnded] = end(EndRemoteHangup) // the message is left
	vm[inMaxWait] = end(EndLocalHangup)   // the message is as long as allowed
	vm[inCallerDigit] = (*Call).voicemailDigit
	vm[inShutdown] = end(EndShutdown)

	for _, st := range []CallState{CallDialing, CallEarly} {
		t := &transitions[st]
		t[inProgress] = (*Call).progress
		t[inEarlyMedia] = (*Call).earlyMedia
		t[inAnswered] = byIVRCall((*Call).remoteAnswered, (*Call).ivrCallAnswered)
		t[inTimeout] = byIVRCall(nil, end(EndNoAnswer))
		t[inHangup] = (*Call).hangup
		t[inDTMF] = (*Call).dtmf
	}
	for _, st := range []CallState{CallActive, CallHeld} {
		t := &transitions[st]
		t[inHangup] = (*Call).hangup
		t[inDTMF] = (*Call).dtmf
		t[inTransfer] = (*Call).transfer
		t[inMonitor] = (*Call).startMonitor
		t[inConsult] = (*Call).consultStart
	}
	transitions[CallActive][inHold] = (*Call).hold
	transitions[CallHeld][inUnhold] = (*Call).hold
}

// byIVRCall picks a transition by whether the call is an outbound IVR
// call not answered yet (nil direct: the input means nothing otherwise).
func byIVRCall(direct, ivrCall transition) transition {
	return func(c *Call, ev *callEvent) EndReason {
		if c.ivrOut != nil {
			return ivrCall(c, ev)
		}
		if direct == nil {
			c.log.Debug("input ignored", "input", ev.in.String(), "state", c.state().String())
			return EndNone
		}
		return direct(c, ev)
	}
}

// byQueue picks a transition by whether the call came from a queue (its
// offer rings) or not.
func byQueue(direct, fromQueue transition) transition {
	return func(c *Call, ev *callEvent) EndReason {
		if c.q != nil {
			return fromQueue(c, ev)
		}
		return direct(c, ev)
	}
}

// run is the call's owner loop: begin sets the call up (and may end it at
// once), then inputs are dispatched until a transition ends the call. A
// panic ends the call as failed; it never reaches the process.
func (c *Call) run(ctx context.Context, log *slog.Logger, begin func() EndReason) (reason EndReason) {
	c.ctx, c.log = ctx, log
	var ev callEvent
	defer func() {
		if r := recover(); r != nil {
			log.Error("call failed with a panic; ending it", "panic", r, "input", ev.in.String(), "stack", string(debug.Stack()))
			reply(ev.cmd, Errorf(KindInternal, "the call failed; it has been ended"))
			reason = EndFailed
		}
	}()
	if reason = begin(); reason != EndNone {
		return reason
	}
	for {
		ev = c.next()
		if reason = c.dispatch(&ev); reason != EndNone {
			return reason
		}
	}
}

// next waits for the call's next input.
func (c *Call) next() callEvent {
	var ring, maxWait, announce <-chan time.Time
	if c.ring != nil {
		ring = c.ring.C
	}
	if c.maxWait != nil {
		maxWait = c.maxWait.C
	}
	if c.announce != nil {
		announce = c.announce.C
	}
	var offers <-chan queueOffer
	var digits <-chan rune
	if c.q != nil {
		offers, digits = c.offers, c.digits
	}
	if c.voicemail || c.ivr != nil {
		digits = c.digits
	}
	var ivrTimer <-chan time.Time
	var ivrAnswers <-chan ivrQueryResult
	if c.ivr != nil {
		if c.ivr.timer != nil {
			ivrTimer = c.ivr.timer.C
		}
		ivrAnswers = c.ivr.answers
	}
	var aDone, bDone, progress, answer, early, kDone, kProgress, kAnswer <-chan struct{}
	var kRing <-chan time.Time
	if k := c.consult; k != nil {
		if k.s.leg != nil {
			kDone, kProgress, kAnswer = k.s.leg.Done(), k.s.progress, k.s.answer
		}
		if k.ring != nil {
			kRing = k.ring.C
		}
	}
	if c.a != nil && c.a.leg != nil {
		aDone = c.a.leg.Done()
	}
	if c.b != nil {
		if c.b.leg != nil {
			bDone = c.b.leg.Done()
		}
		progress, answer, early = c.b.progress, c.b.answer, c.b.early
	}
	select {
	case cmd := <-c.cmds:
		return callEvent{in: cmd.kind, cmd: cmd}
	case <-answer:
		c.b.answer, c.b.progress, c.b.early = nil, nil, nil
		return callEvent{in: inAnswered, leg: c.b.leg}
	case <-early:
		c.b.early = nil
		return callEvent{in: inEarlyMedia, leg: c.b.leg}
	case <-progress:
		c.b.progress = nil
		return callEvent{in: inProgress, leg: c.b.leg}
	case <-aDone:
		return callEvent{in: inLegEnded, leg: c.a.leg}
	case <-bDone:
		return callEvent{in: inLegEnded, leg: c.b.leg}
	case <-ring:
		c.ring = nil
		return callEvent{in: inTimeout}
	case o := <-offers:
		return callEvent{in: inOffer, offer: o}
	case d := <-digits:
		return callEvent{in: inCallerDigit, cmd: callCmd{digits: string(d)}}
	case <-maxWait:
		c.maxWait = nil
		return callEvent{in: inMaxWait}
	case <-announce:
		return callEvent{in: inAnnounce}
	case <-kAnswer:
		c.consult.s.answer, c.consult.s.progress, c.consult.s.early = nil, nil, nil
		return callEvent{in: inAnswered, leg: c.consult.s.leg}
	case <-kProgress:
		c.consult.s.progress = nil
		return callEvent{in: inProgress, leg: c.consult.s.leg}
	case <-kDone:
		return callEvent{in: inLegEnded, leg: c.consult.s.leg}
	case <-ivrTimer:
		c.ivr.timer = nil
		return callEvent{in: inIVRTimer}
	case a := <-ivrAnswers:
		return callEvent{in: inIVRAnswer, answer: a}
	case <-kRing:
		c.consult.ring = nil
		return callEvent{in: inConsultTimeout}
	case <-c.ctx.Done():
		return callEvent{in: inShutdown}
	}
}

// dispatch runs the transition for the event in the current state.
func (c *Call) dispatch(ev *callEvent) EndReason {
	if ev.in.isCommand() {
		if ev.cmd.leg != nil {
			return c.remoteMonitorCommand(ev)
		}
		if m := c.monitorOf(ev.cmd.from); m != nil {
			return c.monitorCommand(m, ev)
		}
	}
	if c.consult != nil {
		if r, handled := c.consultDispatch(ev); handled {
			return r
		}
	} else if isConsultCmd(ev.in) {
		reply(ev.cmd, Errorf(KindConflict, "cannot %s: no consultation in progress", ev.in))
		return EndNone
	}
	st := c.state()
	var h transition
	if st >= 0 && st < numCallStates {
		h = transitions[st][ev.in]
	}
	if h == nil {
		if ev.in.isCommand() {
			reply(ev.cmd, Errorf(KindConflict, "cannot %s: the call is %s", ev.in, st))
		} else {
			c.log.Debug("input ignored", "input", ev.in.String(), "state", st.String())
		}
		return EndNone
	}
	return h(c, ev)
}

// closeWith ends whatever of the call is still going: the ring timer, and
// every SIP leg not ended yet — an unanswered inbound leg is refused with
// why (the trunk maps it to a SIP status), any other leg hung up. It runs
// once, whatever ended the call.
func (c *Call) closeWith(why EndReason) {
	if !c.closed.CompareAndSwap(false, true) {
		return
	}
	c.stopRing()
	c.stopMusic()
	c.closeConsult()
	c.ivrStop()
	c.svc.releaseRemote(c.remote)
	if c.q != nil {
		c.leaveQueue(string(why))
	}
	c.drainOffer()
	ctx := context.WithoutCancel(c.ctx)
	for _, s := range []*side{c.a, c.b} {
		if s == nil || s.leg == nil {
			continue
		}
		select {
		case <-s.leg.Done():
			continue
		default:
		}
		if in, ok := s.leg.(InboundLeg); ok && !s.answered {
			_ = in.Reject(ctx, why)
			continue
		}
		_ = s.leg.Hangup(ctx)
	}
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// drainOffer takes an offer the call will never handle, so the agents the
// dispatcher reserved for it are free again (finish releases every party).
func (c *Call) drainOffer() {
	select {
	case o := <-c.offers:
		c.svc.releaseRemote(o.remote)
	default:
	}
}

// armRing starts the ring timer; stopRing stops it.
func (c *Call) armRing() {
	c.stopRing()
	c.ring = time.NewTimer(c.svc.cfg.RingTimeout)
}

func (c *Call) stopRing() {
	if c.ring != nil {
		c.ring.Stop()
		c.ring = nil
	}
}

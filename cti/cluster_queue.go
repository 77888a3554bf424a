package cti

import (
	"context"
	"time"

	"github.com/ringbridge/ringbridge/cti/queue"
)

// Queued calls and agents on other nodes (docs/scale-out.md). A queued
// call stays with the node that answered it: its caller hears that
// node's music and keeps their place in its line. When no member of the
// queue is free on this node but one is free on another (as the bus
// says), the call's owner dials that node — an internal SIP leg through
// the front door, carrying a handover token naming the agent — and the
// other node rings its agent as a direct call. If the agent answers, the
// caller is bridged to the leg (media: trunk ↔ this node ↔ the agent's
// node); if not (no answer in the queue's ring time, declined, busy, the
// node gone) the leg is dropped and the call goes back in line with that
// agent tried, as with a local offer.
//
// Why a leg rather than moving the call: the caller was answered here,
// and moving an answered call's media needs the trunk's cooperation
// (REFER, re-INVITE) that carriers and Kamailio's stateless routing do
// not give reliably. A leg needs nothing of the trunk, keeps one owner
// for the call's queue story and record, and fails back into the line.
//
// remoteBusy (the agents this node has a leg ringing to) is guarded by
// Service.mu; Call.remote by the call's owner goroutine.

// remoteRetry is how long a queued call waits after an agent of another
// node did not take it before another node's agent is offered it: a
// failed leg fails at once, and must not become a loop of INVITEs.
const remoteRetry = 2 * time.Second

// remoteOffer is an agent on another node offered a queued call.
type remoteOffer struct {
	key  agentKey
	node string
	sip  string
}

// remoteMembersLocked adds to free the members free on other live nodes
// (as the bus last said) that the call may be offered: not signed in
// here, not tried this round, not rung from here already. Each comes with
// what the strategy weighs (idle since, calls and talk today, skills),
// so the queue's strategy orders them among the local members. Callers
// hold s.mu.
func (s *Service) remoteMembersLocked(c *Call, free *[]queue.Agent) map[string]*remoteOffer {
	if s.bus == nil {
		return nil
	}
	q := c.q
	// A booked callback is dialled by the agent who takes it, which a
	// leg to another node cannot do.
	if q.callback || time.Now().Before(q.remotePause) {
		return nil
	}
	s.remote.mu.Lock()
	defer s.remote.mu.Unlock()
	var out map[string]*remoteOffer
	for i, ext := range q.cfg.Members {
		k := agentKey{c.info.TenantID, ext}
		if ag := s.agents[k]; ag != nil && ag.session != nil {
			continue // signed in here: the local dispatcher's
		}
		ra, ok := s.remote.by[k]
		if !ok || ra.p.Status != StatusAvailable || ra.sip == "" || q.triedRemote[ext] || s.remoteBusy[k] {
			continue
		}
		if at, ok := s.remote.heard[ra.node]; !ok || time.Since(at) > s.cfg.NodeTimeout {
			continue
		}
		idle := ra.q.IdleSince
		if idle.IsZero() {
			idle = ra.p.Since
		}
		*free = append(*free, queue.Agent{Extension: ext, Position: i, IdleSince: idle,
			CallsToday: ra.q.CallsToday, TalkToday: ra.q.TalkToday, Skills: ra.q.Skills})
		if out == nil {
			out = map[string]*remoteOffer{}
		}
		out[ext] = &remoteOffer{key: k, node: ra.node, sip: ra.sip}
	}
	return out
}

// reserveRemoteLocked marks an agent of another node as being rung from
// here, so two of this node's calls do not ring them at once. Callers
// hold s.mu.
func (s *Service) reserveRemoteLocked(r *remoteOffer) {
	if s.remoteBusy == nil {
		s.remoteBusy = map[agentKey]bool{}
	}
	s.remoteBusy[r.key] = true
}

// offerRemote dials the node of the chosen agent.
func (c *Call) offerRemote(r *remoteOffer) EndReason {
	s := c.svc
	now := time.Now().UTC()
	tok := s.handoverToken(handover{Tenant: c.info.TenantID, Ext: r.key.ext, Label: "queue:" + c.q.cfg.Name,
		Exp: now.Add(time.Minute).Unix()})
	c.mu.Lock()
	if h := c.hist.queue; h != nil {
		h.Offers = append(h.Offers, QueueOffer{Extension: r.key.ext, OfferedAt: now})
	}
	c.mu.Unlock()
	out, err := s.media.Dial(c.ctx, DialRequest{TenantID: c.info.TenantID, CallID: c.ID(), From: c.info.From,
		To: r.key.ext, Node: r.sip, Handover: tok})
	if err != nil {
		c.log.Warn("dialling the node of a queue member failed", "ext", r.key.ext, "node", r.node, "err", err)
		c.remote = r
		c.remoteOfferOver("failed")
		return c.backInLine()
	}
	c.log.Info("queued call offered to an agent on another node", "ext", r.key.ext, "node", r.node)
	c.trackLeg(out, DirectionOutbound, r.key.ext)
	c.b = legSide(out, false)
	c.remote = r
	c.setState(CallRinging)
	c.ring = time.NewTimer(time.Duration(c.q.cfg.RingSeconds) * time.Second)
	c.publishCall(EventCallRinging)
	return EndNone
}

// remoteOfferOver ends the remote offer in progress (if any): the leg is
// hung up, the agent tried this round and no longer reserved.
func (c *Call) remoteOfferOver(outcome string) {
	r := c.remote
	if r == nil {
		return
	}
	c.remote = nil
	c.stopRing()
	if c.b != nil && c.b.leg != nil {
		leg := c.b.leg
		select {
		case <-leg.Done():
		default:
			_ = leg.Hangup(context.WithoutCancel(c.ctx))
		}
		c.legClosed(leg, EndCancelled)
		c.b = nil
	}
	c.noteOffer(r.key.ext, outcome)
	s := c.svc
	s.mu.Lock()
	delete(s.remoteBusy, r.key)
	if c.q != nil {
		if c.q.triedRemote == nil {
			c.q.triedRemote = map[string]bool{}
		}
		c.q.triedRemote[r.key.ext] = true
		c.q.remotePause = time.Now().Add(remoteRetry)
	}
	s.mu.Unlock()
}

// remoteOfferAnswered: the agent on the other node picked up; the caller
// is bridged to the leg.
func (c *Call) remoteOfferAnswered(ev *callEvent) EndReason {
	r := c.remote
	if r == nil || c.b == nil || ev.leg != c.b.leg {
		return EndNone
	}
	if c.a == nil { // the caller booked a callback meanwhile
		c.remoteOfferOver("callback")
		return c.backInLine()
	}
	c.remote = nil
	c.stopRing()
	c.noteOffer(r.key.ext, "answered")
	c.svc.mu.Lock()
	delete(c.svc.remoteBusy, r.key)
	c.svc.mu.Unlock()
	c.stopMusic()
	c.leaveQueue("answered")
	return c.remoteAnswered(ev)
}

// remoteOfferEnded: the leg to the other node ended before an answer
// (declined, busy, the node gone): back in line.
func (c *Call) remoteOfferEnded() EndReason {
	why := "rejected"
	if r := c.b.leg.EndReason(); r != EndNone {
		why = string(r)
	}
	c.remoteOfferOver(why)
	return c.backInLine()
}

// remoteLegEvent reports whether ev is about the leg of a remote offer.
func (c *Call) remoteLegEvent(ev *callEvent) bool {
	return c.remote != nil && c.b != nil && ev.leg != nil && ev.leg == c.b.leg
}

// releaseRemote frees an undelivered or unfinished remote offer's
// reservation when the call ends.
func (s *Service) releaseRemote(r *remoteOffer) {
	if r == nil {
		return
	}
	s.mu.Lock()
	delete(s.remoteBusy, r.key)
	s.mu.Unlock()
}

// kickDispatch asks for a dispatch from the bus goroutine, which never
// takes Service.mu itself: an agent on another node became free.
func (s *Service) kickDispatch() {
	select {
	case s.dispatchKick <- struct{}{}:
	default:
	}
}

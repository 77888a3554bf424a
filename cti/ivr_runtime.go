package cti

import (
	"context"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ringbridge/ringbridge/cti/ivr"
)

// Running IVR flows. A call to a number routed to a flow is answered and
// walks the flow's version that was current when it arrived (a change
// never reaches a call already in the flow). The walk belongs to the
// call's owner goroutine like every other state: nodes that need nothing
// from the caller (condition, set, webhook) run at once; play, menu and
// collect wait on the caller's digits (RFC 4733, SIP INFO) and one timer;
// route leaves the flow for a queue, an extension, a number or another
// flow; a CRM query asks the tenant's CRM without blocking the call
// (ivr_crm.go). Conditions read the clock in the tenant's time zone.

// EventIVR is a flow's webhook node (Data: IVREvent).
const EventIVR EventType = "ivr.event"

// IVREvent is what a webhook node publishes.
type IVREvent struct {
	CallID  string            `json:"callId"`
	Flow    string            `json:"flow"`
	Version int               `json:"version"`
	Node    string            `json:"node"`
	Event   string            `json:"event"`
	From    string            `json:"from"`
	To      string            `json:"to"`
	Vars    map[string]string `json:"vars"`
	Digits  string            `json:"digits,omitempty"`
	Started time.Time         `json:"startedAt"`
}

// IVRRecord is a call's walk through an IVR flow, in its call record.
type IVRRecord struct {
	Flow    string `json:"flow"`
	Version int    `json:"version"`
	// Node is where the caller was last: the node that left the flow
	// (a route), or the one the call ended in.
	Node string `json:"node,omitempty"`
	// Vars are what the caller entered (collect nodes' variables,
	// menu_<node> keys) and what set nodes and the CRM set.
	Vars map[string]string `json:"vars"`
	// Outcome of an outbound IVR call once ended: answered, no_answer,
	// busy or failed.
	Outcome string `json:"outcome,omitempty"`
}

func (r *IVRRecord) clone() *IVRRecord {
	cp := *r
	cp.Vars = maps.Clone(r.Vars)
	if cp.Vars == nil {
		cp.Vars = map[string]string{}
	}
	return &cp
}

// ivrNote copies the walk's position into the call's record.
func (c *Call) ivrNote() {
	r := c.ivr
	rec := &IVRRecord{Flow: r.flow.ID, Version: r.version, Vars: maps.Clone(r.vars)}
	if r.node != nil {
		rec.Node = r.node.ID
	}
	c.mu.Lock()
	c.hist.ivr = rec
	c.mu.Unlock()
}

// ivrDefaultTimeout is how long a menu or collect waits after its prompt.
const ivrDefaultTimeout = 5 * time.Second

// ivrMaxSteps bounds the nodes one caller input may run (a flow of
// conditions and sets pointing round in a circle through valid exits).
const ivrMaxSteps = 100

// ivrRun is a call's walk through a flow; owned by the call's goroutine.
type ivrRun struct {
	flow    ivr.Flow
	version int
	node    *ivr.Node
	tries   int    // tries used on the current menu or collect
	digits  string // collected so far on the current collect
	vars    map[string]string
	timer   *time.Timer
	waiting bool // the prompt has played; digits are awaited
	prompt  Playback
	// answers brings the result of the CRM query in flight (ivr_crm.go);
	// seq numbers the queries, so a late result is recognised.
	answers <-chan ivrQueryResult
	seq     int
}

// ivrInbound answers a call routed to a flow and starts walking it.
func (s *Service) ivrInbound(in InboundCall, tenantID, id, from, to string, fv *IVRFlowVersion, attempt refusedCall) error {
	c, err := s.admitInbound(in, tenantID, id, from, to, CallIVR, "ivr:"+fv.Flow.ID)
	if err != nil {
		return s.refuse(attempt, err)
	}
	s.log.Info("inbound call to an IVR flow", "call", id, "flow", fv.Flow.ID, "version", fv.Version)
	s.start(c, func(context.Context, *slog.Logger) EndReason {
		c.a = legSide(in.Leg, false)
		c.watchDTMF(in.Leg)
		if err := in.Leg.Answer(c.ctx); err != nil {
			c.log.Warn("answering an IVR caller", "err", err)
			return EndCancelled
		}
		c.a.answered = true
		c.legAnswered(in.Leg)
		c.ivr = &ivrRun{flow: fv.Flow, version: fv.Version, vars: map[string]string{}}
		return c.ivrGo(fv.Flow.Start)
	})
	return nil
}

// ivrGo runs nodes from id until one waits for the caller or the call
// leaves the flow.
func (c *Call) ivrGo(id string) EndReason {
	r := c.ivr
	for range ivrMaxSteps {
		c.ivrStop()
		n := r.flow.Node(id)
		if n == nil {
			return EndLocalHangup // a menu out of tries with no branch hangs up
		}
		r.node, r.tries, r.digits, r.waiting = n, 0, "", false
		c.ivrNote()
		switch n.Kind {
		case ivr.Play, ivr.Menu, ivr.Collect:
			return c.ivrPrompt()
		case ivr.Condition:
			id = n.Else
			if c.ivrHolds(n.If) {
				id = n.Then
			}
		case ivr.Set:
			for k, v := range n.Values {
				r.vars[k] = v
			}
			id = n.Next
		case ivr.Webhook:
			c.ivrPublish(n)
			id = n.Next
		case ivr.CRMQuery:
			next, wait := c.ivrQuery(n)
			if wait {
				return EndNone
			}
			id = next
		case ivr.Route:
			return c.ivrRoute(n.To)
		default: // hangup
			return EndLocalHangup
		}
	}
	c.log.Warn("IVR flow ran too many steps without the caller; hanging up", "flow", r.flow.ID)
	return EndFailed
}

// ivrPrompt plays the node's sounds; a play node goes on when they end,
// a menu or collect then waits for digits.
func (c *Call) ivrPrompt() EndReason {
	r := c.ivr
	var sounds []Sound
	var length time.Duration
	for _, s := range r.node.Say {
		switch {
		case s.ToneHz > 0:
			d := time.Duration(s.Ms) * time.Millisecond
			sounds = append(sounds, Sound{ToneHz: s.ToneHz, Length: d})
			length += d
		case s.Digits != "":
			sounds = append(sounds, Sound{Digits: s.Digits})
			length += time.Duration(len(s.Digits)) * 200 * time.Millisecond
		case s.Prompt != "":
			if ps, ok := c.promptSound(s.Prompt); ok {
				sounds = append(sounds, ps)
				length += ps.Length
			}
		}
	}
	if len(sounds) > 0 && c.svc.player != nil {
		pb, err := c.svc.player.Play(c.a.endpoint(), sounds, false)
		if err != nil {
			c.log.Warn("IVR prompt", "err", err)
		} else {
			r.prompt = pb
		}
	}
	r.timer = time.NewTimer(length)
	return EndNone
}

// ivrTimer: a prompt ended, or the caller did not answer in time.
func (c *Call) ivrTimer(*callEvent) EndReason {
	r := c.ivr
	n := r.node
	if !r.waiting {
		if n.Kind == ivr.Play {
			return c.ivrGo(n.Next)
		}
		r.waiting = true
		c.ivrStopPrompt()
		r.timer = time.NewTimer(ivrTimeout(n))
		return EndNone
	}
	if n.Kind == ivr.Collect && r.digits != "" {
		return c.ivrCollected()
	}
	return c.ivrRetry(n.OnTimeout)
}

// ivrDigit: the caller pressed a key (during or after the prompt).
func (c *Call) ivrDigit(ev *callEvent) EndReason {
	r := c.ivr
	n := r.node
	if n == nil || ev.cmd.digits == "" {
		return EndNone
	}
	d := ev.cmd.digits[:1]
	switch n.Kind {
	case ivr.Menu:
		c.ivrStop()
		if to, ok := n.Choices[d]; ok {
			r.vars["menu_"+n.ID] = d
			return c.ivrGo(to)
		}
		return c.ivrRetry(n.OnInvalid)
	case ivr.Collect:
		c.ivrStopPrompt()
		if d == "#" {
			c.ivrStop()
			return c.ivrCollected()
		}
		r.digits += d
		if len(r.digits) >= n.MaxDigits {
			c.ivrStop()
			return c.ivrCollected()
		}
		if r.waiting { // each key gives the caller the timeout again
			c.ivrStop()
			r.waiting, r.timer = true, time.NewTimer(ivrTimeout(n))
		}
	}
	return EndNone
}

// ivrTimeout is how long a menu or collect waits for the caller.
func ivrTimeout(n *ivr.Node) time.Duration {
	if n.TimeoutSeconds > 0 {
		return time.Duration(n.TimeoutSeconds) * time.Second
	}
	return ivrDefaultTimeout
}

// ivrCollected checks a collect node's digits and goes on.
func (c *Call) ivrCollected() EndReason {
	r := c.ivr
	n := r.node
	if n.Pattern != "" {
		if re, err := regexp.Compile("^(?:" + n.Pattern + ")$"); err == nil && !re.MatchString(r.digits) {
			r.digits = ""
			return c.ivrRetry(n.OnInvalid)
		}
	}
	r.vars[n.Var] = r.digits
	return c.ivrGo(n.Next)
}

// ivrRetry plays the node again while tries remain, then takes branch
// (none: hang up).
func (c *Call) ivrRetry(branch string) EndReason {
	r := c.ivr
	c.ivrStop()
	if r.tries < r.node.Retries {
		r.tries++
		r.digits, r.waiting = "", false
		return c.ivrPrompt()
	}
	if branch == "" {
		return EndLocalHangup
	}
	return c.ivrGo(branch)
}

func (c *Call) ivrStopPrompt() {
	if r := c.ivr; r != nil && r.prompt != nil {
		r.prompt.Stop()
		r.prompt = nil
	}
}

// ivrStop stops the prompt and the timer.
func (c *Call) ivrStop() {
	r := c.ivr
	if r == nil {
		return
	}
	c.ivrStopPrompt()
	r.answers = nil
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
}

// ivrHolds evaluates a condition now, in the tenant's time zone.
func (c *Call) ivrHolds(cond *ivr.Cond) bool {
	now := c.svc.now().In(tenantLocation(c.svc.tenant(c.info.TenantID).TimeZone))
	if !ivrClockHolds(cond, now) {
		return false
	}
	if cond.CallerPrefix != "" && !strings.HasPrefix(c.info.From, strings.TrimPrefix(cond.CallerPrefix, "+")) {
		return false
	}
	if cond.Tag != "" && c.ivr.vars["tag"] != cond.Tag {
		return false
	}
	if cond.Var != "" && c.ivr.vars[cond.Var] != cond.Equals {
		return false
	}
	return true
}

// ivrPublish fires a webhook node's event.
func (c *Call) ivrPublish(n *ivr.Node) {
	r := c.ivr
	vars := make(map[string]string, len(r.vars))
	for k, v := range r.vars {
		vars[k] = v
	}
	ev := IVREvent{CallID: c.ID(), Flow: r.flow.ID, Version: r.version, Node: n.ID, Event: n.Event,
		From: c.info.From, To: c.info.To, Vars: vars, Started: c.info.StartedAt}
	if err := c.svc.publish(EventIVR, c.info.TenantID, c.ID(), ev); err != nil {
		c.log.Error("IVR webhook event", "err", err)
	}
}

// ivrRoute leaves the flow.
func (c *Call) ivrRoute(to *ivr.Target) EndReason {
	c.ivrStop()
	switch to.Kind {
	case "flow":
		fv, err := c.svc.store.GetIVRFlow(c.ctx, c.info.TenantID, to.Target, 0)
		if err != nil {
			c.log.Warn("IVR route to a flow that cannot be read; hanging up", "flow", to.Target, "err", err)
			return EndNotInService
		}
		c.ivr.flow, c.ivr.version = fv.Flow, fv.Version
		return c.ivrGo(fv.Flow.Start)
	case "queue":
		cfg, err := c.svc.queueConfig(c.ctx, c.info.TenantID, to.Target)
		if err != nil {
			c.log.Warn("IVR route to an unknown queue; hanging up", "queue", to.Target, "err", err)
			return EndNotInService
		}
		c.ivr = nil
		return c.joinQueue(cfg, to.Priority)
	case "extension":
		c.svc.mu.Lock()
		target, err := c.svc.ringableLocked(c.info.TenantID, to.Target)
		c.svc.mu.Unlock()
		if err != nil {
			c.log.Info("IVR route to an extension that cannot take the call", "ext", to.Target, "err", err)
			return EndUnavailable
		}
		c.ivr = nil
		return c.ringTransferTarget(target)
	case "number":
		num := normalizeNumber(to.Target)
		c.svc.mu.Lock()
		err := c.svc.checkDialRule(c.info.TenantID, num)
		c.svc.mu.Unlock()
		if err != nil {
			c.log.Warn("IVR route to a number outside the dialing rules", "err", err)
			return EndNotInService
		}
		out, err := c.svc.media.Dial(c.ctx, DialRequest{TenantID: c.info.TenantID, CallID: c.ID(), From: c.info.From, To: num})
		if err != nil {
			c.log.Warn("IVR route dial failed", "err", err)
			return EndFailed
		}
		c.ivr = nil
		c.trackLeg(out, DirectionOutbound, num)
		c.b = legSide(out, false)
		c.setState(CallDialing)
		return EndNone
	}
	return EndFailed
}

// ivrClockHolds tells whether the condition's days, hours and holidays
// hold at now, read in now's location. From is inclusive, until is not;
// a from after until spans midnight (22:00–06:00).
func ivrClockHolds(cond *ivr.Cond, now time.Time) bool {
	if len(cond.Days) > 0 && !slices.Contains(cond.Days, strings.ToLower(now.Weekday().String()[:3])) {
		return false
	}
	clock := now.Format("15:04")
	switch from, until := cond.From, cond.Until; {
	case from != "" && until != "" && from > until:
		if clock < from && clock >= until {
			return false
		}
	case from != "" && clock < from, until != "" && clock >= until:
		return false
	}
	return !slices.Contains(cond.NotHolidays, now.Format("2006-01-02"))
}

// locations caches loaded time zones by name (loading reads a file).
var locations sync.Map

// tenantLocation is a tenant's time zone; UTC when unset or unknown
// (settings are validated on save, so unknown means a zone database
// that changed under us).
func tenantLocation(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	locations.Store(name, l)
	return l
}

package cti

import (
	"context"
	"strings"
	"time"
)

// Call forwarding per extension: where an inbound call for the extension
// goes instead — always, when the agent is on a call, when they do not
// answer within some seconds, or when they are signed out — to another
// extension or an outside number. Integrations and admins set it through
// the API (the source documents' "set/query/delete call forwarding"), and
// so may the agent for themselves. Rules that would send a call round in
// a circle are refused when they are set.

// Forwarding is an extension's rules; a nil rule does not forward.
type Forwarding struct {
	Extension     string       `json:"extension"`
	Unconditional *Destination `json:"unconditional,omitempty"`
	Busy          *Destination `json:"busy,omitempty"`
	NoAnswer      *Destination `json:"noAnswer,omitempty"`
	// NoAnswerSeconds is how long the agent rings before NoAnswer
	// (default 20, at most the ring timeout).
	NoAnswerSeconds int          `json:"noAnswerSeconds,omitempty"`
	Offline         *Destination `json:"offline,omitempty"`
	UpdatedAt       time.Time    `json:"updatedAt"`
}

// ForwardingStore keeps forwarding rules, tenant-scoped.
type ForwardingStore interface {
	GetForwarding(ctx context.Context, tenantID, ext string) (*Forwarding, error) // KindNotFound when none
	ListForwarding(ctx context.Context, tenantID string) ([]Forwarding, error)
	SetForwarding(ctx context.Context, tenantID string, f *Forwarding) error
	DeleteForwarding(ctx context.Context, tenantID, ext string) error
}

const defaultNoAnswerSeconds = 20

// rules lists the rule slots with their names, for validation.
func (f *Forwarding) rules() []struct {
	name string
	d    *Destination
} {
	return []struct {
		name string
		d    *Destination
	}{{"unconditional", f.Unconditional}, {"busy", f.Busy}, {"noAnswer", f.NoAnswer}, {"offline", f.Offline}}
}

// canManageForwarding: admins and integrations for anyone, an agent for
// their own extension.
func canManageForwarding(p Principal, ext string) error {
	if p.Is(rolesIntegrate...) || (p.Role == RoleAgent && p.Extension == ext) {
		return nil
	}
	return Errorf(KindForbidden, "role %s may not manage the forwarding of %s", p.Role, ext)
}

// GetForwarding returns an extension's forwarding rules (empty when none).
func (s *Service) GetForwarding(ctx context.Context, p Principal, ext string) (*Forwarding, error) {
	if err := canManageForwarding(p, ext); err != nil && !p.Is(rolesReadAll...) {
		return nil, err
	}
	if _, err := s.store.GetUserByExtension(ctx, p.TenantID, ext); err != nil {
		return nil, err
	}
	f, err := s.store.GetForwarding(ctx, p.TenantID, ext)
	if ErrorKind(err) == KindNotFound {
		return &Forwarding{Extension: ext}, nil
	}
	return f, err
}

// SetForwarding replaces an extension's forwarding rules, after checking
// every target and that no rule closes a circle of extensions.
func (s *Service) SetForwarding(ctx context.Context, p Principal, f Forwarding) (*Forwarding, error) {
	if err := canManageForwarding(p, f.Extension); err != nil {
		return nil, err
	}
	if _, err := s.store.GetUserByExtension(ctx, p.TenantID, f.Extension); err != nil {
		return nil, err
	}
	var fe fieldErrors
	for _, r := range f.rules() {
		if r.d == nil {
			continue
		}
		switch r.d.Kind {
		case DestExtension:
			r.d.Target = strings.TrimSpace(r.d.Target)
			if r.d.Target == f.Extension {
				fe.add(r.name, "cannot forward %s to itself", f.Extension)
			} else if _, err := s.store.GetUserByExtension(ctx, p.TenantID, r.d.Target); err != nil {
				fe.add(r.name, "no extension %s in this tenant", r.d.Target)
			}
		case DestNumber:
			n, err := NormalizeE164(r.d.Target, s.tenant(p.TenantID).DefaultRegion)
			if err == nil {
				err = s.checkDialRule(p.TenantID, n)
			}
			if err != nil {
				fe.add(r.name, "%s", ErrorMessage(err))
			} else {
				r.d.Target = n
			}
		default:
			fe.add(r.name, "kind is extension or number")
		}
	}
	if f.NoAnswerSeconds == 0 {
		f.NoAnswerSeconds = defaultNoAnswerSeconds
	}
	if f.NoAnswerSeconds < 5 || f.NoAnswerSeconds > 120 {
		fe.add("noAnswerSeconds", "must be between 5 and 120")
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	all, err := s.store.ListForwarding(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	if loop := forwardingLoop(all, f); loop != "" {
		return nil, InvalidField("forwarding", "these rules would send calls round in a circle: "+loop)
	}
	f.UpdatedAt = time.Now().UTC()
	if err := s.store.SetForwarding(ctx, p.TenantID, &f); err != nil {
		return nil, err
	}
	s.audit(ctx, p, p.TenantID, "forwarding.set", f.Extension, map[string]any{"forwarding": f})
	return &f, nil
}

// DeleteForwarding removes an extension's forwarding.
func (s *Service) DeleteForwarding(ctx context.Context, p Principal, ext string) error {
	if err := canManageForwarding(p, ext); err != nil {
		return err
	}
	if err := s.store.DeleteForwarding(ctx, p.TenantID, ext); err != nil {
		return err
	}
	s.audit(ctx, p, p.TenantID, "forwarding.delete", ext, nil)
	return nil
}

// forwardingLoop finds a circle of extensions that the rules (with f
// replacing its extension's) could send a call round, and describes it
// ("1001 → 1002 → 1001"); "" when there is none. Any kind of rule counts:
// busy and no-answer rules can loop as well as unconditional ones.
func forwardingLoop(all []Forwarding, f Forwarding) string {
	edges := map[string][]string{}
	add := func(fw Forwarding) {
		for _, r := range fw.rules() {
			if r.d != nil && r.d.Kind == DestExtension {
				edges[fw.Extension] = append(edges[fw.Extension], r.d.Target)
			}
		}
	}
	for _, fw := range all {
		if fw.Extension != f.Extension {
			add(fw)
		}
	}
	add(f)
	var path []string
	on := map[string]bool{}
	var visit func(ext string) string
	visit = func(ext string) string {
		if on[ext] {
			return strings.Join(append(path, ext), " → ")
		}
		on[ext] = true
		path = append(path, ext)
		for _, next := range edges[ext] {
			if loop := visit(next); loop != "" {
				return loop
			}
		}
		path = path[:len(path)-1]
		on[ext] = false
		return ""
	}
	return visit(f.Extension)
}

// forwardFor decides where an inbound call for ext goes: to ext itself
// (then noAnswer may take it on after its seconds), or on to another
// extension or a number by one of ext's rules, following extension hops.
// label says which rule applied ("forward-busy:1002").
type forwardPlan struct {
	ext      string       // the extension to ring
	number   string       // or the number to dial
	label    string       // the rule that sent it there, if any
	noAnswer *Destination // the next stop if ext does not answer
	after    time.Duration
}

func (s *Service) forwardFor(ctx context.Context, tenantID, ext string) forwardPlan {
	plan := forwardPlan{ext: ext}
	seen := map[string]bool{}
	for hop := 0; hop < 10 && !seen[plan.ext]; hop++ {
		seen[plan.ext] = true
		f, err := s.store.GetForwarding(ctx, tenantID, plan.ext)
		if err != nil {
			return plan
		}
		var d *Destination
		var why string
		s.mu.Lock()
		ag := s.agentLocked(tenantID, plan.ext)
		offline := ag.session == nil || ag.status == StatusOffline || !ag.session.reachable()
		busy := ag.call != nil
		s.mu.Unlock()
		switch {
		case f.Unconditional != nil:
			d, why = f.Unconditional, "always"
		case offline && f.Offline != nil:
			d, why = f.Offline, "offline"
		case busy && f.Busy != nil:
			d, why = f.Busy, "busy"
		}
		if d == nil {
			if f.NoAnswer != nil {
				plan.noAnswer, plan.after = f.NoAnswer, time.Duration(f.NoAnswerSeconds)*time.Second
			}
			return plan
		}
		plan.label = "forward-" + why + ":" + d.Target
		if d.Kind == DestNumber {
			plan.number = d.Target
			return plan
		}
		plan.ext = d.Target
	}
	return plan
}

// forwardNoAnswer: the agent let the call ring for their no-answer
// seconds; it goes on to their rule's destination.
func (c *Call) forwardNoAnswer(*callEvent) EndReason {
	d := c.fwdNoAnswer
	c.fwdNoAnswer = nil
	if c.b != nil && c.b.ag != nil {
		c.release(c.b.ag, EndNoAnswer)
		c.b = nil
	}
	c.mu.Lock()
	c.hist.route += " forward-no-answer:" + d.Target
	c.mu.Unlock()
	c.log.Info("no answer: forwarding", "to", d.Target)
	if d.Kind == DestNumber {
		out, err := c.svc.media.Dial(c.ctx, DialRequest{TenantID: c.info.TenantID, CallID: c.ID(), From: c.info.From, To: d.Target})
		if err != nil {
			c.log.Warn("forward dial failed", "err", err)
			return EndFailed
		}
		c.trackLeg(out, DirectionOutbound, d.Target)
		c.b = legSide(out, false)
		c.setState(CallDialing)
		return EndNone
	}
	s := c.svc
	s.mu.Lock()
	ag, err := s.ringableLocked(c.info.TenantID, d.Target)
	s.mu.Unlock()
	if err != nil {
		return EndNoAnswer
	}
	return c.ringTransferTarget(ag)
}

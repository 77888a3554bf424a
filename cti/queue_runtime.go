package cti

import (
	"context"
	"slices"
	"time"

	"github.com/ringbridge/ringbridge/cti/queue"
)

// Queues at run time. A queued call waits in its queue's line (ordered by
// priority, then by when it joined); the dispatcher offers the first calls
// to free members in the order the queue's strategy gives, reserving the
// agents (agent.call) so nothing else rings them, and hands the offer to
// the call's owner goroutine, which rings them (queue_transitions.go).
//
// Everything here is guarded by Service.mu; the dispatcher runs whenever a
// call joins a line or an agent may have become free, and never blocks.

// queueKey names a queue of a tenant.
type queueKey struct{ tenant, name string }

// queueLine is a queue's waiting calls and its round-robin cursor.
type queueLine struct {
	key     queueKey
	waiting []*Call
	cursor  *queue.Cursor
	// answered and waitTotal feed the estimated wait.
	answered  int
	waitTotal time.Duration
}

// queued is a call's place in a queue. Guarded by Service.mu, except cfg,
// which only the call's owner reads.
type queued struct {
	cfg      QueueConfig
	line     *queueLine
	joined   time.Time
	priority int
	offering bool            // an offer is with the call's goroutine or ringing
	tried    map[*agent]bool // agents who let it ring this round
	// triedRemote: agents of other nodes who let it ring this round
	// (cluster_queue.go).
	triedRemote map[string]bool
	// remotePause: no agent of another node is offered the call before
	// then (after one failed; the bus heartbeat dispatches again).
	remotePause time.Time
	callback    bool // the caller hung up to be called back
}

// queueOffer hands agents to a queued call's owner goroutine.
type queueOffer struct {
	agents []*agent
	eps    []AgentEndpoint
	remote *remoteOffer // or an agent on another node
}

// defaultWaitEstimate is the expected wait per caller ahead before a
// queue has answered anything.
const defaultWaitEstimate = time.Minute

// lineLocked returns a queue's line, creating it. Callers hold s.mu.
func (s *Service) lineLocked(k queueKey) *queueLine {
	if s.lines == nil {
		s.lines = map[queueKey]*queueLine{}
	}
	l := s.lines[k]
	if l == nil {
		l = &queueLine{key: k, cursor: queue.NewCursor()}
		s.lines[k] = l
	}
	return l
}

// joinLocked puts a call in its queue's line. Callers hold s.mu.
func (s *Service) joinLocked(c *Call, q *queued) {
	q.line = s.lineLocked(queueKey{c.info.TenantID, q.cfg.Name})
	q.tried = map[*agent]bool{}
	l := q.line
	i := slices.IndexFunc(l.waiting, func(o *Call) bool { return o.q.priority < q.priority })
	if i < 0 {
		i = len(l.waiting)
	}
	l.waiting = slices.Insert(l.waiting, i, c)
	c.q = q
	s.emitLineLocked(l)
}

// leaveLocked takes a call out of its line. Callers hold s.mu.
func (s *Service) leaveLocked(c *Call) {
	if c.q == nil || c.q.line == nil {
		return
	}
	l := c.q.line
	if i := slices.Index(l.waiting, c); i >= 0 {
		l.waiting = slices.Delete(l.waiting, i, i+1)
		s.emitLineLocked(l)
	}
}

// positionLocked is a call's place in its line (1: next). Callers hold
// s.mu.
func (s *Service) positionLocked(c *Call) (int, time.Duration) {
	if c.q == nil || c.q.line == nil {
		return 0, 0
	}
	l := c.q.line
	pos := slices.Index(l.waiting, c) + 1
	per := defaultWaitEstimate
	if l.answered > 0 {
		per = l.waitTotal / time.Duration(l.answered)
	}
	return pos, time.Duration(pos) * per
}

// dispatch offers waiting calls to free agents, for every queue.
func (s *Service) dispatch() {
	type send struct {
		c     *Call
		offer queueOffer
	}
	var sends []send
	s.mu.Lock()
	for _, l := range s.lines {
		for _, c := range l.waiting {
			q := c.q
			if q.offering {
				continue
			}
			agents, r := s.pickLocked(c)
			if r != nil {
				q.offering = true
				s.reserveRemoteLocked(r)
				sends = append(sends, send{c, queueOffer{remote: r}})
				continue
			}
			if len(agents) == 0 {
				continue
			}
			q.offering = true
			o := queueOffer{agents: agents}
			for _, ag := range agents {
				ag.call = c
				o.eps = append(o.eps, ag.session.endpoint)
			}
			c.mu.Lock()
			c.parties = append(c.parties, agents...)
			c.mu.Unlock()
			sends = append(sends, send{c, o})
		}
	}
	s.mu.Unlock()
	for _, sd := range sends {
		// The channel holds one offer, and a call has at most one.
		sd.c.offers <- sd.offer
	}
}

// pickLocked chooses the agents to offer a waiting call to: free members
// it has not rung this round, in the strategy's order (all of them for
// ring-all), or one member free on another node (cluster_queue.go) when
// the strategy puts them first. A round ends when every free member was
// tried. Callers hold s.mu.
func (s *Service) pickLocked(c *Call) ([]*agent, *remoteOffer) {
	q := c.q
	byExt := map[string]*agent{}
	var remote map[string]*remoteOffer
	var free []queue.Agent
	collect := func() {
		free = free[:0]
		for i, ext := range q.cfg.Members {
			ag := s.agents[agentKey{c.info.TenantID, ext}]
			if ag == nil || q.tried[ag] || !ag.ringableLocked() {
				continue
			}
			byExt[ext] = ag
			free = append(free, queue.Agent{Extension: ext, Position: i, IdleSince: ag.idleSince,
				CallsToday: ag.day.calls, TalkToday: ag.day.talk, Skills: ag.skills})
		}
		remote = s.remoteMembersLocked(c, &free)
	}
	collect()
	if len(free) == 0 && (len(q.tried) > 0 || len(q.triedRemote) > 0) {
		q.tried, q.triedRemote = map[*agent]bool{}, map[string]bool{}
		collect()
	}
	if len(free) == 0 {
		return nil, nil
	}
	w := queue.Widening{Every: time.Duration(q.cfg.WidenEverySeconds) * time.Second, Step: q.cfg.WidenStep}
	order := queue.Order(q.cfg.Strategy, free, queue.Call{Skills: q.cfg.Skills, Waited: time.Since(q.joined)}, w, q.line.cursor, nil)
	if len(order) == 0 {
		return nil, nil
	}
	if q.cfg.Strategy == queue.RingAll {
		// A leg to another node rings one agent: ring-all rings the
		// free members here, and another node's only when none is.
		var out []*agent
		for _, a := range order {
			if ag := byExt[a.Extension]; ag != nil {
				out = append(out, ag)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	if r := remote[order[0].Extension]; r != nil {
		return nil, r
	}
	return []*agent{byExt[order[0].Extension]}, nil
}

// ringableLocked reports whether the agent can be offered a call now.
// Callers hold Service.mu.
func (ag *agent) ringableLocked() bool {
	return ag.session != nil && ag.session.reachable() && ag.status == StatusAvailable && ag.call == nil
}

// membersSignedInLocked reports whether any member of a queue is signed
// in. Callers hold s.mu.
func (s *Service) membersSignedInLocked(tenantID string, cfg *QueueConfig) bool {
	for _, ext := range cfg.Members {
		if ag := s.agents[agentKey{tenantID, ext}]; ag != nil && ag.session != nil && ag.status != StatusOffline {
			return true
		}
		if _, ok := s.remotePresence(tenantID, ext); ok {
			return true // signed in on another node
		}
	}
	return false
}

// queueConfig loads a tenant's queue by name.
func (s *Service) queueConfig(ctx context.Context, tenantID, name string) (*QueueConfig, error) {
	if s.store == nil {
		return nil, Errorf(KindNotFound, "no queue %s", name)
	}
	return s.store.QueueByName(ctx, tenantID, name)
}

// agentDay counts an agent's answered calls and talk time today, for the
// fewest-calls and least-talk-time strategies.
type agentDay struct {
	date  string // YYYY-MM-DD the counts are of
	calls int
	talk  time.Duration
}

// countCallLocked adds an answered call's talk time to the agent's day.
// Callers hold s.mu.
func (ag *agent) countCallLocked(now time.Time, talk time.Duration) {
	if d := now.Format(time.DateOnly); ag.day.date != d {
		ag.day = agentDay{date: d}
	}
	ag.day.calls++
	ag.day.talk += talk
}

// skillLevels maps a user's skills for the strategies.
func skillLevels(skills []Skill) map[string]int {
	out := make(map[string]int, len(skills))
	for _, sk := range skills {
		out[sk.Name] = sk.Level
	}
	return out
}

// setSkills refreshes a signed-in agent's skills after an edit.
func (s *Service) setSkills(u *User) {
	if u.Extension == "" {
		return
	}
	s.mu.Lock()
	if ag := s.agents[agentKey{u.TenantID, u.Extension}]; ag != nil {
		ag.skills = skillLevels(u.Skills)
	}
	s.mu.Unlock()
	s.dispatch()
}

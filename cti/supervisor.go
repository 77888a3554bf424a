package cti

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// The supervisors' live view of a tenant: a snapshot, then deltas, each
// numbered. Deltas carry whole objects (an agent's presence, a call, a
// queue's line), so applying one replaces what the client had, and a
// client that missed any (a gap in the numbers) asks for a new snapshot.
// A watcher that cannot keep up is cut (its Done closes) rather than
// slowing anyone: it reconnects and starts from a snapshot again.
//
// # Concurrency
//
// Deltas are emitted by whoever changes the state, under Service.mu for
// agents and queues (never the other way round: watchers.mu is taken
// inside Service.mu, never around it) and under the call's notifyMu for
// calls; emitting never blocks.

// watchBuffer is how many deltas a watcher may fall behind.
const watchBuffer = 512

// LiveCall is a call in progress as supervisors see it.
type LiveCallView struct {
	ID         string    `json:"id"`
	Direction  Direction `json:"direction"`
	State      string    `json:"state"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Queue      string    `json:"queue,omitempty"`
	Agents     []string  `json:"agents"` // extensions taking part
	StartedAt  time.Time `json:"startedAt"`
	AnsweredAt time.Time `json:"answeredAt,omitzero"`
	// Quality is the worst leg's level; Legs the figures of each leg
	// with audio (quality_monitor.go). Both absent until measured.
	Quality QualityLevel `json:"quality,omitempty"`
	Legs    []LegQuality `json:"legs,omitempty"`
}

// QueueView is a queue's line as supervisors see it.
type QueueView struct {
	Name               string  `json:"name"`
	Waiting            int     `json:"waiting"`
	LongestWaitSeconds float64 `json:"longestWaitSeconds"`
	// Oldest is when the first caller in line joined (zero: nobody).
	Oldest time.Time `json:"oldest,omitzero"`
}

// Snapshot is a tenant's whole live picture.
type Snapshot struct {
	Seq    uint64          `json:"seq"`
	Agents []AgentPresence `json:"agents"`
	Queues []QueueView     `json:"queues"`
	Calls  []LiveCallView  `json:"calls"`
}

// Delta is one change: exactly one of Agent, Queue and Call is set. A
// call whose State is "ended" leaves the picture.
type Delta struct {
	Seq   uint64         `json:"seq"`
	Agent *AgentPresence `json:"agent,omitempty"`
	Queue *QueueView     `json:"queue,omitempty"`
	Call  *LiveCallView  `json:"call,omitempty"`
}

// Watch is one supervisor's feed.
type Watch struct {
	svc    *Service
	tenant string
	teams  []string // nil: every agent
	ch     chan Delta
	done   chan struct{}
	once   sync.Once
}

// Deltas delivers the changes after the snapshot, in order.
func (w *Watch) Deltas() <-chan Delta { return w.ch }

// Done is closed when the watch ends: closed by the caller, or cut for
// falling behind.
func (w *Watch) Done() <-chan struct{} { return w.done }

// Close ends the watch. Idempotent.
func (w *Watch) Close() {
	w.svc.watchers.mu.Lock()
	delete(w.svc.watchers.by[w.tenant], w)
	w.svc.watchers.mu.Unlock()
	w.once.Do(func() { close(w.done) })
}

// watchers are the tenants' supervisor feeds and their sequence numbers.
type watchers struct {
	mu  sync.Mutex
	by  map[string]map[*Watch]bool
	seq map[string]uint64
}

// emit hands a delta to every watcher of the tenant that may see it.
func (s *Service) emit(tenant string, d Delta, visible func(*Watch) bool) {
	ws := &s.watchers
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.seq == nil {
		ws.seq = map[string]uint64{}
	}
	ws.seq[tenant]++
	d.Seq = ws.seq[tenant]
	for w := range ws.by[tenant] {
		if visible != nil && !visible(w) {
			continue
		}
		select {
		case w.ch <- d:
		default:
			// Too slow: cut it; it re-syncs from a new snapshot.
			delete(ws.by[tenant], w)
			w.once.Do(func() { close(w.done) })
		}
	}
}

// sees reports whether a watch covers an agent in teams.
func (w *Watch) sees(teams []string) bool {
	return w.teams == nil || sharesTeam(w.teams, teams)
}

// emitAgentLocked publishes an agent's presence. Callers hold s.mu.
func (s *Service) emitAgentLocked(ag *agent) {
	p := ag.presenceOfLocked()
	teams := ag.teams
	s.emit(ag.key.tenant, Delta{Agent: &p}, func(w *Watch) bool { return w.sees(teams) })
	s.share(NodeChange{Tenant: ag.key.tenant, Teams: teams, Agent: &p, Queueing: &AgentQueueing{
		IdleSince: ag.idleSince, CallsToday: ag.day.calls, TalkToday: ag.day.talk, Skills: maps.Clone(ag.skills)}})
}

// emitCall publishes a call's state.
func (s *Service) emitCall(c *Call) {
	v := c.view()
	s.emit(c.info.TenantID, Delta{Call: &v}, nil)
	s.share(NodeChange{Tenant: c.info.TenantID, Call: &v})
}

// emitLineLocked publishes a queue's line. Callers hold s.mu.
func (s *Service) emitLineLocked(l *queueLine) {
	v := l.viewLocked(time.Now())
	s.emit(l.key.tenant, Delta{Queue: &v}, nil)
	s.share(NodeChange{Tenant: l.key.tenant, Queue: &v})
}

// view is the call as supervisors see it.
func (c *Call) view() LiveCallView {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := LiveCallView{ID: c.info.ID, Direction: c.info.Direction, State: c.info.State.String(), From: c.info.From,
		To: c.info.To, Queue: c.info.Queue, StartedAt: c.info.StartedAt, AnsweredAt: c.info.AnsweredAt, Agents: []string{}}
	for _, p := range c.parties {
		v.Agents = append(v.Agents, p.ext)
	}
	if v.State != CallEnded.String() {
		v.Legs = c.liveQualityLocked()
		for _, l := range v.Legs {
			v.Quality = worse(v.Quality, l.Level)
		}
	}
	return v
}

// viewLocked is the line now. Callers hold s.mu.
func (l *queueLine) viewLocked(now time.Time) QueueView {
	v := QueueView{Name: l.key.name, Waiting: len(l.waiting)}
	for _, c := range l.waiting {
		if v.Oldest.IsZero() || c.q.joined.Before(v.Oldest) {
			v.Oldest = c.q.joined
		}
	}
	if !v.Oldest.IsZero() {
		v.LongestWaitSeconds = seconds(now.Sub(v.Oldest))
	}
	return v
}

// Watch starts a supervisor's feed of the tenant: admins see every agent,
// supervisors the agents of their teams (and every call and queue).
func (s *Service) Watch(ctx context.Context, p Principal) (*Watch, *Snapshot, error) {
	if err := p.require([]Role{RoleAdmin, RoleSupervisor}, "watch the tenant"); err != nil {
		return nil, nil, err
	}
	users, err := s.store.ListUsers(ctx, p.TenantID)
	if err != nil {
		return nil, nil, err
	}
	w := &Watch{svc: s, tenant: p.TenantID, ch: make(chan Delta, watchBuffer), done: make(chan struct{})}
	if p.Role == RoleSupervisor {
		w.teams = append([]string{}, p.Teams...)
	}
	// Registered before the snapshot is read: a change in between comes
	// as a delta too, and deltas replace whole objects.
	ws := &s.watchers
	ws.mu.Lock()
	if ws.by == nil {
		ws.by = map[string]map[*Watch]bool{}
	}
	if ws.by[p.TenantID] == nil {
		ws.by[p.TenantID] = map[*Watch]bool{}
	}
	ws.by[p.TenantID][w] = true
	snap := &Snapshot{Seq: ws.seq[p.TenantID], Agents: []AgentPresence{}, Queues: []QueueView{}, Calls: []LiveCallView{}}
	ws.mu.Unlock()

	var calls []*Call
	now := time.Now()
	s.mu.Lock()
	for _, u := range users {
		if u.Extension == "" || !w.sees(u.Teams) {
			continue
		}
		if pres, ok := s.shownPresenceLocked(p.TenantID, u.Extension); ok {
			snap.Agents = append(snap.Agents, pres)
		} else {
			snap.Agents = append(snap.Agents, AgentPresence{Extension: u.Extension, UserID: u.ID, Username: u.Username,
				Status: StatusOffline, Chosen: StatusOffline})
		}
	}
	for k, l := range s.lines {
		if k.tenant == p.TenantID {
			snap.Queues = append(snap.Queues, l.viewLocked(now))
		}
	}
	for _, c := range s.calls {
		if c.info.TenantID == p.TenantID {
			calls = append(calls, c)
		}
	}
	s.mu.Unlock()
	for _, c := range calls {
		snap.Calls = append(snap.Calls, c.view())
	}
	slices.SortFunc(snap.Agents, func(a, b AgentPresence) int { return compareStrings(a.Extension, b.Extension) })
	slices.SortFunc(snap.Queues, func(a, b QueueView) int { return compareStrings(a.Name, b.Name) })
	return w, snap, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

package cti

import (
	"context"
	"slices"
	"time"
)

// Queues through the API: administrators configure them; supervisors and
// integrations read them and their state.

// CreateQueue adds a queue to the tenant.
func (s *Service) CreateQueue(ctx context.Context, p Principal, q QueueConfig) (*QueueConfig, error) {
	if err := p.require(rolesAdmin, "configure queues"); err != nil {
		return nil, err
	}
	if err := q.normalize(); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	q.ID, q.TenantID, q.CreatedAt, q.UpdatedAt = newID("que"), p.TenantID, now, now
	if err := s.store.CreateQueue(ctx, &q); err != nil {
		return nil, err
	}
	s.log.Info("queue created", "tenant", p.TenantID, "queue", q.Name, "by", p.UserID)
	return &q, nil
}

// UpdateQueue replaces a queue's configuration; calls already waiting
// keep the one they joined with.
func (s *Service) UpdateQueue(ctx context.Context, p Principal, id string, q QueueConfig) (*QueueConfig, error) {
	if err := p.require(rolesAdmin, "configure queues"); err != nil {
		return nil, err
	}
	cur, err := s.store.GetQueue(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	if err := q.normalize(); err != nil {
		return nil, err
	}
	q.ID, q.TenantID, q.CreatedAt, q.UpdatedAt = cur.ID, cur.TenantID, cur.CreatedAt, time.Now().UTC()
	if err := s.store.UpdateQueue(ctx, &q); err != nil {
		return nil, err
	}
	s.log.Info("queue updated", "tenant", p.TenantID, "queue", q.Name, "by", p.UserID)
	s.dispatch() // new members may take waiting calls
	return &q, nil
}

// DeleteQueue deletes a queue; calls waiting in it finish their wait.
func (s *Service) DeleteQueue(ctx context.Context, p Principal, id string) error {
	if err := p.require(rolesAdmin, "configure queues"); err != nil {
		return err
	}
	return s.store.DeleteQueue(ctx, p.TenantID, id)
}

// GetQueue returns one of the tenant's queues.
func (s *Service) GetQueue(ctx context.Context, p Principal, id string) (*QueueConfig, error) {
	if err := p.require(rolesReadAll, "read queues"); err != nil {
		return nil, err
	}
	return s.store.GetQueue(ctx, p.TenantID, id)
}

// ListQueues returns the tenant's queues.
func (s *Service) ListQueues(ctx context.Context, p Principal) ([]QueueConfig, error) {
	if err := p.require(rolesReadAll, "read queues"); err != nil {
		return nil, err
	}
	return s.store.ListQueues(ctx, p.TenantID)
}

// QueueState is a queue right now.
type QueueState struct {
	Name    string        `json:"name"`
	Waiting []WaitingCall `json:"waiting"`
	// LongestWaitSeconds is the first caller's wait so far (0: nobody).
	LongestWaitSeconds float64 `json:"longestWaitSeconds"`
	// Agents: members free to take a call, on a call or ringing, signed
	// in but not taking calls (away, wrap-up, …), signed out.
	AgentsFree    int `json:"agentsFree"`
	AgentsBusy    int `json:"agentsBusy"`
	AgentsAway    int `json:"agentsAway"`
	AgentsOffline int `json:"agentsOffline"`
}

// WaitingCall is a call in a queue's line.
type WaitingCall struct {
	CallID      string    `json:"callId"`
	From        string    `json:"from"`
	Position    int       `json:"position"`
	Priority    int       `json:"priority,omitempty"`
	JoinedAt    time.Time `json:"joinedAt"`
	WaitSeconds float64   `json:"waitSeconds"`
	Ringing     bool      `json:"ringing"`
	Callback    bool      `json:"callback,omitempty"`
}

// QueueStateOf returns who waits in a queue and how its members stand.
func (s *Service) QueueStateOf(ctx context.Context, p Principal, id string) (*QueueState, error) {
	cfg, err := s.GetQueue(ctx, p, id)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	st := &QueueState{Name: cfg.Name, Waiting: []WaitingCall{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.lines[queueKey{p.TenantID, cfg.Name}]; l != nil {
		for i, c := range l.waiting {
			st.Waiting = append(st.Waiting, WaitingCall{CallID: c.info.ID, From: c.info.From, Position: i + 1,
				Priority: c.q.priority, JoinedAt: c.q.joined, WaitSeconds: seconds(now.Sub(c.q.joined)),
				Ringing: c.q.offering, Callback: c.q.callback})
		}
	}
	if len(st.Waiting) > 0 {
		st.LongestWaitSeconds = slices.MaxFunc(st.Waiting, func(a, b WaitingCall) int {
			return int(a.WaitSeconds*1000) - int(b.WaitSeconds*1000)
		}).WaitSeconds
	}
	for _, ext := range cfg.Members {
		ag := s.agents[agentKey{p.TenantID, ext}]
		switch {
		case ag == nil || ag.session == nil || ag.status == StatusOffline:
			st.AgentsOffline++
		case ag.call != nil:
			st.AgentsBusy++
		case ag.status == StatusAvailable:
			st.AgentsFree++
		default:
			st.AgentsAway++
		}
	}
	return st, nil
}

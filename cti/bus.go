package cti

import (
	"sync"
	"time"
)

// Nodes sharing a database (docs/scale-out.md) tell each other, over a
// Bus, the changes their supervisors' feeds show: an agent's presence, a
// call's state, a queue's line. A supervisor connected to one node then
// sees the agents signed in on every node. Without a bus (one node) the
// feeds are local, as before.
//
// # Concurrency
//
// Changes leave through a buffered queue that one goroutine (owned by the
// Service, ended by Close) hands to the bus, so emitting under Service.mu
// never waits for the network; when the queue is full the change is
// dropped and counted, as a slow supervisor is cut. Changes from other
// nodes are applied one at a time, on the bus's goroutine: they take
// watchers.mu and remote.mu only, never Service.mu.

// Bus carries changes between nodes.
type Bus interface {
	// Publish hands a change to the other nodes. It may buffer; it does
	// not deliver the change back to this node.
	Publish(c NodeChange) error
	// Subscribe delivers the other nodes' changes to fn, one at a time,
	// in the order each node published them, until stop is called.
	Subscribe(fn func(NodeChange)) (stop func(), err error)
}

// NodeChange is one change of a tenant's live picture made on a node:
// exactly one of Agent, Queue and Call is set, or none for a heartbeat.
type NodeChange struct {
	Node string `json:"node"`
	// SIP is the sender's address for calls handed to it (cluster.go).
	SIP    string         `json:"sip,omitempty"`
	Tenant string         `json:"tenant"`
	Teams  []string       `json:"teams,omitempty"` // the agent's, for supervisors' team scoping
	Agent  *AgentPresence `json:"agent,omitempty"`
	Queue  *QueueView     `json:"queue,omitempty"`
	Call   *LiveCallView  `json:"call,omitempty"`
	// Queueing comes with Agent: what queue strategies weigh, so a
	// queue on another node orders this agent among its own members
	// (cluster_queue.go).
	Queueing *AgentQueueing `json:"queueing,omitempty"`
}

// AgentQueueing is what a queue's strategy knows of an agent.
type AgentQueueing struct {
	IdleSince  time.Time      `json:"idleSince,omitzero"`
	CallsToday int            `json:"callsToday,omitempty"`
	TalkToday  time.Duration  `json:"talkToday,omitempty"`
	Skills     map[string]int `json:"skills,omitempty"`
}

// busQueue is how many changes may wait for the bus.
const busQueue = 4096

// DefaultNodeTimeout is how long another node may stay silent before its
// agents are shown offline: a node sends a heartbeat every third of it.
const DefaultNodeTimeout = 6 * time.Second

// remoteAgents is the latest presence of agents whose sessions live on
// other nodes, for the snapshots of this node's supervisors, and when
// each node was last heard.
type remoteAgents struct {
	mu    sync.Mutex
	by    map[agentKey]remoteAgent
	heard map[string]time.Time
}

type remoteAgent struct {
	node  string
	sip   string
	teams []string
	p     AgentPresence
	q     AgentQueueing
}

// SetBus connects the service to the other nodes as node. Call it once,
// before the service is used.
func (s *Service) SetBus(node string, b Bus) error {
	stop, err := b.Subscribe(s.applyRemote)
	if err != nil {
		return err
	}
	s.bus, s.node = b, node
	s.busOut = make(chan NodeChange, busQueue)
	s.dispatchKick = make(chan struct{}, 1)
	s.watchLostNodes()
	s.bg.Go(func() {
		defer stop()
		beat := time.NewTicker(s.cfg.NodeTimeout / 3)
		defer beat.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case c := <-s.busOut:
				if err := b.Publish(c); err != nil {
					s.log.Warn("bus: change not sent to the other nodes", "err", err)
				}
			case now := <-beat.C:
				// An idle node says it is alive; silent ones lose their agents.
				if err := b.Publish(NodeChange{Node: node, SIP: s.sipAddr()}); err != nil {
					s.log.Warn("bus: heartbeat not sent", "err", err)
				}
				s.forgetSilentNodes(now)
				s.dispatch() // calls paused after a remote offer failed
			case <-s.dispatchKick:
				s.dispatch()
			}
		}
	})
	return nil
}

// forgetSilentNodes shows offline the agents of nodes not heard from
// within NodeTimeout: a node that died cannot say so.
func (s *Service) forgetSilentNodes(now time.Time) {
	type gone struct {
		tenant string
		teams  []string
		p      AgentPresence
	}
	var out []gone
	s.remote.mu.Lock()
	for k, ra := range s.remote.by {
		if now.Sub(s.remote.heard[ra.node]) <= s.cfg.NodeTimeout {
			continue
		}
		delete(s.remote.by, k)
		p := ra.p
		p.Status, p.Chosen, p.Reason, p.CallID, p.Since, p.Until = StatusOffline, StatusOffline, "", "", now, time.Time{}
		out = append(out, gone{k.tenant, ra.teams, p})
	}
	s.remote.mu.Unlock()
	for _, g := range out {
		s.log.Warn("bus: node silent; its agent shown offline", "tenant", g.tenant, "ext", g.p.Extension)
		teams := g.teams
		s.emit(g.tenant, Delta{Agent: &g.p}, func(w *Watch) bool { return w.sees(teams) })
	}
}

// share queues a local change for the other nodes. It never blocks.
func (s *Service) share(c NodeChange) {
	if s.bus == nil {
		return
	}
	c.Node, c.SIP = s.node, s.sipAddr()
	select {
	case s.busOut <- c:
	default:
		s.busDropped.Add(1)
	}
}

// applyRemote shows another node's change to this node's supervisors.
func (s *Service) applyRemote(c NodeChange) {
	if c.Node == s.node {
		return
	}
	s.remote.mu.Lock()
	if s.remote.heard == nil {
		s.remote.heard, s.remote.by = map[string]time.Time{}, map[agentKey]remoteAgent{}
	}
	s.remote.heard[c.Node] = time.Now()
	if c.Agent != nil && c.Tenant != "" {
		k := agentKey{c.Tenant, c.Agent.Extension}
		if c.Agent.Status == StatusOffline {
			delete(s.remote.by, k)
		} else {
			ra := remoteAgent{node: c.Node, sip: c.SIP, teams: c.Teams, p: *c.Agent}
			if c.Queueing != nil {
				ra.q = *c.Queueing
			}
			s.remote.by[k] = ra
		}
	}
	s.remote.mu.Unlock()
	if c.Agent != nil && c.Agent.Status == StatusAvailable {
		s.kickDispatch() // a queued call here may go to them
	}
	if c.Tenant == "" {
		return // a heartbeat
	}
	switch {
	case c.Agent != nil:
		teams := c.Teams
		s.emit(c.Tenant, Delta{Agent: c.Agent}, func(w *Watch) bool { return w.sees(teams) })
	case c.Queue != nil:
		s.emit(c.Tenant, Delta{Queue: c.Queue}, nil)
	case c.Call != nil:
		s.emit(c.Tenant, Delta{Call: c.Call}, nil)
	}
}

// shownPresenceLocked is an agent's presence as this node shows it: its
// own record, or another node's word while the agent is signed in there
// (and not here). Callers hold s.mu.
func (s *Service) shownPresenceLocked(tenant, ext string) (AgentPresence, bool) {
	ag := s.agents[agentKey{tenant, ext}]
	if rp, ok := s.remotePresence(tenant, ext); ok && (ag == nil || ag.status == StatusOffline) {
		return rp, true
	}
	if ag != nil {
		return ag.presenceOfLocked(), true
	}
	return AgentPresence{}, false
}

// remotePresence is an agent's presence as another node last told it.
func (s *Service) remotePresence(tenant, ext string) (AgentPresence, bool) {
	s.remote.mu.Lock()
	defer s.remote.mu.Unlock()
	ra, ok := s.remote.by[agentKey{tenant, ext}]
	return ra.p, ok
}

// LocalBus connects services in one process, as NATS connects nodes:
// for tests, and for running several services side by side.
type LocalBus struct {
	mu   sync.Mutex
	subs map[int]func(NodeChange)
	next int
}

// NewLocalBus returns an empty bus.
func NewLocalBus() *LocalBus { return &LocalBus{subs: map[int]func(NodeChange){}} }

// Publish delivers c to every subscriber, synchronously; each ignores its
// own node's changes.
func (b *LocalBus) Publish(c NodeChange) error {
	b.mu.Lock()
	fns := make([]func(NodeChange), 0, len(b.subs))
	for _, fn := range b.subs {
		fns = append(fns, fn)
	}
	b.mu.Unlock()
	for _, fn := range fns {
		fn(c)
	}
	return nil
}

// Subscribe adds fn.
func (b *LocalBus) Subscribe(fn func(NodeChange)) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.next
	b.next++
	b.subs[id] = fn
	return func() {
		b.mu.Lock()
		delete(b.subs, id)
		b.mu.Unlock()
	}, nil
}

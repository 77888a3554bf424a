package cti

import (
	"context"
	"time"
)

// When a node dies its calls die with it (their media ran through it), and
// nobody is left to write their records. Every node with a bus looks, every
// LiveHeartbeat, for nodes that left live calls or signed-in agents in the
// store and whose stored heartbeat is older than LostAfter, and that are
// silent on the bus; it then adopts their live calls and statuses (each row
// moves to exactly one adopting node, so each record is written once) and
// ends them with EndNodeLost. A node cut off from the bus but alive keeps
// its stored heartbeat fresh, so its calls are left alone.

// EndNodeLost: the node carrying the call died; a surviving node wrote
// the record.
const EndNodeLost EndReason = "node_lost"

// LostAfter is how old a node's stored heartbeat must be before another
// node takes its calls over: three missed beats.
const LostAfter = 3 * LiveHeartbeat

// NodeLossStore is the part of the store that lets a survivor take a dead
// node's live calls and statuses over.
type NodeLossStore interface {
	// LostNodes lists the other nodes with live calls or signed-in agents
	// whose heartbeat is older than before.
	LostNodes(ctx context.Context, before time.Time) ([]string, error)
	// AdoptLiveCalls moves node's live calls to this node and returns
	// them, unless node's heartbeat is at or after before; of several
	// nodes adopting at once, each call goes to one.
	AdoptLiveCalls(ctx context.Context, node string, before time.Time) ([]LiveCall, error)
	// AdoptPresence does the same for the statuses node left signed in.
	AdoptPresence(ctx context.Context, node string, before time.Time) ([]AgentStatusChange, error)
}

// watchLostNodes runs the survivor's sweep until Close. Started by SetBus.
func (s *Service) watchLostNodes() {
	st, ok := s.store.(NodeLossStore)
	if !ok {
		return
	}
	s.bg.Go(func() { s.every(LiveHeartbeat, func(ctx context.Context) { s.sweepLostNodes(ctx, st) }) })
}

func (s *Service) sweepLostNodes(ctx context.Context, st NodeLossStore) {
	before := time.Now().UTC().Add(-LostAfter)
	nodes, err := st.LostNodes(ctx, before)
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn("looking for lost nodes", "err", err)
		}
		return
	}
	for _, n := range nodes {
		if n == s.node || s.nodeHeard(n) {
			continue
		}
		s.endLostNode(ctx, st, n, before)
	}
}

// nodeHeard reports whether node spoke on the bus within NodeTimeout.
func (s *Service) nodeHeard(node string) bool {
	s.remote.mu.Lock()
	defer s.remote.mu.Unlock()
	at, ok := s.remote.heard[node]
	return ok && time.Since(at) <= s.cfg.NodeTimeout
}

// endLostNode writes the end of the dead node's calls and signs its agents
// out.
func (s *Service) endLostNode(ctx context.Context, st NodeLossStore, node string, before time.Time) {
	calls, err := st.AdoptLiveCalls(ctx, node, before)
	if err != nil {
		s.log.Error("adopting a lost node's calls", "node", node, "err", err)
		return
	}
	for _, lc := range calls {
		rec := lc.Record
		// Its recording, if any, is on the lost node's disk: that node
		// completes it if it comes back; the record is written now.
		closeRecord(&rec, lc.SeenAt, EndNodeLost)
		s.log.Warn("call of a lost node ended; recording its end", "node", node, "call", rec.ID, "ended_at", lc.SeenAt)
		if err := s.publishWith(EventCallEnded, rec.TenantID, rec.ID, &rec, &EventState{CallRecord: &rec}); err != nil {
			s.log.Error("record of a lost node's call not stored", "node", node, "call", rec.ID, "err", err)
		}
	}
	agents, err := st.AdoptPresence(ctx, node, before)
	if err != nil {
		s.log.Error("adopting a lost node's agents", "node", node, "err", err)
		return
	}
	for _, p := range agents {
		ch := signedOutAt(p, time.Now().UTC(), EndNodeLost)
		s.log.Warn("agent of a lost node signed out", "node", node, "tenant", p.TenantID, "ext", p.Extension)
		if err := s.publishStatus(statusChange{event: ch, presence: ch}); err != nil {
			s.log.Error("status of a lost node's agent not stored", "node", node, "ext", p.Extension, "err", err)
		}
	}
}

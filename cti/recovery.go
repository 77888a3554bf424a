package cti

import (
	"context"
	"fmt"
	"time"
)

// Crash recovery. Every live call keeps a picture of itself in the store
// (its record so far, stored with each call event) and a heartbeat
// (SeenAt, refreshed every LiveHeartbeat); every agent's last status is
// stored with its agent.status event. The final record of a call replaces
// its picture in one transaction. So whatever pictures are left at start
// are calls a crash cut, and whatever statuses are not offline are agents
// who were signed in: Start accounts for both before any new call.

// LiveHeartbeat is how often live calls' SeenAt is refreshed: an
// interrupted call's recorded end is at most this much before the crash.
const LiveHeartbeat = 5 * time.Second

// Start recovers what a crash left (see above) and then keeps the live
// calls' heartbeat until Close. Call it once, before calls arrive.
func (s *Service) Start(ctx context.Context) error {
	if s.store == nil {
		return nil
	}
	if err := s.recoverCalls(ctx); err != nil {
		return err
	}
	if err := s.recoverPresence(ctx); err != nil {
		return err
	}
	// At once, not a beat later: with several nodes, a stale heartbeat
	// would let another node take this node's first calls for lost.
	if err := s.store.TouchLiveCalls(ctx, nil, time.Now().UTC()); err != nil {
		return fmt.Errorf("storing the heartbeat: %w", err)
	}
	s.beat = make(chan struct{})
	go s.heartbeat()
	s.bg.Go(func() { s.every(max(s.access.ttl/2, time.Millisecond), s.refreshAccess) })
	return nil
}

func (s *Service) recoverCalls(ctx context.Context) error {
	live, err := s.store.LiveCalls(ctx)
	if err != nil {
		return fmt.Errorf("recovering calls: %w", err)
	}
	for _, lc := range live {
		rec := lc.Record
		end := lc.SeenAt
		var ready *RecordingReady
		if lc.RecordingID != "" && s.recorder != nil {
			ready = s.recoverRecording(ctx, &rec, lc.RecordingID)
			// The recording runs from the answer to the crash, which may
			// be later than the last heartbeat.
			if ready != nil && !rec.AnsweredAt.IsZero() {
				if e := rec.AnsweredAt.Add(time.Duration(ready.DurationSeconds * float64(time.Second))); e.After(end) {
					end = e
				}
			}
		}
		closeRecord(&rec, end, EndInterrupted)
		if rec.IVR != nil && rec.Origin == OriginIVRCall {
			rec.IVR.Outcome = ivrOutcome(rec.AnsweredAt, rec.EndReason)
		}
		s.log.Warn("call interrupted by a stop of the process; recording its end", "call", rec.ID, "ended_at", end, "recording", lc.RecordingID)
		if err := s.publishWith(EventCallEnded, rec.TenantID, rec.ID, &rec, &EventState{CallRecord: &rec}); err != nil {
			return fmt.Errorf("recovering call %s: %w", rec.ID, err)
		}
		if ready != nil {
			_ = s.publish(EventRecordingReady, ready.TenantID, ready.CallID, ready)
			s.requestAnalysis(s.log.With("call", rec.ID), ready, rec)
		}
		if rec.Origin == OriginIVRCall {
			// The system that asked for the call learns its end too.
			s.ivrCallEnded(s.log.With("call", rec.ID), &rec)
		}
	}
	if s.recorder != nil {
		removed, err := s.recorder.SweepRecordings(ctx)
		for _, f := range removed {
			s.log.Warn("removed a partial recording no call claimed", "file", f)
		}
		if err != nil {
			s.log.Error("sweeping partial recordings", "err", err)
		}
	}
	return nil
}

// recoverRecording completes an interrupted call's recording and puts its
// reference in the record.
func (s *Service) recoverRecording(ctx context.Context, rec *CallRecord, id string) *RecordingReady {
	log := s.log.With("call", rec.ID, "recording", id)
	f, err := s.recorder.RecoverRecording(ctx, RecordingRequest{ID: id, CallID: rec.ID, TenantID: rec.TenantID})
	if err != nil {
		log.Error("recovering the recording", "err", err)
		return nil
	}
	meta := RecordingMeta{ID: id, TenantID: rec.TenantID, CallID: rec.ID, Path: f.Path,
		DurationSeconds: seconds(f.Duration), SizeBytes: f.Size, CreatedAt: time.Now().UTC()}
	ref, ready := s.registerRecording(log, meta)
	rec.Recording = ref
	return ready
}

// closeRecord ends everything still open in a record at end, for why, and
// works the durations out again.
func closeRecord(r *CallRecord, end time.Time, why EndReason) {
	if end.Before(r.StartedAt) {
		end = r.StartedAt
	}
	r.EndedAt, r.EndReason = end, why
	for i := range r.Legs {
		if l := &r.Legs[i]; l.EndedAt.IsZero() {
			l.EndedAt, l.EndReason = end, why
		}
	}
	for i := range r.Agents {
		if a := &r.Agents[i]; a.EndedAt.IsZero() {
			a.EndedAt, a.EndReason = end, why
		}
	}
	hold := time.Duration(r.Durations.Hold * float64(time.Second))
	r.Durations.Total = seconds(end.Sub(r.StartedAt))
	if r.AnsweredAt.IsZero() {
		r.Durations.Ring, r.Durations.Talk = r.Durations.Total, 0
	} else {
		r.Durations.Ring = seconds(r.AnsweredAt.Sub(r.StartedAt))
		r.Durations.Talk = seconds(end.Sub(r.AnsweredAt) - hold)
	}
	if r.Tags == nil {
		r.Tags = []string{}
	}
}

// recoverPresence signs out, with an agent.status event, every agent whose
// last stored status was not offline.
func (s *Service) recoverPresence(ctx context.Context) error {
	agents, err := s.store.Presence(ctx)
	if err != nil {
		return fmt.Errorf("recovering agent statuses: %w", err)
	}
	// They went offline when the process stopped: its last heartbeat.
	now := s.now()
	last, err := s.store.Heartbeat(ctx)
	if err != nil || last.IsZero() || last.After(now) {
		last = now
	}
	for _, p := range agents {
		ch := signedOutAt(p, last, EndInterrupted)
		if err := s.publishStatus(statusChange{event: ch, presence: ch}); err != nil {
			return fmt.Errorf("recovering the status of %s: %w", p.Extension, err)
		}
	}
	return nil
}

// signedOutAt is the change that signs out an agent a stopped or lost
// node left signed in: at when (never before their last change), for why.
func signedOutAt(p AgentStatusChange, when time.Time, why EndReason) *AgentStatusChange {
	if p.ChangedAt.After(when) {
		when = p.ChangedAt
	}
	return &AgentStatusChange{
		TenantID: p.TenantID, Extension: p.Extension, UserID: p.UserID, Username: p.Username,
		Status: StatusOffline, Reason: string(why),
		PreviousStatus: p.Status, PreviousReason: p.Reason, PreviousSeconds: seconds(when.Sub(p.ChangedAt)),
		ChangedAt: when,
	}
}

// every calls fn every d, each time with a context that ends after d
// or with the service, until the service closes.
func (s *Service) every(d time.Duration, fn func(ctx context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(s.ctx, d)
		fn(ctx)
		cancel()
	}
}

// heartbeat refreshes the live calls' SeenAt until Close.
func (s *Service) heartbeat() {
	defer close(s.beat)
	s.every(LiveHeartbeat, s.touchLiveCalls)
}

func (s *Service) touchLiveCalls(ctx context.Context) {
	s.mu.Lock()
	ids := make([]string, 0, len(s.calls))
	for id := range s.calls {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	if err := s.store.TouchLiveCalls(ctx, ids, time.Now().UTC()); err != nil && s.ctx.Err() == nil {
		s.log.Warn("live calls' heartbeat not stored", "err", err)
	}
}

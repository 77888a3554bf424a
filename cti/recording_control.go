package cti

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Recording policy and control (docs/recordings.md). Whether an answered
// call is recorded is decided when it is answered, by the most specific
// rule that applies: the answering agent's, then the queue's the call
// came through, then the called number's, then the tenant's
// (TenantSettings.RecordingPolicy). "on_demand" records nothing until
// someone on the call (or a supervisor, admin or integration of the
// tenant) starts it. A recording can be paused and resumed (a card
// number read out): the pause is silence in the file, listed with who
// and when in the call record, and written to the audit log.

// RecordingPolicy says whether calls are recorded.
type RecordingPolicy string

const (
	RecordAlways   RecordingPolicy = "always"
	RecordNever    RecordingPolicy = "never"
	RecordOnDemand RecordingPolicy = "on_demand"
)

// ParseRecordingPolicy validates a policy.
func ParseRecordingPolicy(s string) (RecordingPolicy, error) {
	switch p := RecordingPolicy(s); p {
	case RecordAlways, RecordNever, RecordOnDemand:
		return p, nil
	}
	return "", Errorf(KindInvalid, "recording policy %q: want always, never or on_demand", s)
}

// RecordingScope is what a recording policy rule applies to.
type RecordingScope string

const (
	ScopeNumber RecordingScope = "number" // target: the called number as listed in /numbers
	ScopeQueue  RecordingScope = "queue"  // target: the queue's name
	ScopeAgent  RecordingScope = "agent"  // target: the agent's extension
)

// RecordingPolicyRule sets the policy for one number, queue or agent.
type RecordingPolicyRule struct {
	Scope     RecordingScope  `json:"scope"`
	Target    string          `json:"target"`
	Policy    RecordingPolicy `json:"policy"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// RecordingPolicyStore keeps the rules, tenant-scoped.
type RecordingPolicyStore interface {
	ListRecordingPolicies(ctx context.Context, tenantID string) ([]RecordingPolicyRule, error)
	// PutRecordingPolicy inserts or replaces the rule for its scope and
	// target.
	PutRecordingPolicy(ctx context.Context, tenantID string, r RecordingPolicyRule) error
	// DeleteRecordingPolicy removes a rule; KindNotFound when none.
	DeleteRecordingPolicy(ctx context.Context, tenantID string, scope RecordingScope, target string) error
}

// RecordingPolicies is a tenant's default and its rules.
type RecordingPolicies struct {
	Default RecordingPolicy       `json:"default"`
	Rules   []RecordingPolicyRule `json:"rules"`
}

// ListRecordingPolicies returns the tenant's default policy and rules.
func (s *Service) ListRecordingPolicies(ctx context.Context, p Principal) (RecordingPolicies, error) {
	if err := p.require(rolesReadAll, "read recording policies"); err != nil {
		return RecordingPolicies{}, err
	}
	rules, err := s.store.ListRecordingPolicies(ctx, p.TenantID)
	if err != nil {
		return RecordingPolicies{}, err
	}
	if rules == nil {
		rules = []RecordingPolicyRule{}
	}
	return RecordingPolicies{Default: s.tenant(p.TenantID).recordingPolicy(), Rules: rules}, nil
}

// PutRecordingPolicy sets the policy of one number, queue or agent of
// the admin's tenant; the target must exist.
func (s *Service) PutRecordingPolicy(ctx context.Context, p Principal, r RecordingPolicyRule) (RecordingPolicyRule, error) {
	if err := p.require(rolesAdmin, "change recording policies"); err != nil {
		return RecordingPolicyRule{}, err
	}
	pol, err := ParseRecordingPolicy(string(r.Policy))
	if err != nil {
		return RecordingPolicyRule{}, err
	}
	r.Policy, r.Target = pol, strings.TrimSpace(r.Target)
	if err := s.checkPolicyTarget(ctx, p.TenantID, r.Scope, r.Target); err != nil {
		return RecordingPolicyRule{}, err
	}
	r.UpdatedAt = time.Now().UTC()
	if err := s.store.PutRecordingPolicy(ctx, p.TenantID, r); err != nil {
		return RecordingPolicyRule{}, err
	}
	s.audit(ctx, p, p.TenantID, "recording_policy.put", string(r.Scope)+":"+r.Target, map[string]any{"policy": string(r.Policy)})
	return r, nil
}

// DeleteRecordingPolicy removes a rule: the target follows the next
// less specific one again.
func (s *Service) DeleteRecordingPolicy(ctx context.Context, p Principal, scope RecordingScope, target string) error {
	if err := p.require(rolesAdmin, "change recording policies"); err != nil {
		return err
	}
	if err := s.store.DeleteRecordingPolicy(ctx, p.TenantID, scope, target); err != nil {
		return err
	}
	s.audit(ctx, p, p.TenantID, "recording_policy.delete", string(scope)+":"+target, nil)
	return nil
}

// checkPolicyTarget refuses a rule for something the tenant does not have.
func (s *Service) checkPolicyTarget(ctx context.Context, tenantID string, scope RecordingScope, target string) error {
	if target == "" || len(target) > 64 {
		return Errorf(KindInvalid, "target: want 1–64 characters")
	}
	missing := Errorf(KindInvalid, "no %s %q in this tenant", scope, target)
	switch scope {
	case ScopeAgent:
		if _, err := s.store.GetUserByExtension(ctx, tenantID, target); err != nil {
			if ErrorKind(err) == KindNotFound {
				return missing
			}
			return err
		}
	case ScopeNumber:
		nums, err := s.store.ListNumbers(ctx, tenantID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(nums, func(n Number) bool { return sameNumber(n.Number, target) }) {
			return missing
		}
	case ScopeQueue:
		qs, err := s.store.ListQueues(ctx, tenantID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(qs, func(q QueueConfig) bool { return q.Name == target }) {
			return missing
		}
	default:
		return Errorf(KindInvalid, "scope %q: want number, queue or agent", scope)
	}
	return nil
}

// sameNumber compares numbers as FindNumber does: without a leading "+".
func sameNumber(a, b string) bool { return strings.TrimPrefix(a, "+") == strings.TrimPrefix(b, "+") }

// recordingPolicy is the tenant-wide default: the policy when set, else
// the older Record switch.
func (t TenantSettings) recordingPolicy() RecordingPolicy {
	switch {
	case t.RecordingPolicy != "":
		return t.RecordingPolicy
	case t.Record:
		return RecordAlways
	}
	return RecordNever
}

// RecordingPolicyFor tells the policy a call answered by the agent at
// ext, through queueName, to number would get, and the rule that gave it
// ("agent:1001", "queue:sales", "number:+3612345678" or "tenant").
func (s *Service) RecordingPolicyFor(ctx context.Context, tenantID, ext, queueName, number string) (RecordingPolicy, string) {
	return s.effectivePolicy(ctx, s.log, tenantID, ext, queueName, number)
}

// effectivePolicy picks the most specific rule for the call: agent, then
// queue, then number, then the tenant's default. A store failure falls
// back to the tenant's default (logged): the call goes on.
func (s *Service) effectivePolicy(ctx context.Context, log *slog.Logger, tenantID, ext, queueName, number string) (RecordingPolicy, string) {
	def := s.tenant(tenantID).recordingPolicy()
	if s.store == nil {
		return def, "tenant"
	}
	rules, err := s.store.ListRecordingPolicies(ctx, tenantID)
	if err != nil {
		log.Error("reading recording policies; using the tenant's default", "err", err)
		return def, "tenant"
	}
	for _, want := range []struct {
		scope  RecordingScope
		target string
	}{{ScopeAgent, ext}, {ScopeQueue, queueName}, {ScopeNumber, number}} {
		if want.target == "" {
			continue
		}
		for _, r := range rules {
			if r.Scope == want.scope && (r.Target == want.target || (r.Scope == ScopeNumber && sameNumber(r.Target, want.target))) {
				return r.Policy, string(r.Scope) + ":" + r.Target
			}
		}
	}
	return def, "tenant"
}

// RecordingState is where a call's recording is, as agents see it.
type RecordingState string

const (
	RecordingOff       RecordingState = ""          // not recording (policy never, on demand not started, or none)
	RecordingAvailable RecordingState = "available" // on demand: may be started
	RecordingOn        RecordingState = "recording"
	RecordingPaused    RecordingState = "paused"
)

// RecordingAction is a request to change a call's recording.
type RecordingAction string

const (
	ActionStart  RecordingAction = "start"
	ActionPause  RecordingAction = "pause"
	ActionResume RecordingAction = "resume"
)

// RecordingPause is one pause of a call's recording: who paused and
// resumed it, when, and where the silence lies in the file (seconds from
// its start; accurate to the 20 ms frame in flight).
type RecordingPause struct {
	PausedAt      time.Time `json:"pausedAt"`
	PausedBy      string    `json:"pausedBy"`
	ResumedAt     time.Time `json:"resumedAt,omitzero"`
	ResumedBy     string    `json:"resumedBy,omitempty"`
	OffsetSeconds float64   `json:"offsetSeconds"`
	// DurationSeconds is the silence's length; 0 while paused (or when
	// the call ended paused: then the silence runs to the end).
	DurationSeconds float64 `json:"durationSeconds"`
}

// RecordingStatus is a call's recording after a control request.
type RecordingStatus struct {
	CallID string           `json:"callId"`
	State  RecordingState   `json:"state"`
	Policy RecordingPolicy  `json:"policy"`
	Pauses []RecordingPause `json:"pauses"`
}

// recordingControl is a call's recording as control requests see it.
// Its own mutex lets requests from any goroutine pause and resume while
// the owner goroutine attaches the recording to new connections; lock
// order: recordingControl.mu before Call.mu.
type recordingControl struct {
	mu     sync.Mutex
	rec    Recording // nil before the call is answered, under policy never, and once finished
	recID  string
	policy RecordingPolicy
	state  RecordingState
	pauses []RecordingPause
}

// ControlRecording starts, pauses or resumes a live call's recording.
// Agents on the call, and the tenant's supervisors, admins and
// integrations, may do it; every change is audited.
func (s *Service) ControlRecording(ctx context.Context, p Principal, callID string, action RecordingAction) (RecordingStatus, error) {
	if err := p.require(rolesReadPhonebook, "control recordings"); err != nil {
		return RecordingStatus{}, err
	}
	c := s.liveCall(p.TenantID, callID)
	if c == nil {
		return RecordingStatus{}, Errorf(KindNotFound, "no call %s in progress", callID)
	}
	rec := c.Record()
	if !canSeeCall(p, &rec) {
		return RecordingStatus{}, Errorf(KindNotFound, "no call %s in progress", callID)
	}
	who := p.Username
	if who == "" {
		who = p.UserID
	}
	st, err := c.controlRecording(action, who, time.Now().UTC())
	if err != nil {
		return RecordingStatus{}, err
	}
	c.notify()
	s.audit(ctx, p, p.TenantID, "recording."+string(action), callID, map[string]any{"state": string(st.State)})
	return st, nil
}

// controlRecording applies one action under the control's lock.
func (c *Call) controlRecording(action RecordingAction, who string, now time.Time) (RecordingStatus, error) {
	rc := &c.recCtl
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.rec == nil {
		if rc.policy == RecordNever {
			return RecordingStatus{}, Errorf(KindConflict, "this call is not recorded (recording policy never)")
		}
		return RecordingStatus{}, Errorf(KindConflict, "the call has no recording to control (not answered, or ended)")
	}
	switch {
	case action == ActionStart && rc.state == RecordingAvailable:
		rc.rec.Resume()
		rc.state = RecordingOn
	case action == ActionStart:
		return RecordingStatus{}, Errorf(KindConflict, "the recording has already started")
	case action == ActionPause && rc.state == RecordingOn:
		at := rc.rec.Pause()
		rc.pauses = append(rc.pauses, RecordingPause{PausedAt: now, PausedBy: who, OffsetSeconds: seconds(at)})
		rc.state = RecordingPaused
	case action == ActionResume && rc.state == RecordingPaused:
		at := rc.rec.Resume()
		last := &rc.pauses[len(rc.pauses)-1]
		last.ResumedAt, last.ResumedBy = now, who
		last.DurationSeconds = seconds(at - time.Duration(last.OffsetSeconds*float64(time.Second)))
		rc.state = RecordingOn
	case action == ActionPause || action == ActionResume:
		return RecordingStatus{}, Errorf(KindConflict, "cannot %s a recording that is %s", action, rc.stateName())
	default:
		return RecordingStatus{}, Errorf(KindInvalid, "recording action %q: want start, pause or resume", action)
	}
	c.mu.Lock()
	c.info.Recording = rc.state
	c.hist.recPauses = slices.Clone(rc.pauses)
	c.mu.Unlock()
	c.storePicture(rc.recID, now)
	return RecordingStatus{CallID: c.ID(), State: rc.state, Policy: rc.policy, Pauses: slices.Clone(rc.pauses)}, nil
}

// storePicture stores the call's live picture with its pauses, so a
// crash does not lose who paused the recording and where. It runs under
// the control's mutex: the call's end takes that mutex (stopControl)
// before it stores the final record, so this picture can never outlive
// the call. A failure is logged; the pause itself has happened.
func (c *Call) storePicture(recID string, now time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.svc.ctx), 5*time.Second)
	defer cancel()
	live := &LiveCall{Record: c.Record(), RecordingID: recID, SeenAt: now}
	if err := c.svc.storeState(ctx, &EventState{LiveCall: live}); err != nil {
		c.svc.log.Warn("storing the call's picture after a recording change", "call", c.ID(), "err", err)
	}
}

func (rc *recordingControl) stateName() string {
	if rc.state == RecordingAvailable {
		return "not started"
	}
	return string(rc.state)
}

// startRecording starts the call's recording when it is answered, as
// its effective policy says (paused until started for on_demand). Failure
// is logged, never fatal to the call. Runs on the call's owner goroutine.
func (c *Call) startRecording(ctx context.Context, log *slog.Logger) {
	if c.rec != nil || c.svc.recorder == nil {
		return
	}
	var ext string
	if ps := c.partiesNow(); len(ps) > 0 {
		ext = ps[0].ext
	}
	c.mu.Lock()
	tenantID, queueName, number := c.info.TenantID, c.info.Queue, ""
	if c.info.Direction == DirectionInbound {
		number = c.info.To // our number the caller dialled; outbound calls dial theirs
	}
	c.mu.Unlock()
	policy, by := c.svc.effectivePolicy(ctx, log, tenantID, ext, queueName, number)
	rc := &c.recCtl
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.policy = policy
	if policy == RecordNever {
		return
	}
	id := newID("rec")
	r, err := c.svc.recorder.StartRecording(ctx, RecordingRequest{ID: id, CallID: c.ID(), TenantID: tenantID, Paused: policy == RecordOnDemand})
	if err != nil {
		log.Error("starting the recording", "err", err)
		return
	}
	c.rec, c.recID, rc.rec, rc.recID = r, id, r, id
	rc.state = RecordingOn
	if policy == RecordOnDemand {
		rc.state = RecordingAvailable
	}
	c.mu.Lock()
	c.info.Recording = rc.state
	c.mu.Unlock()
	if c.conn != nil {
		if err := r.Attach(c.conn); err != nil {
			log.Error("attaching the recording", "err", err)
		}
	}
	log.Info("recording", "recording", id, "policy", policy, "by", by)
}

// stopControl ends control of the recording before it is stopped; it
// reports whether the recording ever took audio (an on-demand recording
// never started has nothing worth keeping).
func (c *Call) stopControl() bool {
	rc := &c.recCtl
	rc.mu.Lock()
	defer rc.mu.Unlock()
	started := rc.state != RecordingAvailable
	rc.rec, rc.state = nil, RecordingOff
	c.mu.Lock()
	c.info.Recording = RecordingOff
	c.hist.recPauses = slices.Clone(rc.pauses)
	c.mu.Unlock()
	return started
}

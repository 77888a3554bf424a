package cti

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"crypto/rand"
	"encoding/hex"
)

// Defaults for Config fields left zero.
const (
	DefaultRingTimeout  = 30 * time.Second
	DefaultSessionGrace = 30 * time.Second
)

// NumberRoute maps a dialled number (DID) to a tenant's extension, or to
// the tenant's CRM which decides per call.
type NumberRoute struct {
	TenantID string
	// Extension is rung for RouteStatic; with RouteCRM it is the
	// fallback taken when the CRM does not answer in time, fails, or
	// names nothing usable.
	Extension string
	Route     RouteKind
	// Queue is the queue of a RouteQueue number (Extension is then unused).
	Queue string
	// Flow is the IVR flow of a RouteIVR number (Extension: the fallback
	// when the flow cannot be read).
	Flow string
}

// RouteKind says how a number's calls are routed.
type RouteKind string

const (
	RouteStatic    RouteKind = ""          // always to NumberRoute.Extension
	RouteExtension RouteKind = "extension" // the same, as stored and shown by the API
	RouteCRM       RouteKind = "crm"       // ask the CRM (data query), NumberRoute.Extension as fallback
	// RouteQueue names a queue (NumberRoute.Queue); RouteIVR an IVR flow
	// (NumberRoute.Flow, docs/ivr.md).
	RouteQueue RouteKind = "queue"
	RouteIVR   RouteKind = "ivr"
)

// DialRule limits where a tenant's calls may go (agents dialling,
// click-to-call, transfers, CRM routing to numbers): no toll fraud
// through the API. A number is allowed when it starts with one of
// AllowPrefixes or lies in one of AllowCountries ("*": any country).
// With both empty — and for a tenant without a rule — only numbers of the
// tenant's own region (TenantSettings.DefaultRegion) may be called.
// Premium-rate numbers are refused unless AllowPremium is set, even when
// a prefix or country allows them (docs/security.md).
type DialRule struct {
	AllowPrefixes []string
	// AllowCountries are ISO 3166-1 alpha-2 regions ("US", "HU") whose
	// numbers may be called; "*" allows every country.
	AllowCountries []string
	// MaxDigits bounds the dialled number's length (0 = 15, E.164's limit).
	MaxDigits int
	// AllowPremium allows premium-rate numbers (as the phone number
	// metadata classifies them, e.g. +1 900, +44 9). Default false.
	AllowPremium bool
}

// Config is the part of the configuration the call-center core needs.
type Config struct {
	// Numbers routes inbound called numbers to extensions.
	Numbers map[string]NumberRoute
	// DialRules by tenant id; a tenant without one may dial numbers of its
	// own region only, never premium-rate ones.
	DialRules map[string]DialRule
	// RingTimeout is how long an agent rings before the call is given up.
	RingTimeout time.Duration
	// NodeTimeout is how long another node may stay silent on the bus
	// before its agents are shown offline (bus.go). Default
	// DefaultNodeTimeout.
	NodeTimeout time.Duration
	// SessionGrace is how long an agent session (and its calls) survives a
	// lost websocket, waiting for the client to resume it.
	SessionGrace time.Duration
	// WrapUp is the after-call time during which an agent is offered no
	// calls (0: none).
	WrapUp time.Duration
	// AwayReasons are the reason codes agents pick from when away; empty
	// allows any short text.
	AwayReasons []string
	// Tenants holds per-tenant settings (region, screen pop, CRM
	// timeouts); a tenant without an entry gets the defaults.
	Tenants map[string]TenantSettings
	// CRM looks callers up and answers routing queries; nil: phonebook
	// only, and numbers routed by CRM always take their fallback.
	CRM CRM
	// HashConcurrency bounds concurrent argon2id computations (sign-ins,
	// HTTP Basic, password changes); default DefaultHashConcurrency().
	// HashQueue bounds the callers waiting for one (default 64); beyond
	// it they are refused with KindUnavailable at once.
	HashConcurrency int
	HashQueue       int
	// AccessCacheTTL is how long the access check (revocation.go) trusts
	// a user row it read: the upper bound, besides the websocket recheck
	// interval, on how late a deletion, role change or disabling done
	// outside this process takes effect. Default 2s.
	AccessCacheTTL time.Duration
	// MusicDir holds uploaded hold music (QueueConfig.Music names a file
	// in it).
	MusicDir string
	// Now is the clock of statuses and their intervals (nil: the wall
	// clock); tests script a day with it.
	Now func() time.Time
	// RecordingSecret keys the HMAC of recording download codes (at
	// least 32 bytes; derive it from a persistent secret so codes survive
	// restarts). Empty: a random key per process.
	RecordingSecret []byte
	// QualityInterval is how often each answered call's legs are
	// measured (loss, jitter, round trip, MOS); default
	// DefaultQualityInterval.
	QualityInterval time.Duration
	// IVRCallsPerMinute bounds how many outbound IVR calls a tenant may
	// start per minute (POST /api/v1/ivr-calls), with bursts of up to
	// a tenth of it; default DefaultIVRCallsPerMinute.
	IVRCallsPerMinute int
	// IVRCallsConcurrent bounds a tenant's outbound IVR calls in progress
	// at once; default DefaultIVRCallsConcurrent.
	IVRCallsConcurrent int
}

// Service is the call-center core: agents, their sessions and calls.
//
// # Concurrency
//
// Service methods are safe for concurrent use. Agent and session state is
// guarded by mu; each call is owned by one goroutine (flow.go) that other
// goroutines reach through the call's command channel, so no lock is held
// while SIP or media work is in progress.
//
// # Lifecycle
//
// New starts nothing. Calls start with InboundCall or Dial and end on
// their own; Drain refuses new calls and waits for live ones up to its
// context's deadline, then hangs them up.
type Service struct {
	cfg   Config
	store Store
	media MediaEngine
	log   *slog.Logger

	ctx    context.Context // parent of every call; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the calls' goroutines: Drain waits for them
	// bg: the background workers (bus, session directory, lost nodes),
	// which end when Close cancels ctx; Drain does not wait for them.
	bg sync.WaitGroup
	// qualityOnce starts the quality loop with the first call.
	qualityOnce sync.Once

	events *publisher
	// beat is closed when the live calls' heartbeat stops (nil: never
	// started).
	beat   chan struct{}
	hashes *HashPool
	access *accessCache
	// recorder is media's Recorder, when it is one; nil: no recordings.
	recorder Recorder
	// jobs upload finished recordings and apply retention
	// (recording_storage.go).
	jobs recordingJobs
	// player is media's Player, when it is one; nil: queued callers hear
	// silence.
	player Player
	// prompts caches uploaded prompts' audio (prompt_cache.go).
	prompts promptCache
	// trunkApplier applies trunk changes to the voice path (set once,
	// before serving; nil: changes apply at the next start).
	trunkApplier TrunkApplier

	// settings caches what administrators change (admin_cache.go); users
	// are cached by access.
	settings settingsCache

	mu       sync.Mutex
	agents   map[agentKey]*agent
	calls    map[string]*Call
	sessions map[string]*AgentSession
	draining bool
	// lines are the queues' waiting calls (queue_runtime.go).
	lines map[queueKey]*queueLine
	// watchers are the supervisors' live feeds (supervisor.go).
	watchers watchers

	// dir records which node holds each agent's session (cluster.go);
	// nil on a single node. Set once by SetDirectory before use.
	dir    SessionDirectory
	dirSIP atomic.Pointer[string]
	// remoteBusy: agents of other nodes a queued call here rings
	// (cluster_queue.go); guarded by mu. dispatchKick asks the bus
	// goroutine for a dispatch.
	remoteBusy   map[agentKey]bool
	dispatchKick chan struct{}

	// The other nodes (bus.go); bus is nil on a single node. Set once
	// by SetBus before use.
	bus        Bus
	node       string
	busOut     chan NodeChange
	busDropped atomic.Int64
	remote     remoteAgents

	// ivrCallLimits are the tenants' outbound IVR call rates
	// (ivr_outbound.go).
	ivrCallLimits ivrCallLimits
}

// New builds the service. media may be nil in tests that make no calls.
func New(cfg Config, store Store, media MediaEngine, log *slog.Logger) *Service {
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = DefaultRingTimeout
	}
	if cfg.NodeTimeout <= 0 {
		cfg.NodeTimeout = DefaultNodeTimeout
	}
	if cfg.SessionGrace <= 0 {
		cfg.SessionGrace = DefaultSessionGrace
	}
	if log == nil {
		log = slog.Default()
	}
	if len(cfg.RecordingSecret) == 0 {
		cfg.RecordingSecret = make([]byte, 32)
		_, _ = rand.Read(cfg.RecordingSecret)
	}
	rec, _ := media.(Recorder)
	player, _ := media.(Player)
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{
		cfg: cfg, store: store, media: media, log: log, recorder: rec, player: player,
		ctx: ctx, cancel: cancel, jobs: recordingJobs{kick: make(chan struct{}, 1)},
		events:   newPublisher(log),
		hashes:   NewHashPool(cfg.HashConcurrency, cfg.HashQueue, 0),
		access:   newAccessCache(cfg.AccessCacheTTL),
		agents:   map[agentKey]*agent{},
		calls:    map[string]*Call{},
		sessions: map[string]*AgentSession{},
	}
}

// ActiveCalls returns how many calls are in progress.
func (s *Service) ActiveCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// ConnectedAgents returns how many agent sessions are open.
func (s *Service) ConnectedAgents() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Drain stops accepting calls and waits for live calls to end. When ctx
// expires first, the remaining calls are hung up and Drain waits for them.
func (s *Service) Drain(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	sessions := make([]*AgentSession, 0, len(s.sessions))
	for _, ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	deadline, _ := ctx.Deadline()
	for _, ss := range sessions {
		ss.push(AgentEvent{Kind: EventDraining, Until: deadline})
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.cancel() // every call flow hangs up on its context
	<-done
	return fmt.Errorf("drain: %w", ctx.Err())
}

// Close hangs up every call and closes every session.
func (s *Service) Close() {
	s.mu.Lock()
	s.draining = true
	sessions := make([]*AgentSession, 0, len(s.sessions))
	for _, ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.bg.Wait()
	if s.beat != nil {
		<-s.beat
	}
	for _, ss := range sessions {
		ss.close(EventClosed)
	}
}

// agentFor returns the live agent record of an extension, creating it.
// Callers hold s.mu.
func (s *Service) agentLocked(tenantID, ext string) *agent {
	k := agentKey{tenantID, ext}
	ag := s.agents[k]
	if ag == nil {
		ag = &agent{key: k, ext: ext, status: StatusOffline, statusSince: time.Now()}
		s.agents[k] = ag
	}
	return ag
}

// afterCall puts an agent who just finished an answered call into
// wrap-up, if the tenant uses it and the agent was available.
func (s *Service) afterCall(ag *agent, answered bool) {
	wrapUp := s.tenant(ag.key.tenant).WrapUp
	if wrapUp <= 0 || !answered {
		return
	}
	s.mu.Lock()
	if ag.session == nil || ag.status != StatusAvailable || ag.call != nil {
		s.mu.Unlock()
		return
	}
	until := time.Now().Add(wrapUp)
	ch := s.setStatusLocked(ag, StatusWrapUp, "", until)
	ss := ag.session
	s.mu.Unlock()
	s.publishStatus(ch)
	ss.push(AgentEvent{Kind: EventStatus, Status: StatusWrapUp, Until: until})
	time.AfterFunc(wrapUp, func() {
		s.mu.Lock()
		if ag.status != StatusWrapUp || !ag.until.Equal(until) {
			s.mu.Unlock()
			return
		}
		ch := s.setStatusLocked(ag, StatusAvailable, "", time.Time{})
		ss := ag.session
		s.mu.Unlock()
		s.publishStatus(ch)
		if ss != nil {
			ss.push(AgentEvent{Kind: EventStatus, Status: StatusAvailable})
		}
		s.dispatch()
	})
}

// Config returns the configuration the service runs with.
func (s *Service) Config() Config { return s.cfg }

// pushToAgent queues an event for the agent's session, if it has one.
func (s *Service) pushToAgent(ag *agent, ev AgentEvent) {
	s.mu.Lock()
	ss := ag.session
	s.mu.Unlock()
	if ss != nil {
		ss.push(ev)
	}
}

// call looks up a call the principal takes part in.
func (s *Service) callFor(ag *agent, callID string) (*Call, error) {
	s.mu.Lock()
	c := s.calls[callID]
	monitoring := c != nil && ag.call == c // a supervisor listening in
	s.mu.Unlock()
	if c == nil {
		return nil, Errorf(KindNotFound, "no call %s", callID)
	}
	if monitoring {
		return c, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.parties {
		if p == ag {
			return c, nil
		}
	}
	// Another tenant's or agent's call is indistinguishable from none.
	return nil, Errorf(KindNotFound, "no call %s", callID)
}

// newID returns a prefixed random id such as "call_3f2a…".
func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// normalizeNumber keeps a leading + and the digits, * and #, dropping the
// spaces, dashes and brackets people paste.
func normalizeNumber(n string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(n) {
		switch {
		case r >= '0' && r <= '9', r == '*', r == '#':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return ""
		}
	}
	return b.String()
}

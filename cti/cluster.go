package cti

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Several nodes behind one SIP front door (docs/scale-out.md): the front
// door spreads new calls over the nodes without knowing where agents
// are, so a node that receives a call for an agent signed in on another
// node redirects it there (SIP 302), and the front door sends the INVITE
// on. Media then flows between the trunk and the node holding the
// agent's session only. Which node that is, each node learns from a
// SessionDirectory: JetStream KV between nodes, LocalDirectory in one
// process.
//
// # Concurrency
//
// The directory is written at sign-in (synchronously, so a call placed
// once the sign-in is acknowledged finds the agent), at sign-out and by
// one refresh goroutine owned by the Service (ended by Close); it is read
// by InboundCall before the call exists, never under Service.mu.

// SessionLocation says which node holds an agent's session, and how the
// front door reaches that node.
type SessionLocation struct {
	Tenant    string `json:"tenant"`
	Extension string `json:"ext"`
	Node      string `json:"node"`
	// SIP is the node's SIP address as the front door reaches it.
	SIP     string `json:"sip"`
	Session string `json:"session"`
}

// SessionDirectory is the shared map of agents' sessions. Entries expire
// unless written again within the directory's lifetime, so a dead node's
// agents drop out by themselves.
type SessionDirectory interface {
	// Put records (or refreshes) loc; the latest sign-in wins.
	Put(ctx context.Context, loc SessionLocation) error
	// Get finds the agent's entry.
	Get(ctx context.Context, tenant, ext string) (SessionLocation, bool, error)
	// Delete removes the entry if it is still loc's (same node and
	// session): a sign-in elsewhere in the meantime is kept.
	Delete(ctx context.Context, loc SessionLocation) error
}

// DirectoryRefresh is how often a node writes its agents' entries again;
// a directory keeps an entry for at least three times this.
const DirectoryRefresh = 3 * time.Second

// RedirectError is InboundCall's answer when the called agent's session
// lives on another node: the trunk layer answers 302 with Contact
// sip:User@Host;rb-handover=Token.
type RedirectError struct {
	User, Host, Token string
	Node              string
	// monitor is the call on that node a supervisor's leg joins, in
	// monitorMode.
	monitor     string
	monitorMode MonitorMode
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("agent signed in on node %s (%s)", e.Node, e.Host)
}

// HandoverParam is the Request-URI parameter carrying a handover token.
const HandoverParam = "rb-handover"

// SetDirectory has the service record its agents' sessions in d, as
// node (SetBus's name, or the host's) reachable at sipAddr. Call it once,
// before agents sign in.
func (s *Service) SetDirectory(node, sipAddr string, d SessionDirectory) {
	s.dir = d
	s.dirSIP.Store(&sipAddr)
	if s.node == "" {
		s.node = node
	}
	s.bg.Go(func() {
		tick := time.NewTicker(DirectoryRefresh)
		defer tick.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-tick.C:
				s.refreshDirectory()
			}
		}
	})
}

// refreshDirectory writes every local session's entry again.
func (s *Service) refreshDirectory() {
	var locs []SessionLocation
	s.mu.Lock()
	for _, ss := range s.sessions {
		if ss.agent != nil && ss.agent.session == ss {
			locs = append(locs, s.locationOf(ss))
		}
	}
	s.mu.Unlock()
	for _, loc := range locs {
		ctx, cancel := context.WithTimeout(s.ctx, time.Second)
		err := s.dir.Put(ctx, loc)
		cancel()
		if err != nil {
			s.log.Warn("directory: session not refreshed", "ext", loc.Extension, "err", err)
			return
		}
	}
}

func (s *Service) locationOf(ss *AgentSession) SessionLocation {
	return SessionLocation{Tenant: ss.principal.TenantID, Extension: ss.principal.Extension,
		Node: s.node, SIP: s.sipAddr(), Session: ss.id}
}

// sipAddr is where the front door reaches this node ("" until
// SetDirectory).
func (s *Service) sipAddr() string {
	if p := s.dirSIP.Load(); p != nil {
		return *p
	}
	return ""
}

// claimSession records a new session in the directory; a failure leaves
// the agent reachable through this node only.
func (s *Service) claimSession(ctx context.Context, ss *AgentSession) {
	if s.dir == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := s.dir.Put(ctx, s.locationOf(ss)); err != nil {
		s.log.Warn("directory: session not recorded; calls reach it only through this node", "ext", ss.principal.Extension, "err", err)
	}
}

// releaseSession removes an ended session's entry, in the background.
func (s *Service) releaseSession(ss *AgentSession) {
	if s.dir == nil {
		return
	}
	loc := s.locationOf(ss)
	s.bg.Go(func() {
		ctx, cancel := context.WithTimeout(s.ctx, time.Second)
		defer cancel()
		if err := s.dir.Delete(ctx, loc); err != nil && s.ctx.Err() == nil {
			s.log.Warn("directory: ended session not removed (it expires)", "ext", loc.Extension, "err", err)
		}
	})
}

// redirectFor returns a RedirectError when ext has no session here but
// one on another live node; nil when the call is this node's to handle.
func (s *Service) redirectFor(ctx context.Context, tenantID, to string, target routeTarget) error {
	if s.dir == nil || target.ext == "" {
		return nil
	}
	s.mu.Lock()
	ag := s.agents[agentKey{tenantID, target.ext}]
	local := ag != nil && ag.session != nil
	s.mu.Unlock()
	if local {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	loc, ok, err := s.dir.Get(lctx, tenantID, target.ext)
	switch {
	case err != nil:
		s.log.Warn("directory: lookup failed; handling the call here", "ext", target.ext, "err", err)
		return nil
	case !ok || loc.Node == s.node || loc.SIP == "":
		return nil
	case !s.nodeAlive(loc.Node):
		s.log.Info("directory: agent's node is silent; handling the call here", "ext", target.ext, "node", loc.Node)
		return nil
	}
	tok := s.handoverToken(handover{Tenant: tenantID, Ext: target.ext, Label: target.label,
		Exp: time.Now().Add(time.Minute).Unix()})
	return &RedirectError{User: to, Host: loc.SIP, Token: tok, Node: loc.Node}
}

// Draining reports whether the service refuses new calls: the SIP layer
// then answers a front door's OPTIONS probes with 503.
func (s *Service) Draining() bool { return s.isDraining() }

// nodeAlive reports whether node was heard on the bus within
// NodeTimeout (true without a bus: the directory's expiry is all we have).
func (s *Service) nodeAlive(node string) bool {
	return s.bus == nil || s.nodeHeard(node)
}

// handover is what a redirecting node tells the node it sends the call
// to: the decision it already made (routing, forwarding), so the call is
// not routed twice (a CRM could answer differently the second time).
type handover struct {
	Tenant string `json:"t"`
	Ext    string `json:"e"`
	Label  string `json:"l,omitempty"`
	Exp    int64  `json:"x"`
	// A supervisor's leg (cluster_monitor.go): Ext is the supervisor's
	// extension, Call the call to join, Mode how, Teams the supervisor's
	// scope unless Admin.
	Call  string   `json:"c,omitempty"`
	Mode  string   `json:"m,omitempty"`
	Teams []string `json:"g,omitempty"`
	Admin bool     `json:"a,omitempty"`
}

// handoverKey is derived from RecordingSecret, which every node derives
// from the shared jwtSecret: only a node can mint a token, so a caller
// cannot reach an extension directly by adding the parameter.
func (s *Service) handoverKey() []byte {
	m := hmac.New(sha256.New, s.cfg.RecordingSecret)
	m.Write([]byte("ringbridge call handover v1"))
	return m.Sum(nil)
}

func (s *Service) handoverToken(h handover) string {
	body, _ := json.Marshal(h)
	m := hmac.New(sha256.New, s.handoverKey())
	m.Write(body)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(body) + "." + enc.EncodeToString(m.Sum(nil))
}

var errBadHandover = Errorf(KindForbidden, "bad or expired handover")

// verifyHandover checks a token's signature and lifetime.
func (s *Service) verifyHandover(tok string) (handover, error) {
	enc := base64.RawURLEncoding
	b, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return handover{}, errBadHandover
	}
	body, err1 := enc.DecodeString(b)
	mac, err2 := enc.DecodeString(sig)
	if err := errors.Join(err1, err2); err != nil {
		return handover{}, errBadHandover
	}
	m := hmac.New(sha256.New, s.handoverKey())
	m.Write(body)
	if !hmac.Equal(mac, m.Sum(nil)) {
		return handover{}, errBadHandover
	}
	var h handover
	if err := json.Unmarshal(body, &h); err != nil || h.Tenant == "" || h.Ext == "" || time.Now().Unix() > h.Exp {
		return handover{}, errBadHandover
	}
	return h, nil
}

// acceptHandover checks a token another node minted for tenantID.
func (s *Service) acceptHandover(tok, tenantID string) (routeTarget, error) {
	h, err := s.verifyHandover(tok)
	if err != nil || h.Tenant != tenantID || h.Call != "" {
		return routeTarget{}, errBadHandover
	}
	label := h.Label
	if label == "" {
		label = "handover:" + h.Ext
	}
	return routeTarget{ext: h.Ext, label: label}, nil
}

// LocalDirectory is the SessionDirectory of one process (and of tests
// running several services side by side): a map whose entries expire
// after ttl unless written again.
type LocalDirectory struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[agentKey]localEntry
}

type localEntry struct {
	loc SessionLocation
	at  time.Time
}

// NewLocalDirectory returns an empty directory (ttl 0: 3×DirectoryRefresh).
func NewLocalDirectory(ttl time.Duration) *LocalDirectory {
	if ttl <= 0 {
		ttl = 3 * DirectoryRefresh
	}
	return &LocalDirectory{ttl: ttl, m: map[agentKey]localEntry{}}
}

// Put implements SessionDirectory.
func (d *LocalDirectory) Put(_ context.Context, loc SessionLocation) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m[agentKey{loc.Tenant, loc.Extension}] = localEntry{loc, time.Now()}
	return nil
}

// Get implements SessionDirectory.
func (d *LocalDirectory) Get(_ context.Context, tenant, ext string) (SessionLocation, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[agentKey{tenant, ext}]
	if !ok || time.Since(e.at) > d.ttl {
		return SessionLocation{}, false, nil
	}
	return e.loc, true, nil
}

// Delete implements SessionDirectory.
func (d *LocalDirectory) Delete(_ context.Context, loc SessionLocation) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := agentKey{loc.Tenant, loc.Extension}
	if e, ok := d.m[k]; ok && e.loc.Node == loc.Node && e.loc.Session == loc.Session {
		delete(d.m, k)
	}
	return nil
}

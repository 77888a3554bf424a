package cti

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// A handover token minted by one node is honoured by another node that
// shares the key, for its tenant only and only unaltered and fresh.
func TestHandoverToken(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	a := New(Config{RecordingSecret: key}, nil, nil, nil)
	defer a.Close()
	b := New(Config{RecordingSecret: key}, nil, nil, nil)
	defer b.Close()
	other := New(Config{RecordingSecret: []byte("another key, another cluster....")}, nil, nil, nil)
	defer other.Close()
	tok := a.handoverToken(handover{Tenant: "t1", Ext: "1001", Label: "crm:1001", Exp: time.Now().Add(time.Minute).Unix()})
	got, err := b.acceptHandover(tok, "t1")
	if err != nil || got.ext != "1001" || got.label != "crm:1001" {
		t.Fatalf("node b: %+v %v", got, err)
	}
	body, sig, _ := strings.Cut(tok, ".")
	forged := a.handoverToken(handover{Tenant: "t1", Ext: "1002", Exp: time.Now().Add(time.Minute).Unix()})
	fbody, _, _ := strings.Cut(forged, ".")
	expired := a.handoverToken(handover{Tenant: "t1", Ext: "1001", Exp: time.Now().Add(-time.Second).Unix()})
	for name, c := range map[string]struct{ tok, tenant string }{
		"other tenant":    {tok, "t2"},
		"body swapped":    {fbody + "." + sig, "t1"},
		"no signature":    {body, "t1"},
		"garbage":         {"!!.??", "t1"},
		"expired":         {expired, "t1"},
		"empty extension": {a.handoverToken(handover{Tenant: "t1", Exp: time.Now().Add(time.Minute).Unix()}), "t1"},
	} {
		if _, err := b.acceptHandover(c.tok, c.tenant); ErrorKind(err) != KindForbidden {
			t.Errorf("%s: %v, want forbidden", name, err)
		}
	}
	if _, err := other.acceptHandover(tok, "t1"); ErrorKind(err) != KindForbidden {
		t.Errorf("a node with another key took the token: %v", err)
	}
}

// A call for an extension whose session the directory puts on another
// live node is redirected there with a token that node honours; not when
// the agent is signed in here, the entry is this node's, or the other
// node is silent on the bus.
func TestRedirectFor(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	s := New(Config{RecordingSecret: key}, nil, nil, nil)
	defer s.Close()
	b := New(Config{RecordingSecret: key}, nil, nil, nil)
	defer b.Close()
	dir := NewLocalDirectory(0)
	s.SetDirectory("a", "10.0.0.1:5060", dir)
	ctx := context.Background()
	target := routeTarget{ext: "1001", label: "static:1001"}
	if err := s.redirectFor(ctx, "t1", "+3612345678", target); err != nil {
		t.Fatalf("nobody signed in anywhere: %v", err)
	}
	_ = dir.Put(ctx, SessionLocation{Tenant: "t1", Extension: "1001", Node: "b", SIP: "10.0.0.2:5060", Session: "s1"})
	var r *RedirectError
	if err := s.redirectFor(ctx, "t1", "+3612345678", target); !errors.As(err, &r) {
		t.Fatalf("agent on node b: %v, want a redirect", err)
	}
	if r.Host != "10.0.0.2:5060" || r.User != "+3612345678" || r.Node != "b" {
		t.Fatalf("redirect %+v", r)
	}
	if got, err := b.acceptHandover(r.Token, "t1"); err != nil || got.ext != "1001" || got.label != "static:1001" {
		t.Fatalf("node b on the token: %+v %v", got, err)
	}
	if err := s.redirectFor(ctx, "t2", "+3612345678", target); err != nil {
		t.Fatalf("another tenant's 1001: %v", err)
	}

	// With a bus, only to a node heard lately.
	s.bus = NewLocalBus()
	if err := s.redirectFor(ctx, "t1", "+3612345678", target); err != nil {
		t.Fatalf("node b silent: %v, want the call handled here", err)
	}
	s.remote.mu.Lock()
	s.remote.heard = map[string]time.Time{"b": time.Now()}
	s.remote.mu.Unlock()
	if err := s.redirectFor(ctx, "t1", "+3612345678", target); !errors.As(err, &r) {
		t.Fatalf("node b heard: %v, want a redirect", err)
	}

	// Signed in here (a stale entry elsewhere): handled here.
	s.mu.Lock()
	s.agents[agentKey{"t1", "1001"}] = &agent{ext: "1001", session: &AgentSession{}}
	s.mu.Unlock()
	if err := s.redirectFor(ctx, "t1", "+3612345678", target); err != nil {
		t.Fatalf("agent signed in here: %v", err)
	}
	s.mu.Lock()
	delete(s.agents, agentKey{"t1", "1001"})
	s.mu.Unlock()
	_ = dir.Put(ctx, SessionLocation{Tenant: "t1", Extension: "1001", Node: "a", SIP: "10.0.0.1:5060", Session: "s2"})
	if err := s.redirectFor(ctx, "t1", "+3612345678", target); err != nil {
		t.Fatalf("entry names this node: %v", err)
	}
}

// A supervisor's leg from another node joins only the call its token
// names, of the token's tenant, and only within the supervisor's teams;
// its token does not route an ordinary call.
func TestMonitorHandover(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	s := New(Config{RecordingSecret: key}, nil, nil, nil)
	defer s.Close()
	s.mu.Lock()
	s.calls["call_1"] = &Call{info: CallInfo{ID: "call_1", TenantID: "t1"}, parties: []*agent{{ext: "1001", teams: []string{"sales"}}}}
	s.mu.Unlock()
	exp := time.Now().Add(time.Minute).Unix()
	tok := func(h handover) string { return s.handoverToken(h) }
	sales := handover{Tenant: "t1", Ext: "1004", Call: "call_1", Mode: "listen", Teams: []string{"sales"}, Exp: exp}
	if _, err := s.acceptHandover(tok(sales), "t1"); ErrorKind(err) != KindForbidden {
		t.Fatalf("a monitor token routed a call: %v", err)
	}
	for name, c := range map[string]struct {
		h    handover
		kind Kind
	}{
		"another team":   {handover{Tenant: "t1", Ext: "1005", Call: "call_1", Mode: "listen", Teams: []string{"billing"}, Exp: exp}, KindNotFound},
		"no teams":       {handover{Tenant: "t1", Ext: "1005", Call: "call_1", Mode: "listen", Exp: exp}, KindNotFound},
		"another tenant": {handover{Tenant: "t2", Ext: "1004", Call: "call_1", Mode: "listen", Admin: true, Exp: exp}, KindNotFound},
		"no such call":   {handover{Tenant: "t1", Ext: "1004", Call: "call_2", Mode: "listen", Admin: true, Exp: exp}, KindNotFound},
		"unknown mode":   {handover{Tenant: "t1", Ext: "1004", Call: "call_1", Mode: "shout", Admin: true, Exp: exp}, KindForbidden},
	} {
		err := s.InboundCall(context.Background(), InboundCall{Trunk: "frontdoor", From: "1005", To: "monitor", Handover: tok(c.h)})
		if ErrorKind(err) != c.kind {
			t.Errorf("%s: %v, want %s", name, err, c.kind)
		}
	}
}

package cti_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
	"github.com/ringbridge/ringbridge/cti/store/sqlite"
)

func newService(t *testing.T, cfg cti.Config) (*cti.Service, *ctitest.Media) {
	t.Helper()
	m := &ctitest.Media{}
	return newServiceWith(t, cfg, m), m
}

// newServiceWith builds a service on a fresh store (tenant demo, agents
// 1001 and 1002) with the given voice path.
func newServiceWith(t *testing.T, cfg cti.Config, m cti.MediaEngine) *cti.Service {
	t.Helper()
	svc := cti.New(cfg, demoStore(t), m, nil)
	t.Cleanup(svc.Close)
	return svc
}

// tenantStore is a fresh store with tenant demo.
func tenantStore(t *testing.T) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/rb.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateTenant(ctx, &cti.Tenant{ID: "demo", Name: "Demo"}); err != nil {
		t.Fatal(err)
	}
	return st
}

// demoStore is a fresh store with tenant demo and agents 1001 and 1002,
// members of teams.
func demoStore(t *testing.T, teams ...string) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	st := tenantStore(t)
	for _, ext := range []string{"1001", "1002"} {
		if err := st.CreateUser(ctx, &cti.User{TenantID: "demo", Username: "a" + ext, Extension: ext, Role: cti.RoleAgent,
			PasswordHash: "x", Teams: teams}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func principal(ext string) cti.Principal {
	return cti.Principal{TenantID: "demo", UserID: "u" + ext, Username: "a" + ext, Extension: ext, Role: cti.RoleAgent}
}

func TestDialRules(t *testing.T) {
	svc, m := newService(t, cti.Config{DialRules: map[string]cti.DialRule{"demo": {AllowPrefixes: []string{"+36", "06"}, MaxDigits: 12}}})
	ss, err := svc.Connect(context.Background(), principal("1001"), false)
	if err != nil {
		t.Fatal(err)
	}
	for num, want := range map[string]cti.Kind{
		"+44 20 7946 0000": cti.KindForbidden,   // other country
		"+36 1 234 5678":   cti.KindUnavailable, // allowed; the fake trunk then fails
		"06 30 123 4567":   cti.KindUnavailable,
		"+3612345678901":   cti.KindForbidden, // too long
		"1-900-CALL":       cti.KindInvalid,
	} {
		_, err := ss.Dial(context.Background(), num)
		if got := cti.ErrorKind(err); got != want {
			t.Errorf("dial %q: %v (%s), want %s", num, err, got, want)
		}
	}
	if len(m.Dials) != 2 || m.Dials[0].To[0] != '+' && m.Dials[0].To[0] != '0' {
		t.Fatalf("trunk saw %+v, want only the two allowed numbers", m.Dials)
	}
	if svc.ActiveCalls() != 0 {
		t.Fatal("failed dials left calls behind")
	}
}

// A second tab does not steal a live session; it may take over on
// request, and a reloaded page (detached session) takes over at once.
func TestSecondTabTakeoverAndReload(t *testing.T) {
	svc, _ := newService(t, cti.Config{})
	first, err := svc.Connect(context.Background(), principal("1001"), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Connect(context.Background(), principal("1001"), false); !errors.Is(err, cti.ErrSessionInUse) {
		t.Fatalf("second tab: %v, want session in use", err)
	}
	second, err := svc.Connect(context.Background(), principal("1001"), true)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-first.Events():
		if ev.Kind != cti.EventReplaced {
			t.Fatalf("first session got %v, want replaced", ev.Kind)
		}
	case <-time.After(time.Second):
		t.Fatal("first session not told it was replaced")
	}
	<-first.Done()
	if st, _, _ := second.Status(); st != cti.StatusAvailable {
		t.Fatalf("second session status %s", st)
	}
	second.Detach() // the page reloads
	third, err := svc.Connect(context.Background(), principal("1001"), false)
	if err != nil {
		t.Fatalf("reload after detach: %v", err)
	}
	<-second.Done()
	_ = third
}

// A call in progress moves to the session that takes over, and is not
// ended by the old session closing.
func TestCallMovesToNewSession(t *testing.T) {
	svc, _ := newService(t, cti.Config{})
	a, _ := svc.Connect(context.Background(), principal("1001"), false)
	b, _ := svc.Connect(context.Background(), principal("1002"), false)
	ci, err := a.Dial(context.Background(), "1002")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Answer(ci.ID); err != nil {
		t.Fatal(err)
	}
	b.Detach()
	b2, err := svc.Connect(context.Background(), principal("1002"), false)
	if err != nil {
		t.Fatal(err)
	}
	<-b.Done()
	calls := b2.Calls()
	if len(calls) != 1 || calls[0].ID != ci.ID || calls[0].State != cti.CallActive {
		t.Fatalf("new session sees %+v, want the active call %s", calls, ci.ID)
	}
	if err := b2.Hangup(ci.ID); err != nil {
		t.Fatal(err)
	}
}

func TestWrapUpAfterAnsweredCall(t *testing.T) {
	svc, _ := newService(t, cti.Config{WrapUp: 300 * time.Millisecond, AwayReasons: []string{"lunch", "meeting"}})
	a, _ := svc.Connect(context.Background(), principal("1001"), false)
	b, _ := svc.Connect(context.Background(), principal("1002"), false)
	if err := b.SetStatus(cti.StatusAway, "coffee"); cti.ErrorKind(err) != cti.KindInvalid {
		t.Fatalf("unknown away reason: %v", err)
	}
	ci, _ := a.Dial(context.Background(), "1002")
	if err := b.Answer(ci.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.Hangup(ci.ID); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, b, cti.StatusWrapUp)
	if _, err := a.Dial(context.Background(), "1002"); cti.ErrorKind(err) != cti.KindUnavailable {
		t.Fatalf("calling an agent in wrap-up: %v, want unavailable", err)
	}
	waitStatus(t, b, cti.StatusAvailable)
	// Choosing available ends wrap-up early.
	ci, _ = a.Dial(context.Background(), "1002")
	_ = b.Answer(ci.ID)
	_ = b.Hangup(ci.ID)
	waitStatus(t, a, cti.StatusWrapUp)
	if err := a.SetStatus(cti.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := a.Status(); st != cti.StatusAvailable {
		t.Fatalf("status %s after ending wrap-up", st)
	}
}

func waitStatus(t *testing.T, ss *cti.AgentSession, want cti.AgentStatus) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if st, _, _ := ss.Status(); st == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, _, _ := ss.Status()
	t.Fatalf("status %s, want %s", st, want)
}

func TestDetachedSessionIsNotRungAndExpires(t *testing.T) {
	svc, _ := newService(t, cti.Config{SessionGrace: 200 * time.Millisecond})
	a, _ := svc.Connect(context.Background(), principal("1001"), false)
	b, _ := svc.Connect(context.Background(), principal("1002"), false)
	b.Detach()
	if _, err := a.Dial(context.Background(), "1002"); cti.ErrorKind(err) != cti.KindUnavailable {
		t.Fatalf("calling a detached agent: %v, want unavailable", err)
	}
	if _, err := svc.Resume(principal("1002"), b.ID()); err != nil {
		t.Fatalf("resume within grace: %v", err)
	}
	b.Detach()
	select {
	case <-b.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("detached session outlived its grace period")
	}
	if _, err := svc.Resume(principal("1002"), b.ID()); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("resume after grace: %v, want not found", err)
	}
	// Another user cannot resume someone else's session.
	if _, err := svc.Resume(principal("1002"), a.ID()); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("resuming another agent's session: %v", err)
	}
}

func TestInternalCallCommandsAndDrain(t *testing.T) {
	svc, _ := newService(t, cti.Config{})
	a, _ := svc.Connect(context.Background(), principal("1001"), false)
	b, _ := svc.Connect(context.Background(), principal("1002"), false)
	ci, err := a.Dial(context.Background(), "1002")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Answer(ci.ID); cti.ErrorKind(err) != cti.KindConflict {
		t.Fatalf("caller answering own call: %v, want conflict", err)
	}
	if err := b.SendDTMF(ci.ID, "12X"); cti.ErrorKind(err) != cti.KindInvalid {
		t.Fatalf("bad digits: %v", err)
	}
	if err := b.Answer(ci.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.Hold(ci.ID, true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := svc.Drain(ctx); err == nil {
		t.Fatal("drain returned before the live call ended")
	}
	if svc.ActiveCalls() != 0 {
		t.Fatal("drain deadline did not hang up the call")
	}
	if _, err := a.Dial(context.Background(), "1002"); cti.ErrorKind(err) != cti.KindUnavailable {
		t.Fatalf("dial while draining: %v, want unavailable", err)
	}
}

// Without a rule a tenant may call its own country only, and premium-rate
// numbers need an explicit AllowPremium even where a country is allowed.
func TestDefaultDialRuleIsDomesticWithoutPremium(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules map[string]cti.DialRule
		want  map[string]cti.Kind
	}{
		{"no rule", nil, map[string]cti.Kind{
			"+1 555 123 4567":  cti.KindUnavailable, // domestic: allowed; the fake trunk then fails
			"+44 20 7946 0000": cti.KindForbidden,   // international
			"+1 900 555 0100":  cti.KindForbidden,   // premium-rate
			"+1 876 555 0100":  cti.KindForbidden,   // Jamaica shares +1 but is not the US
		}},
		{"any country", map[string]cti.DialRule{"demo": {AllowCountries: []string{"*"}}}, map[string]cti.Kind{
			"+44 20 7946 0000": cti.KindUnavailable,
			"+1 900 555 0100":  cti.KindForbidden,
			"+44 909 876 5432": cti.KindForbidden, // UK premium-rate
		}},
		{"premium allowed", map[string]cti.DialRule{"demo": {AllowPrefixes: []string{"+1900"}, AllowPremium: true}}, map[string]cti.Kind{
			"+1 900 555 0100":  cti.KindUnavailable,
			"+44 20 7946 0000": cti.KindForbidden,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, _ := newService(t, cti.Config{DialRules: tc.rules})
			ss, err := svc.Connect(context.Background(), principal("1001"), false)
			if err != nil {
				t.Fatal(err)
			}
			for num, want := range tc.want {
				_, err := ss.Dial(context.Background(), num)
				if got := cti.ErrorKind(err); got != want {
					t.Errorf("dial %q: %v (%s), want %s", num, err, got, want)
				}
			}
		})
	}
}

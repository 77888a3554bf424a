package cti_test

import (
	"context"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
	"github.com/ringbridge/ringbridge/cti/store/sqlite"
)

func newService(t *testing.T, cfg cti.Config) (*cti.Service, *ctitest.Media) {
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
	for _, ext := range []string{"1001", "1002"} {
		if err := st.CreateUser(ctx, &cti.User{TenantID: "demo", Username: "a" + ext, Extension: ext, Role: cti.RoleAgent, PasswordHash: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	m := &ctitest.Media{}
	svc := cti.New(cfg, st, m, nil)
	t.Cleanup(svc.Close)
	return svc, m
}

func principal(ext string) cti.Principal {
	return cti.Principal{TenantID: "demo", UserID: "u" + ext, Username: "a" + ext, Extension: ext, Role: cti.RoleAgent}
}

func TestDialRules(t *testing.T) {
	svc, m := newService(t, cti.Config{DialRules: map[string]cti.DialRule{"demo": {AllowPrefixes: []string{"+36", "06"}, MaxDigits: 12}}})
	ss, err := svc.Connect(context.Background(), principal("1001"))
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

func TestSecondSignInReplacesTheFirst(t *testing.T) {
	svc, _ := newService(t, cti.Config{})
	first, err := svc.Connect(context.Background(), principal("1001"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := svc.Connect(context.Background(), principal("1001"))
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
	if st, _ := second.Status(); st != cti.StatusAvailable {
		t.Fatalf("second session status %s", st)
	}
}

func TestDetachedSessionIsNotRungAndExpires(t *testing.T) {
	svc, _ := newService(t, cti.Config{SessionGrace: 200 * time.Millisecond})
	a, _ := svc.Connect(context.Background(), principal("1001"))
	b, _ := svc.Connect(context.Background(), principal("1002"))
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
	a, _ := svc.Connect(context.Background(), principal("1001"))
	b, _ := svc.Connect(context.Background(), principal("1002"))
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

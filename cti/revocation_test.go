package cti_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
)

func TestCheckAccessAndRevokeUserSessions(t *testing.T) {
	ctx := context.Background()
	st := tenantStore(t)
	u := &cti.User{TenantID: "demo", Username: "alice", Extension: "1001", Role: cti.RoleAgent}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	svc := cti.New(cti.Config{AccessCacheTTL: time.Hour}, st, &ctitest.Media{}, nil)
	t.Cleanup(svc.Close)
	p := cti.Principal{TenantID: "demo", UserID: u.ID, Username: "alice", Extension: "1001", Role: cti.RoleAgent}

	if err := svc.CheckAccess(ctx, p); err != nil {
		t.Fatalf("fresh principal: %v", err)
	}
	for _, tc := range []struct {
		p    cti.Principal
		want error
	}{
		{cti.Principal{TenantID: "demo", UserID: "usr_gone", Role: cti.RoleAgent}, cti.ErrUserGone},
		{cti.Principal{TenantID: "other", UserID: u.ID, Role: cti.RoleAgent, Extension: "1001"}, cti.ErrUserGone},
		{func() cti.Principal { q := p; q.Role = cti.RoleAdmin; return q }(), cti.ErrSessionStale},
		{func() cti.Principal { q := p; q.TokenEpoch = 7; return q }(), cti.ErrRevoked},
	} {
		if err := svc.CheckAccess(ctx, tc.p); !errors.Is(err, tc.want) {
			t.Errorf("CheckAccess(%+v) = %v, want %v", tc.p, err, tc.want)
		}
	}

	ss, err := svc.Connect(ctx, p, false)
	if err != nil {
		t.Fatal(err)
	}
	// The cache is warm (TTL an hour), yet revocation applies at once.
	if err := svc.RevokeUserSessions(ctx, "demo", u.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.CheckAccess(ctx, p); !errors.Is(err, cti.ErrRevoked) {
		t.Fatalf("after revocation: %v", err)
	}
	select {
	case <-ss.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the user's agent session stayed open")
	}
	var sawRevoked bool
	for ev := range drain(ss.Events()) {
		sawRevoked = sawRevoked || (ev.Kind == cti.EventRevoked && ev.Reason != "")
	}
	if !sawRevoked {
		t.Error("the session was not told why it closed")
	}
	p.TokenEpoch = 1
	if err := svc.CheckAccess(ctx, p); err != nil {
		t.Fatalf("a token of the new epoch: %v", err)
	}
	if err := svc.RevokeUserSessions(ctx, "demo", "usr_gone"); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("revoking an unknown user: %v", err)
	}
}

// drain returns what is queued on ch without blocking.
func drain(ch <-chan *cti.AgentEvent) <-chan *cti.AgentEvent {
	out := make(chan *cti.AgentEvent, cap(ch)+1)
	for {
		select {
		case ev := <-ch:
			out <- ev
		default:
			close(out)
			return out
		}
	}
}

package cti_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
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

// readCounter is a real store that counts the user reads of the access
// checks.
type readCounter struct {
	cti.Store
	one, many atomic.Int64
}

func (r *readCounter) GetUser(ctx context.Context, tenantID, userID string) (*cti.User, error) {
	r.one.Add(1)
	return r.Store.GetUser(ctx, tenantID, userID)
}

func (r *readCounter) GetUsersAccess(ctx context.Context, tenantID string, ids []string) ([]cti.UserAccess, error) {
	r.many.Add(1)
	return r.Store.GetUsersAccess(ctx, tenantID, ids)
}

// Open agent sessions' users are read for their rechecks in one query
// per tenant, not one each; a change made by another process (here
// straight in the database) still reaches the rechecks within the
// cache's lifetime.
func TestOpenSessionsAccessIsRefreshedTogether(t *testing.T) {
	ctx := context.Background()
	st := tenantStore(t)
	var ps []cti.Principal
	for i := range 5 {
		ext := fmt.Sprint(1001 + i)
		u := &cti.User{TenantID: "demo", Username: "agent" + ext, Extension: ext, Role: cti.RoleAgent}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, cti.Principal{TenantID: "demo", UserID: u.ID, Username: u.Username, Extension: ext, Role: cti.RoleAgent})
	}
	rc := &readCounter{Store: st}
	const ttl = 400 * time.Millisecond
	svc := cti.New(cti.Config{AccessCacheTTL: ttl}, rc, &ctitest.Media{}, nil)
	t.Cleanup(svc.Close)
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if _, err := svc.Connect(ctx, p, false); err != nil {
			t.Fatal(err)
		}
	}
	check := func() (refused int) {
		for _, p := range ps {
			if err := svc.CheckAccess(ctx, p); errors.Is(err, cti.ErrUserDisabled) {
				refused++
			} else if err != nil {
				t.Fatalf("%s: %v", p.Username, err)
			}
		}
		return refused
	}
	// The first refresh fills the cache; from then on five users'
	// checks every 50 ms for 2 s (40 rounds) read nothing one by one.
	ctitest.Eventually(t, "the first refresh", func() bool { return rc.many.Load() > 0 })
	before := rc.one.Load()
	for range 40 {
		check()
		time.Sleep(50 * time.Millisecond)
	}
	// A late tick on a busy machine may let an entry expire once.
	if one := rc.one.Load() - before; one > int64(len(ps)) {
		t.Errorf("200 checks of 5 open sessions read users one by one %d times; want them refreshed together", one)
	}
	if many := rc.many.Load(); many < 3 {
		t.Errorf("%d refreshes in 2 s; want one per %v", many, ttl/2)
	}

	u, err := st.GetUser(ctx, "demo", ps[2].UserID)
	if err != nil {
		t.Fatal(err)
	}
	u.DisabledAt = time.Now().UTC()
	if err := st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	ctitest.Eventually(t, "the disabled user's check to fail", func() bool { return check() == 1 })
}

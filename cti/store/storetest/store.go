package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlstore"
)

// Seed creates tenants a and b, each with an agent "alice" on extension 1001,
// so every lookup below has a same-named twin in the other tenant.
func Seed(t *testing.T, s *sqlstore.Store) (a, b *cti.User) {
	t.Helper()
	ctx := t.Context()
	for _, id := range []string{"a", "b"} {
		if err := s.CreateTenant(ctx, &cti.Tenant{ID: id, Name: "Tenant " + id}); err != nil {
			t.Fatalf("CreateTenant %s: %v", id, err)
		}
	}
	a = &cti.User{TenantID: "a", Username: "alice", DisplayName: "Alice A", Extension: "1001", Role: cti.RoleAgent, PasswordHash: "h"}
	b = &cti.User{TenantID: "b", Username: "alice", DisplayName: "Alice B", Extension: "1001", Role: cti.RoleAgent, PasswordHash: "h"}
	for _, u := range []*cti.User{a, b} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser %s: %v", u.TenantID, err)
		}
	}
	return a, b
}

func wantKind(t *testing.T, err error, k cti.Kind) {
	t.Helper()
	if got := cti.ErrorKind(err); err == nil || got != k {
		t.Fatalf("want %s error, got %v (kind %s)", k, err, got)
	}
}

func testTenants(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx := t.Context()

	created := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
	for _, tn := range []*cti.Tenant{{ID: "zeta", Name: "Zeta"}, {ID: "demo", Name: "Demo", CreatedAt: created}} {
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatalf("CreateTenant: %v", err)
		}
	}
	got, err := s.GetTenant(ctx, "demo")
	if err != nil {
		t.Fatalf("GetTenant: %v", err)
	}
	if got.Name != "Demo" || !got.CreatedAt.Equal(created) {
		t.Fatalf("GetTenant = %+v", got)
	}
	_, err = s.GetTenant(ctx, "nope")
	wantKind(t, err, cti.KindNotFound)
	wantKind(t, s.CreateTenant(ctx, &cti.Tenant{ID: "demo"}), cti.KindConflict)
	wantKind(t, s.CreateTenant(ctx, &cti.Tenant{}), cti.KindInvalid)

	list, err := s.ListTenants(ctx)
	if err != nil {
		t.Fatalf("ListTenants: %v", err)
	}
	if len(list) != 2 || list[0].ID != "demo" || list[1].ID != "zeta" || list[1].CreatedAt.IsZero() {
		t.Fatalf("ListTenants = %+v", list)
	}
}

func testUsers(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx := t.Context()
	a, _ := Seed(t, s)

	if !strings.HasPrefix(a.ID, "usr_") || a.CreatedAt.IsZero() {
		t.Fatalf("generated fields not set: %+v", a)
	}
	got, err := s.GetUser(ctx, "a", a.ID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("GetUser = %+v, want %+v", got, a)
	}

	admin := &cti.User{TenantID: "a", Username: "root", Role: cti.RoleAdmin}
	api := &cti.User{TenantID: "a", Username: "crm", Role: cti.RoleAPI}
	for _, u := range []*cti.User{admin, api} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatalf("users without extension must coexist: %v", err)
		}
	}

	for _, login := range []string{"alice", "ALICE", "1001"} {
		u, err := s.FindUserByLogin(ctx, "a", login)
		if err != nil || u.ID != a.ID {
			t.Fatalf("FindUserByLogin(%q) = %+v, %v", login, u, err)
		}
	}
	u, err := s.GetUserByExtension(ctx, "a", "1001")
	if err != nil || u.ID != a.ID {
		t.Fatalf("GetUserByExtension = %+v, %v", u, err)
	}
	_, err = s.GetUserByExtension(ctx, "a", "")
	wantKind(t, err, cti.KindNotFound)
	_, err = s.FindUserByLogin(ctx, "a", "")
	wantKind(t, err, cti.KindNotFound)

	// A username that equals someone else's extension logs in as its owner.
	numeric := &cti.User{TenantID: "a", Username: "1001", Role: cti.RoleSupervisor}
	if err := s.CreateUser(ctx, numeric); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if u, err := s.FindUserByLogin(ctx, "a", "1001"); err != nil || u.ID != numeric.ID {
		t.Fatalf("username should win over extension: %+v, %v", u, err)
	}

	list, err := s.ListUsers(ctx, "a")
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	if len(list) != 4 {
		t.Fatalf("ListUsers = %d users, want 4", len(list))
	}
	if list, _ := s.ListUsers(ctx, "missing"); list == nil || len(list) != 0 {
		t.Fatalf("ListUsers(missing) = %#v, want empty", list)
	}
}

func testUserErrors(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx := t.Context()
	a, _ := Seed(t, s)

	wantKind(t, s.CreateUser(ctx, &cti.User{TenantID: "a", Username: "Alice", Role: cti.RoleAgent}), cti.KindConflict)
	wantKind(t, s.CreateUser(ctx, &cti.User{TenantID: "a", Username: "bob", Extension: "1001", Role: cti.RoleAgent}), cti.KindConflict)
	wantKind(t, s.CreateUser(ctx, &cti.User{ID: a.ID, TenantID: "a", Username: "carol", Role: cti.RoleAgent}), cti.KindConflict)
	wantKind(t, s.CreateUser(ctx, &cti.User{TenantID: "ghost", Username: "x", Role: cti.RoleAgent}), cti.KindNotFound)
	wantKind(t, s.CreateUser(ctx, &cti.User{TenantID: "a", Username: "x", Role: "root"}), cti.KindInvalid)
	wantKind(t, s.CreateUser(ctx, &cti.User{TenantID: "a", Role: cti.RoleAgent}), cti.KindInvalid)
}

func testTenantScoping(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx := t.Context()
	_, b := Seed(t, s)
	only := &cti.User{TenantID: "b", Username: "bob", Extension: "2002", Role: cti.RoleAgent}
	if err := s.CreateUser(ctx, only); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}

	checks := map[string]func() (*cti.User, error){
		"GetUser(b's alice)":     func() (*cti.User, error) { return s.GetUser(ctx, "a", b.ID) },
		"GetUser(bob)":           func() (*cti.User, error) { return s.GetUser(ctx, "a", only.ID) },
		"FindUserByLogin(bob)":   func() (*cti.User, error) { return s.FindUserByLogin(ctx, "a", "bob") },
		"FindUserByLogin(2002)":  func() (*cti.User, error) { return s.FindUserByLogin(ctx, "a", "2002") },
		"GetUserByExtension":     func() (*cti.User, error) { return s.GetUserByExtension(ctx, "a", "2002") },
		"FindUserByLogin(alice)": func() (*cti.User, error) { return s.FindUserByLogin(ctx, "a", "alice") },
		"GetUserByExtension1001": func() (*cti.User, error) { return s.GetUserByExtension(ctx, "a", "1001") },
	}
	for name, f := range checks {
		u, err := f()
		if err == nil && u.TenantID == "a" && u.ID != b.ID && u.ID != only.ID {
			continue // tenant a's own alice is a legitimate answer
		}
		if cti.ErrorKind(err) != cti.KindNotFound {
			t.Errorf("%s leaked across tenants: %+v, %v", name, u, err)
		}
	}
	list, err := s.ListUsers(ctx, "a")
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	for _, u := range list {
		if u.TenantID != "a" {
			t.Errorf("ListUsers(a) returned %+v", u)
		}
	}

	// GetUsersAccess answers for tenant a's own only, however many IDs it
	// is asked for (more than one query's worth).
	ids := []string{b.ID, only.ID}
	for i := range 1200 {
		ids = append(ids, fmt.Sprintf("usr_missing%d", i))
	}
	a, err := s.FindUserByLogin(ctx, "a", "alice")
	if err != nil {
		t.Fatalf("FindUserByLogin: %v", err)
	}
	ids = append(ids, a.ID)
	got, err := s.GetUsersAccess(ctx, "a", ids)
	if err != nil {
		t.Fatalf("GetUsersAccess: %v", err)
	}
	if want := a.Access(); len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("GetUsersAccess(a, b's users, 1200 unknown, a's alice) = %+v; want a's alice alone, %+v", got, want)
	}

	// Tokens: a token of tenant b cannot be consumed via a, nor created for
	// b's user under tenant a.
	tok := &cti.RefreshToken{TenantID: "b", UserID: only.ID, Hash: "hb", ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.CreateRefreshToken(ctx, tok); err != nil {
		t.Fatalf("CreateRefreshToken: %v", err)
	}
	_, err = s.ConsumeRefreshToken(ctx, "a", "hb")
	wantKind(t, err, cti.KindNotFound)
	if _, err := s.ConsumeRefreshToken(ctx, "b", "hb"); err != nil {
		t.Fatalf("wrong-tenant consume must not burn the token: %v", err)
	}
	wantKind(t, s.CreateRefreshToken(ctx, &cti.RefreshToken{TenantID: "a", UserID: only.ID, Hash: "hx",
		ExpiresAt: time.Now().Add(time.Hour)}), cti.KindNotFound)
}

func testRefreshTokens(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx := t.Context()
	a, _ := Seed(t, s)

	exp := time.Now().Add(time.Hour).UTC()
	tok := &cti.RefreshToken{TenantID: "a", UserID: a.ID, Hash: "h1", ExpiresAt: exp}
	if err := s.CreateRefreshToken(ctx, tok); err != nil {
		t.Fatalf("CreateRefreshToken: %v", err)
	}
	if !strings.HasPrefix(tok.ID, "rtk_") {
		t.Fatalf("token ID = %q", tok.ID)
	}
	wantKind(t, s.CreateRefreshToken(ctx, &cti.RefreshToken{TenantID: "a", UserID: a.ID, Hash: "h1", ExpiresAt: exp}), cti.KindConflict)

	got, err := s.ConsumeRefreshToken(ctx, "a", "h1")
	if err != nil {
		t.Fatalf("ConsumeRefreshToken: %v", err)
	}
	if got.ID != tok.ID || got.UserID != a.ID || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("consumed %+v, want %+v", got, tok)
	}
	_, err = s.ConsumeRefreshToken(ctx, "a", "h1")
	wantKind(t, err, cti.KindNotFound)

	old := &cti.RefreshToken{TenantID: "a", UserID: a.ID, Hash: "h2", ExpiresAt: time.Now().Add(-time.Second)}
	if err := s.CreateRefreshToken(ctx, old); err != nil {
		t.Fatalf("CreateRefreshToken: %v", err)
	}
	_, err = s.ConsumeRefreshToken(ctx, "a", "h2")
	wantKind(t, err, cti.KindNotFound)

	for i, d := range []time.Duration{-time.Minute, -time.Second, time.Hour} {
		tk := &cti.RefreshToken{TenantID: "a", UserID: a.ID, Hash: fmt.Sprint("p", i), ExpiresAt: time.Now().Add(d)}
		if err := s.CreateRefreshToken(ctx, tk); err != nil {
			t.Fatalf("CreateRefreshToken: %v", err)
		}
	}
	n, err := s.DeleteExpiredRefreshTokens(ctx, time.Now())
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredRefreshTokens = %d, %v; want 2", n, err)
	}
	if _, err := s.ConsumeRefreshToken(ctx, "a", "p2"); err != nil {
		t.Fatalf("live token pruned: %v", err)
	}
}

func testConcurrentWriters(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx := t.Context()
	if err := s.CreateTenant(ctx, &cti.Tenant{ID: "demo"}); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			u := &cti.User{TenantID: "demo", Username: fmt.Sprint("agent", i), Extension: fmt.Sprint(1000 + i), Role: cti.RoleAgent}
			if err := s.CreateUser(ctx, u); err != nil {
				errs <- err
				return
			}
			// Interleave reads so the reader pool runs alongside the writer.
			if _, err := s.FindUserByLogin(ctx, "demo", u.Extension); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	list, err := s.ListUsers(ctx, "demo")
	if err != nil || len(list) != n {
		t.Fatalf("ListUsers = %d, %v; want %d", len(list), err, n)
	}
}

func testCanceledContext(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.CreateTenant(ctx, &cti.Tenant{ID: "x"}); err == nil {
		t.Fatal("CreateTenant with canceled context succeeded")
	}
}

func testRefreshFamilyReplayAndUserRevocation(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx := t.Context()
	a, _ := Seed(t, s)
	exp := time.Now().Add(time.Hour)

	first := &cti.RefreshToken{TenantID: "a", UserID: a.ID, Hash: "f1", ExpiresAt: exp}
	if err := s.CreateRefreshToken(ctx, first); err != nil {
		t.Fatal(err)
	}
	if first.FamilyID != first.ID {
		t.Fatalf("a new family is named after its first token: %+v", first)
	}
	if _, err := s.ConsumeRefreshToken(ctx, "a", "f1"); err != nil {
		t.Fatal(err)
	}
	second := &cti.RefreshToken{TenantID: "a", UserID: a.ID, FamilyID: first.FamilyID, Hash: "f2", ExpiresAt: exp}
	other := &cti.RefreshToken{TenantID: "a", UserID: a.ID, Hash: "o1", ExpiresAt: exp}
	for _, tk := range []*cti.RefreshToken{second, other} {
		if err := s.CreateRefreshToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	// Replaying the used first token revokes its successor too.
	_, err := s.ConsumeRefreshToken(ctx, "a", "f1")
	wantKind(t, err, cti.KindNotFound)
	if !errors.Is(err, cti.ErrRefreshTokenReused) {
		t.Fatalf("replay: %v, want ErrRefreshTokenReused", err)
	}
	_, err = s.ConsumeRefreshToken(ctx, "a", "f2")
	wantKind(t, err, cti.KindNotFound)

	// Logout revokes one family only.
	if err := s.RevokeRefreshFamily(ctx, "a", "o1"); err != nil {
		t.Fatal(err)
	}
	_, err = s.ConsumeRefreshToken(ctx, "a", "o1")
	wantKind(t, err, cti.KindNotFound)

	live := &cti.RefreshToken{TenantID: "a", UserID: a.ID, Hash: "l1", ExpiresAt: exp}
	if err := s.CreateRefreshToken(ctx, live); err != nil {
		t.Fatal(err)
	}
	epoch, err := s.RevokeUserTokens(ctx, "a", a.ID)
	if err != nil || epoch != 1 {
		t.Fatalf("RevokeUserTokens = %d, %v; want epoch 1", epoch, err)
	}
	_, err = s.ConsumeRefreshToken(ctx, "a", "l1")
	wantKind(t, err, cti.KindNotFound)
	u, err := s.GetUser(ctx, "a", a.ID)
	if err != nil || u.TokenEpoch != 1 || u.Disabled() {
		t.Fatalf("user after revocation: %+v, %v", u, err)
	}
	_, err = s.RevokeUserTokens(ctx, "b", a.ID) // another tenant's user
	wantKind(t, err, cti.KindNotFound)
}

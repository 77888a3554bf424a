package storetest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// testUsersAccess: what the access check reads of a user agrees with
// the whole row, for every field it checks: disabled or not, teams or
// none, an administrator with the super-admin flag, a bumped epoch.
func testUsersAccess(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx := t.Context()
	Seed(t, s)
	users := []*cti.User{
		{TenantID: "a", Username: "plain", Extension: "2101", Role: cti.RoleAgent},
		{TenantID: "a", Username: "teams", Extension: "2102", Role: cti.RoleSupervisor, Teams: []string{"Ventes Export", "サポート"}},
		{TenantID: "a", Username: "gone.quiet", Extension: "2103", Role: cti.RoleAgent, DisabledAt: time.Now().UTC()},
		{TenantID: "a", Username: "root", Role: cti.RoleAdmin, SuperAdmin: true},
	}
	var ids []string
	for _, u := range users {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	if _, err := s.RevokeUserTokens(ctx, "a", users[0].ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetUsersAccess(ctx, "a", ids)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]cti.UserAccess{}
	for _, a := range got {
		byID[a.ID] = a
	}
	for _, u := range users {
		full, err := s.GetUser(ctx, "a", u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := full.Access(); !reflect.DeepEqual(byID[u.ID], want) {
			t.Errorf("access of %s = %+v; the row says %+v", u.Username, byID[u.ID], want)
		}
	}
	if a := byID[users[0].ID]; a.TokenEpoch != 1 {
		t.Errorf("epoch after a revocation = %d; want 1", a.TokenEpoch)
	}
	if !byID[users[2].ID].Disabled || byID[users[1].ID].Disabled {
		t.Errorf("disabled flags: %+v", got)
	}
}

func testUsersPageFiltersAndCursor(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx := t.Context()
	Seed(t, s)
	for i := range 7 {
		team := "red"
		if i%2 == 1 {
			team = "blue"
		}
		u := &cti.User{TenantID: "a", Username: fmt.Sprintf("u%02d", i), Extension: fmt.Sprintf("20%02d", i), Role: cti.RoleAgent,
			Teams: []string{team}, Skills: []cti.Skill{{Name: "French", Level: 10 * (i + 1)}}}
		if i == 6 {
			u.DisabledAt = time.Now().UTC()
		}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	cursor := ""
	for pages := 0; ; pages++ {
		users, next, err := s.ListUsersPage(ctx, "a", cti.UserFilter{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			if u.TenantID != "a" {
				t.Fatalf("page leaked tenant %s", u.TenantID)
			}
			all = append(all, u.Username)
		}
		if next == "" {
			break
		}
		cursor = next
		if pages > 5 {
			t.Fatal("cursor does not advance")
		}
	}
	want := []string{"alice", "u00", "u01", "u02", "u03", "u04", "u05", "u06"}
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("paged users = %v, want %v", all, want)
	}
	count := func(f cti.UserFilter) int {
		t.Helper()
		users, _, err := s.ListUsersPage(ctx, "a", f)
		if err != nil {
			t.Fatal(err)
		}
		return len(users)
	}
	no := false
	for name, c := range map[string]struct {
		f    cti.UserFilter
		want int
	}{
		"team":       {cti.UserFilter{Team: "blue"}, 3},
		"teams":      {cti.UserFilter{Teams: []string{"red", "green"}}, 4},
		"none":       {cti.UserFilter{Teams: []string{}}, 0},
		"skill":      {cti.UserFilter{Skill: "french"}, 7},
		"query":      {cti.UserFilter{Query: "200"}, 7},
		"like-safe":  {cti.UserFilter{Query: "u_"}, 0},
		"enabled":    {cti.UserFilter{Disabled: &no}, 7},
		"role-admin": {cti.UserFilter{Role: cti.RoleAdmin}, 0},
	} {
		if got := count(c.f); got != c.want {
			t.Errorf("%s: %d users, want %d", name, got, c.want)
		}
	}
}

func testNumbersAreGlobalButScoped(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx := t.Context()
	Seed(t, s)
	n := &cti.Number{TenantID: "a", Number: "+3612345678", Route: cti.RouteExtension, Extension: "1001"}
	if err := s.CreateNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	dup := &cti.Number{TenantID: "b", Number: "3612345678", Route: cti.RouteExtension, Extension: "1001"}
	if err := s.CreateNumber(ctx, dup); cti.ErrorKind(err) != cti.KindConflict {
		t.Fatalf("same DID in another tenant: %v, want conflict", err)
	}
	got, err := s.FindNumber(ctx, "3612345678")
	if err != nil || got.ID != n.ID || got.TenantID != "a" {
		t.Fatalf("FindNumber = %+v, %v", got, err)
	}
	if _, err := s.GetNumber(ctx, "b", n.ID); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("GetNumber from tenant b: %v, want not found", err)
	}
	if err := s.DeleteNumber(ctx, "b", n.ID); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("DeleteNumber from tenant b: %v, want not found", err)
	}
	n.Route, n.Extension = cti.RouteCRM, "1001"
	if err := s.UpdateNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.ListNumbers(ctx, "b"); len(list) != 0 {
		t.Fatalf("tenant b lists %v", list)
	}
	if list, _ := s.ListNumbers(ctx, "a"); len(list) != 1 || list[0].Route != cti.RouteCRM {
		t.Fatalf("tenant a lists %+v", list)
	}
}

func testSettingsRoundTripAndAudit(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx := t.Context()
	Seed(t, s)
	if _, err := s.GetSettings(ctx, "a"); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("unsaved settings: %v", err)
	}
	want := cti.TenantSettings{DefaultRegion: "HU", ScreenPop: cti.ScreenPopBoth, LookupTimeout: 500 * time.Millisecond,
		RouteTimeout: 2 * time.Second, Record: true, RecordingDelivery: cti.RecordingInline,
		CRM:            cti.CRMSettings{LookupURL: "https://crm.example/lookup", APIKey: "k"},
		AllowedOrigins: []string{"https://crm.example"}, WrapUp: 15 * time.Second, AwayReasons: []string{"lunch"},
		DialRule: cti.DialRule{AllowPrefixes: []string{"+36"}, MaxDigits: 12}}
	if err := s.PutSettings(ctx, "a", want); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSettings(ctx, "a")
	if err != nil || !reflect.DeepEqual(*got, want) {
		t.Fatalf("GetSettings = %+v, %v\nwant %+v", got, err, want)
	}
	if _, err := s.GetSettings(ctx, "b"); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("tenant b sees settings: %v", err)
	}
	for i := range 5 {
		e := &cti.AuditEntry{TenantID: "a", ActorID: "usr_x", ActorName: "root", Action: "user.create",
			Target: fmt.Sprint(i), Details: map[string]any{"i": i}}
		if err := s.AppendAudit(ctx, e); err != nil || e.ID == "" {
			t.Fatalf("AppendAudit: %v %q", err, e.ID)
		}
	}
	_ = s.AppendAudit(ctx, &cti.AuditEntry{TenantID: "b", Action: "user.create", Target: "b"})
	var targets []string
	cursor := ""
	for {
		page, next, err := s.ListAudit(ctx, "a", cti.AuditFilter{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			targets = append(targets, e.Target)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !reflect.DeepEqual(targets, []string{"4", "3", "2", "1", "0"}) {
		t.Fatalf("audit newest first = %v", targets)
	}
}

// With a secret key, CRM credentials are not in the database file in the
// clear, read back intact, do not decrypt under another tenant, and need
// the key to be read at all.
func testSettingsSecretsEncryptedAtRest(t *testing.T, db NewDB) {
	open := db(t)
	s := open(t)
	ctx := t.Context()
	Seed(t, s)
	key := make([]byte, 32)
	key[0] = 7
	if err := s.SetSecretKey(key); err != nil {
		t.Fatal(err)
	}
	in := cti.TenantSettings{CRM: cti.CRMSettings{LookupURL: "https://crm.example", APIKey: "super-secret-api-key", Username: "", Password: ""}}
	if err := s.PutSettings(ctx, "a", in); err != nil {
		t.Fatal(err)
	}
	var raw string
	if err := s.Reader().QueryRowContext(ctx, `SELECT settings FROM tenant_settings WHERE tenant_id = 'a'`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw, "super-secret") || !strings.Contains(raw, "enc1:") {
		t.Fatalf("stored settings %s", raw)
	}
	got, err := s.GetSettings(ctx, "a")
	if err != nil || got.CRM.APIKey != "super-secret-api-key" {
		t.Fatalf("read back %+v %v", got, err)
	}
	// Moved to tenant b's row, the ciphertext does not open.
	if _, err := s.Writer().ExecContext(ctx, `INSERT INTO tenant_settings (tenant_id, settings, updated_at) VALUES ('b', ?, '')`, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSettings(ctx, "b"); err == nil {
		t.Fatal("a secret copied to another tenant decrypted")
	}
	// Without the key the secret cannot be read.
	s2 := open(t)
	if _, err := s2.GetSettings(ctx, "a"); err == nil || !strings.Contains(err.Error(), "secrets.key") {
		t.Fatalf("read without the key: %v", err)
	}
}

func testTrunksOrderAndSealedPassword(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx := t.Context()
	if err := s.SetSecretKey(make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"first", "second"} {
		if err := s.CreateTrunk(ctx, &cti.Trunk{Name: name, Address: "127.0.0.1:5060", Transport: "udp", Password: "pw-" + name}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateTrunk(ctx, &cti.Trunk{Name: "first", Address: "x"}); cti.ErrorKind(err) != cti.KindConflict {
		t.Fatalf("duplicate name: %v", err)
	}
	var raw string
	_ = s.Reader().QueryRowContext(ctx, `SELECT password FROM trunks WHERE name = 'first'`).Scan(&raw)
	if !strings.HasPrefix(raw, "enc1:") {
		t.Fatalf("stored password %q", raw)
	}
	ts, err := s.ListTrunks(ctx)
	if err != nil || len(ts) != 2 || ts[0].Name != "first" || ts[0].Password != "pw-first" || ts[1].AllowFrom == nil {
		t.Fatalf("trunks %+v %v", ts, err)
	}
}

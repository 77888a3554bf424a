package cti_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

func adminOf(t *testing.T, svc *cti.Service) cti.Principal {
	t.Helper()
	u, err := svc.CreateUser(context.Background(), cti.SystemPrincipal("demo", "test"),
		cti.UserInput{Username: "boss", Role: cti.RoleAdmin, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	return cti.Principal{TenantID: "demo", UserID: u.ID, Username: u.Username, Role: cti.RoleAdmin}
}

// Disabling a user ends their agent session at once and refuses them
// from then on; enabling lets them sign in again (what they held before
// stays revoked).
func TestDisableEndsSessionsAndRefuses(t *testing.T) {
	svc, _ := newService(t, cti.Config{})
	ctx := context.Background()
	admin := adminOf(t, svc)
	u, err := svc.CreateUser(ctx, admin, cti.UserInput{Username: "dora", Extension: "1100", Role: cti.RoleAgent})
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Password) < cti.MinPasswordLength {
		t.Fatalf("generated password %q", u.Password)
	}
	p := cti.Principal{TenantID: "demo", UserID: u.ID, Username: u.Username, Extension: "1100", Role: cti.RoleAgent}
	if _, err := svc.Authorize(ctx, p); err != nil {
		t.Fatalf("active user refused: %v", err)
	}
	ss, err := svc.Connect(ctx, p, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetUserDisabled(ctx, admin, u.ID, true); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ss.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("the disabled user's session is still open")
	}
	if _, err := svc.Authorize(ctx, p); cti.ErrorKind(err) != cti.KindUnauthorized {
		t.Fatalf("disabled user authorized: %v", err)
	}
	if _, err := svc.SetUserDisabled(ctx, admin, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authorize(ctx, p); !errors.Is(err, cti.ErrRevoked) {
		t.Fatalf("a credential from before the disable: %v, want revoked", err)
	}
	stored, err := svc.UserByID(ctx, "demo", u.ID)
	if err != nil {
		t.Fatal(err)
	}
	p.TokenEpoch = stored.TokenEpoch // as a new sign-in issues it
	if _, err := svc.Authorize(ctx, p); err != nil {
		t.Fatalf("re-enabled user refused: %v", err)
	}
	if _, err := svc.SetUserDisabled(ctx, admin, admin.UserID, true); cti.ErrorKind(err) != cti.KindConflict {
		t.Fatalf("an admin disabled themself: %v", err)
	}
}

func TestPasswordPolicy(t *testing.T) {
	for pw, ok := range map[string]bool{
		"short":                     false,
		"aaaaaaaaaaaaaaaa":          false,
		"my name is dora, hi there": false, // contains the username
		"correct horse battery":     true,
		"ünïcödé pässwörd":          true,
	} {
		if err := cti.CheckPassword(pw, "dora"); (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", pw, err, ok)
		}
	}
}

// Settings saved for a tenant apply to the next read, and only to it.
func TestSettingsTakeEffectAtOnce(t *testing.T) {
	svc, _ := newService(t, cti.Config{WrapUp: 5 * time.Second, AwayReasons: []string{"lunch"}})
	ctx := context.Background()
	admin := adminOf(t, svc)
	if got := svc.TenantSettings("demo"); got.WrapUp != 5*time.Second || len(got.AwayReasons) != 1 {
		t.Fatalf("config settings not used before any were saved: %+v", got)
	}
	_, err := svc.UpdateSettings(ctx, admin, func(s *cti.TenantSettings) {
		s.WrapUp = 20 * time.Second
		s.AllowedOrigins = []string{"HTTPS://CRM.example/"}
		s.DialRule.AllowCountries = []string{"hu"}
	})
	if err != nil {
		t.Fatal(err)
	}
	got := svc.TenantSettings("demo")
	if got.WrapUp != 20*time.Second || got.DialRule.AllowCountries[0] != "HU" || !svc.TenantAllowsOrigin("demo", "https://crm.example") {
		t.Fatalf("settings after update: %+v", got)
	}
	if svc.TenantAllowsOrigin("other", "https://crm.example") {
		t.Fatal("another tenant allows the origin")
	}
	_, err = svc.UpdateSettings(ctx, admin, func(s *cti.TenantSettings) { s.CRM.LookupURL = "not a url"; s.WrapUp = -1 })
	if f := cti.ErrorFields(err); len(f) != 2 {
		t.Fatalf("invalid settings: %v (fields %+v)", err, f)
	}
	entries, _, err := svc.ListAudit(ctx, admin, cti.AuditFilter{Action: "settings.update"})
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit: %+v %v", entries, err)
	}
	if changed := entries[0].Details["changed"]; !strings.Contains(strings.Join(toStrings(changed), ","), "WrapUp") {
		t.Fatalf("audit details %+v", entries[0].Details)
	}
}

func toStrings(v any) []string {
	var out []string
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		for _, s := range x {
			out = append(out, s.(string))
		}
	}
	return out
}

// A CSV import is all or nothing, and the export reads back what was
// imported (with spreadsheet formulas defused).
func TestCSVImportExport(t *testing.T) {
	svc, _ := newService(t, cti.Config{})
	ctx := context.Background()
	admin := adminOf(t, svc)
	bad := "username,extension,role\nok,2001,agent\nbad,1001,agent\n" // 1001 is taken
	if _, err := svc.ImportUsersCSV(ctx, admin, strings.NewReader(bad)); cti.ErrorKind(err) != cti.KindInvalid ||
		!strings.Contains(cti.ErrorFields(err)[0].Field, "row 3") {
		t.Fatalf("import with a taken extension: %v", err)
	}
	if users, _, _ := svc.ListUsers(ctx, admin, cti.UserFilter{Query: "ok"}); len(users) != 0 {
		t.Fatalf("a failed import created users: %+v", users)
	}
	good := "\ufeffUsername,DisplayName,Extension,Role,Teams,Skills\nann,=HYPERLINK(1),2001,agent,red;blue,french:80;german:20\nsue,Sue,,supervisor,red,\n"
	users, err := svc.ImportUsersCSV(ctx, admin, strings.NewReader(good))
	if err != nil || len(users) != 2 {
		t.Fatalf("import: %v %+v", err, users)
	}
	if users[0].Skills[0] != (cti.Skill{Name: "french", Level: 80}) || len(users[0].Teams) != 2 || users[1].Extension != "" {
		t.Fatalf("imported %+v", users)
	}
	var out bytes.Buffer
	if err := svc.ExportUsersCSV(ctx, admin, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ann,'=HYPERLINK(1),2001,agent,red;blue,french:80;german:20,false") {
		t.Fatalf("export:\n%s", out.String())
	}
}

// Numbers set up by admins route calls; other tenants' numbers are
// neither visible nor changeable.
func TestNumbersScopedAndRouted(t *testing.T) {
	svc, _ := newService(t, cti.Config{})
	ctx := context.Background()
	admin := adminOf(t, svc)
	n, err := svc.CreateNumber(ctx, admin, cti.NumberInput{Number: "+36 1 555 0000", Extension: "1001"})
	if err != nil || n.Number != "+3615550000" || n.Route != cti.RouteExtension {
		t.Fatalf("create: %+v %v", n, err)
	}
	other := cti.Principal{TenantID: "other", UserID: "x", Role: cti.RoleAdmin}
	if _, err := svc.GetNumber(ctx, other, n.ID); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("other tenant reads the number: %v", err)
	}
	if err := svc.DeleteNumber(ctx, other, n.ID); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("other tenant deletes the number: %v", err)
	}
	agent := cti.Principal{TenantID: "demo", UserID: "u", Role: cti.RoleAgent}
	if _, err := svc.CreateNumber(ctx, agent, cti.NumberInput{Number: "+3615550001", Extension: "1001"}); cti.ErrorKind(err) != cti.KindForbidden {
		t.Fatalf("agent creates a number: %v", err)
	}
	if _, err := svc.CreateNumber(ctx, admin, cti.NumberInput{Number: "+3615550002", Route: cti.RouteQueue, Extension: "1001"}); len(cti.ErrorFields(err)) != 1 {
		t.Fatalf("queue route without a target: %v", err)
	}
}

// An offer the media engine cannot answer is refused with its reason.
func TestOfferRefusedWithItsReason(t *testing.T) {
	svc, _ := newService(t, cti.Config{})
	ss, err := svc.Connect(t.Context(), principal("1001"), false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ss.HandleOffer(t.Context(), "bad")
	if cti.ErrorKind(err) != cti.KindInvalid || !strings.Contains(cti.ErrorMessage(err), "ctitest: bad offer") {
		t.Fatalf("bad offer: %v (%q), want invalid with the engine's reason", err, cti.ErrorMessage(err))
	}
}

package server

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// adminEnv adds to the test tenant a super-admin, a supervisor of team
// red (alice's team), an api user and a number, and a second tenant with
// its own admin, agent and number: the cast of the role matrix.
type adminEnv struct {
	*env
	tokens map[string]string // role name -> bearer token
	ids    map[string]string
}

func newAdminEnv(t *testing.T) *adminEnv {
	e := &adminEnv{env: newEnv(t), tokens: map[string]string{}, ids: map[string]string{}}
	ctx := t.Context()
	hash, _ := testHash()
	if err := e.store.CreateTenant(ctx, &cti.Tenant{ID: "other", Name: "Other"}); err != nil {
		t.Fatal(err)
	}
	alice := e.users["alice"]
	alice.Teams = []string{"red"}
	if err := e.store.UpdateUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	for name, u := range map[string]*cti.User{
		"super":  {TenantID: testTenant, Username: "root", Role: cti.RoleAdmin, SuperAdmin: true},
		"admin":  e.users["admin"],
		"sup":    {TenantID: testTenant, Username: "sue", Role: cti.RoleSupervisor, Teams: []string{"red"}},
		"agent":  alice,
		"api":    {TenantID: testTenant, Username: "crm", Role: cti.RoleAPI},
		"oadmin": {TenantID: "other", Username: "oadmin", Role: cti.RoleAdmin},
		"oagent": {TenantID: "other", Username: "oagent", Extension: "1001", Role: cti.RoleAgent},
	} {
		if u.ID == "" {
			u.PasswordHash = hash
			if err := e.store.CreateUser(ctx, u); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		tok, _, err := e.srv.tokens.issue(principalFor(u))
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[name] = tok
		e.ids[name] = u.ID
	}
	for tenant, num := range map[string]string{testTenant: "+3612345001", "other": "+3612345002"} {
		n, err := e.svc.CreateNumber(ctx, cti.SystemPrincipal(tenant, "test"), cti.NumberInput{Number: num, Extension: "1001"})
		if err != nil {
			t.Fatal(err)
		}
		e.ids["num:"+tenant] = n.ID
	}
	return e
}

func (e *adminEnv) as(role, method, path string, body any, header ...string) (int, []byte) {
	e.t.Helper()
	resp, b := e.do(method, path, body, append([]string{"Authorization", "Bearer " + e.tokens[role]}, header...)...)
	return resp.StatusCode, b
}

// Every admin route, for every role and for the other tenant's admin:
// who may, who is refused (403), and to whom another tenant's object
// does not exist (404). Writes by an allowed role run last.
func TestAdminRouteRoleMatrix(t *testing.T) {
	e := newAdminEnv(t)
	ctx := t.Context()
	tmp, err := e.svc.CreateUser(ctx, cti.SystemPrincipal(testTenant, "test"), cti.UserInput{Username: "tmp", Extension: "1999", Role: cti.RoleAgent})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateTenant(ctx, cti.SystemPrincipal(testTenant, "test"), cti.NewTenant{ID: "doomed", Name: "Doomed"}); err != nil {
		t.Fatal(err)
	}
	alice, bob, num := e.ids["agent"], e.users["bob"].ID, e.ids["num:"+testTenant]
	trk, err := e.svc.CreateTrunk(ctx, cti.SystemPrincipal(testTenant, "test"), cti.Trunk{Name: "carrier", Address: "127.0.0.1:5999", AllowFrom: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	trunkBody := map[string]any{"name": "carrier", "address": "127.0.0.1:5998"}
	csvBody := "username,extension,role\nimported1,3001,agent\n"
	type call struct {
		method, path string
		body         any
		header       []string
	}
	cases := []struct {
		call
		allowed map[string]int // role -> status
		denied  map[string]int
	}{
		{call{"GET", "/api/v1/users", nil, nil}, map[string]int{"admin": 200, "sup": 200, "super": 200}, map[string]int{"agent": 403, "api": 403}},
		{call{"POST", "/api/v1/users", map[string]any{"username": "newbie", "extension": "3002", "role": "agent"}, nil}, map[string]int{"admin": 201}, map[string]int{"sup": 403, "agent": 403, "api": 403}},
		{call{"GET", "/api/v1/users/" + alice, nil, nil}, map[string]int{"admin": 200, "sup": 200, "agent": 200}, map[string]int{"api": 404, "oadmin": 404}},
		{call{"PATCH", "/api/v1/users/" + bob, map[string]any{"displayName": "Robert"}, nil}, map[string]int{"admin": 200}, map[string]int{"sup": 403, "agent": 403, "api": 403, "oadmin": 404}},
		{call{"POST", "/api/v1/users/" + bob + "/disable", nil, nil}, map[string]int{"admin": 200}, map[string]int{"sup": 403, "agent": 403, "api": 403, "oadmin": 404}},
		{call{"POST", "/api/v1/users/" + bob + "/enable", nil, nil}, map[string]int{"admin": 200}, map[string]int{"sup": 403, "agent": 403, "api": 403, "oadmin": 404}},
		{call{"POST", "/api/v1/users/" + bob + "/password", map[string]any{}, nil}, map[string]int{"admin": 200}, map[string]int{"sup": 403, "agent": 403, "api": 403, "oadmin": 404}},
		{call{"DELETE", "/api/v1/users/" + tmp.ID, nil, nil}, map[string]int{"admin": 204}, map[string]int{"sup": 403, "agent": 403, "api": 403, "oadmin": 404}},
		{call{"POST", "/api/v1/users/import", csvBody, []string{"Content-Type", "text/csv"}}, map[string]int{"admin": 201}, map[string]int{"sup": 403, "agent": 403, "api": 403}},
		{call{"GET", "/api/v1/users/export", nil, nil}, map[string]int{"admin": 200}, map[string]int{"sup": 403, "agent": 403, "api": 403}},
		{call{"GET", "/api/v1/numbers", nil, nil}, map[string]int{"admin": 200, "sup": 200}, map[string]int{"agent": 403, "api": 403}},
		{call{"POST", "/api/v1/numbers", map[string]any{"number": "+3612345003", "extension": "1002"}, nil}, map[string]int{"admin": 201}, map[string]int{"sup": 403, "agent": 403, "api": 403}},
		{call{"GET", "/api/v1/numbers/" + num, nil, nil}, map[string]int{"admin": 200, "sup": 200}, map[string]int{"agent": 403, "api": 403, "oadmin": 404}},
		{call{"PUT", "/api/v1/numbers/" + num, map[string]any{"number": "+3612345001", "extension": "1002"}, nil}, map[string]int{"admin": 200}, map[string]int{"sup": 403, "agent": 403, "api": 403, "oadmin": 404}},
		{call{"DELETE", "/api/v1/numbers/" + num, nil, nil}, map[string]int{"admin": 204}, map[string]int{"sup": 403, "agent": 403, "api": 403, "oadmin": 404}},
		{call{"GET", "/api/v1/settings", nil, nil}, map[string]int{"admin": 200}, map[string]int{"sup": 403, "agent": 403, "api": 403}},
		{call{"PATCH", "/api/v1/settings", map[string]any{"wrapUpSeconds": 5}, nil}, map[string]int{"admin": 200}, map[string]int{"sup": 403, "agent": 403, "api": 403}},
		{call{"GET", "/api/v1/dialing-rules", nil, nil}, map[string]int{"admin": 200}, map[string]int{"sup": 403, "agent": 403, "api": 403}},
		{call{"PUT", "/api/v1/dialing-rules", map[string]any{"allowPrefixes": []string{"+36"}}, nil}, map[string]int{"admin": 200}, map[string]int{"sup": 403, "agent": 403, "api": 403}},
		{call{"GET", "/api/v1/tenants", nil, nil}, map[string]int{"super": 200}, map[string]int{"admin": 403, "sup": 403, "agent": 403, "api": 403, "oadmin": 403}},
		{call{"POST", "/api/v1/tenants", map[string]any{"id": "fresh", "name": "Fresh"}, nil}, map[string]int{"super": 201}, map[string]int{"admin": 403, "sup": 403, "agent": 403, "api": 403, "oadmin": 403}},
		{call{"GET", "/api/v1/tenants/" + testTenant, nil, nil}, map[string]int{"super": 200, "admin": 200}, map[string]int{"sup": 403, "agent": 403, "api": 403, "oadmin": 404}},
		{call{"PATCH", "/api/v1/tenants/" + testTenant, map[string]any{"name": "Demo Inc"}, nil}, map[string]int{"super": 200}, map[string]int{"admin": 403, "sup": 403, "agent": 403, "api": 403, "oadmin": 403}},
		{call{"DELETE", "/api/v1/tenants/doomed", nil, nil}, map[string]int{"super": 204}, map[string]int{"admin": 403, "sup": 403, "agent": 403, "api": 403, "oadmin": 403}},
		{call{"GET", "/api/v1/audit", nil, nil}, map[string]int{"admin": 200}, map[string]int{"sup": 403, "agent": 403, "api": 403}},
		{call{"GET", "/api/v1/trunks", nil, nil}, map[string]int{"super": 200}, map[string]int{"admin": 403, "sup": 403, "agent": 403, "api": 403, "oadmin": 403}},
		{call{"POST", "/api/v1/trunks", map[string]any{"name": "second", "address": "127.0.0.1:5997"}, nil}, map[string]int{"super": 201}, map[string]int{"admin": 403, "sup": 403, "agent": 403, "api": 403, "oadmin": 403}},
		{call{"GET", "/api/v1/trunks/" + trk.ID, nil, nil}, map[string]int{"super": 200}, map[string]int{"admin": 403, "sup": 403, "agent": 403, "api": 403, "oadmin": 403}},
		{call{"PUT", "/api/v1/trunks/" + trk.ID, trunkBody, nil}, map[string]int{"super": 200}, map[string]int{"admin": 403, "sup": 403, "agent": 403, "api": 403, "oadmin": 403}},
		{call{"DELETE", "/api/v1/trunks/" + trk.ID, nil, nil}, map[string]int{"super": 204}, map[string]int{"admin": 403, "sup": 403, "agent": 403, "api": 403, "oadmin": 403}},
	}
	covered := map[string]bool{}
	idRE := regexp.MustCompile(`/(usr_|num_|trk_)[0-9A-Z]+|/tenants/(demo|doomed)`)
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			for role, want := range c.denied {
				status, body := e.as(role, c.method, c.path, c.body, c.header...)
				if status != want {
					t.Errorf("%s: %d %s, want %d", role, status, body, want)
				}
			}
			for role, want := range c.allowed {
				status, body := e.as(role, c.method, c.path, c.body, c.header...)
				if status != want {
					t.Errorf("%s: %d %s, want %d", role, status, body, want)
				}
			}
		})
		covered[c.method+" "+idRE.ReplaceAllStringFunc(c.path, func(s string) string {
			if strings.HasPrefix(s, "/tenants/") {
				return "/tenants/:id"
			}
			return "/:id"
		})] = true
	}
	for _, r := range e.srv.App().GetRoutes(true) {
		for _, prefix := range []string{"/api/v1/users", "/api/v1/numbers", "/api/v1/settings", "/api/v1/dialing-rules", "/api/v1/tenants", "/api/v1/audit", "/api/v1/trunks"} {
			if strings.HasPrefix(r.Path, prefix) && r.Method != "HEAD" && !covered[r.Method+" "+r.Path] {
				t.Errorf("route %s %s is not in the role matrix", r.Method, r.Path)
			}
		}
	}

	// The other tenant's admin sees only their own tenant in lists.
	for _, path := range []string{"/api/v1/users", "/api/v1/numbers", "/api/v1/audit", "/api/v1/users/export"} {
		status, body := e.as("oadmin", "GET", path, nil)
		if status != 200 {
			t.Fatalf("oadmin %s: %d %s", path, status, body)
		}
		for _, leak := range []string{"alice", "bob", "+3612345003", testTenant + `"`, "newbie", "imported1"} {
			if strings.Contains(string(body), leak) {
				t.Errorf("oadmin %s sees %q: %s", path, leak, body)
			}
		}
	}
	// The other tenant's settings are untouched by the test tenant's.
	if ts := e.svc.TenantSettings("other"); ts.WrapUp != 0 || len(ts.DialRule.AllowPrefixes) != 0 {
		t.Errorf("other tenant's settings changed: %+v", ts)
	}
	// A supervisor sees only their team.
	status, body := e.as("sup", "GET", "/api/v1/users", nil)
	var page listJSON[adminUserJSON]
	if err := json.Unmarshal(body, &page); status != 200 || err != nil {
		t.Fatalf("sup list: %d %s", status, body)
	}
	if len(page.Items) != 2 { // alice and sue
		t.Errorf("supervisor sees %d users, want alice and sue: %s", len(page.Items), body)
	}
	if status, _ := e.as("sup", "GET", "/api/v1/users/"+bob, nil); status != 404 {
		t.Errorf("supervisor reads bob (not in the team): %d", status)
	}
}

// Every admin change is in the audit log, with who did it.
func TestAdminChangesAreAudited(t *testing.T) {
	e := newAdminEnv(t)
	status, body := e.as("admin", "POST", "/api/v1/users", map[string]any{"username": "carol", "extension": "1010", "role": "agent", "teams": []string{"blue"}})
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	var u adminUserJSON
	_ = json.Unmarshal(body, &u)
	if len(u.Password) < cti.MinPasswordLength {
		t.Fatalf("generated password %q", u.Password)
	}
	steps := []struct {
		method, path string
		body         any
	}{
		{"PATCH", "/api/v1/users/" + u.ID, map[string]any{"skills": []map[string]any{{"name": "french", "level": 80}}}},
		{"POST", "/api/v1/users/" + u.ID + "/disable", nil},
		{"POST", "/api/v1/users/" + u.ID + "/password", map[string]any{"password": "a much longer secret"}},
		{"POST", "/api/v1/numbers", map[string]any{"number": "+3612340000", "extension": "1010"}},
		{"PATCH", "/api/v1/settings", map[string]any{"record": true}},
		{"PUT", "/api/v1/dialing-rules", map[string]any{"maxDigits": 12}},
		{"DELETE", "/api/v1/users/" + u.ID, nil},
	}
	for _, s := range steps {
		if status, body := e.as("admin", s.method, s.path, s.body); status >= 300 {
			t.Fatalf("%s %s: %d %s", s.method, s.path, status, body)
		}
	}
	status, body = e.as("admin", "GET", "/api/v1/audit?limit=100", nil)
	var log listJSON[auditJSON]
	if err := json.Unmarshal(body, &log); status != 200 || err != nil {
		t.Fatalf("audit: %d %s", status, body)
	}
	var actions []string
	for _, a := range log.Items {
		if a.ActorID == e.ids["admin"] {
			actions = append(actions, a.Action)
		}
	}
	want := []string{"user.delete", "settings.update", "settings.update", "number.create", "user.password_reset", "user.disable", "user.update", "user.create"}
	if fmt.Sprint(actions) != fmt.Sprint(want) {
		t.Fatalf("audited actions (newest first) %v, want %v", actions, want)
	}
	if strings.Contains(string(body), "a much longer secret") {
		t.Fatal("the audit log contains a password")
	}
}

// Invalid input comes back as problem+json naming each field.
func TestAdminFieldErrors(t *testing.T) {
	e := newAdminEnv(t)
	auth := []string{"Authorization", "Bearer " + e.tokens["admin"]}
	resp, body := e.do("POST", "/api/v1/users", map[string]any{"username": "x y", "role": "agent", "password": "short"}, auth...)
	p := decodeProblem(t, resp, body, 400)
	fields := map[string]bool{}
	for _, f := range p.Errors {
		fields[f.Field] = true
	}
	for _, f := range []string{"username", "extension", "password"} {
		if !fields[f] {
			t.Errorf("no error for %s in %s", f, body)
		}
	}
	csv := "username,extension,role\nok1,4001,agent\nok2,4001,agent\nbad,12345678,agent\nalice,4003,agent\n"
	resp, body = e.do("POST", "/api/v1/users/import", csv, append(auth, "Content-Type", "text/csv")...)
	p = decodeProblem(t, resp, body, 400)
	got := fmt.Sprint(p.Errors)
	for _, want := range []string{"row 3: extension", "row 4: extension", "row 5: username"} {
		if !strings.Contains(got, want) {
			t.Errorf("import errors %s lack %q", got, want)
		}
	}
	if users, _ := e.store.ListUsers(t.Context(), testTenant); len(users) != 6 {
		t.Errorf("a failed import created users: %d in the tenant", len(users))
	}
	resp, body = e.do("PATCH", "/api/v1/settings", map[string]any{"allowedOrigins": []string{"not a url"}, "crm": map[string]any{"lookupUrl": "ftp://x", "queryUrl": "x"},
		"timeZone": "Europe/Nowhere"}, auth...)
	p = decodeProblem(t, resp, body, 400)
	if got := fmt.Sprint(p.Errors); !strings.Contains(got, "allowedOrigins") || !strings.Contains(got, "crm.lookupUrl") ||
		!strings.Contains(got, "crm.queryUrl") || !strings.Contains(got, "timeZone") {
		t.Errorf("settings errors %s", got)
	}
	resp, body = e.do("PATCH", "/api/v1/settings", map[string]any{"timeZone": "America/Sao_Paulo", "crm": map[string]any{"queryUrl": "https://crm.example/ivr"}}, auth...)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"timeZone":"America/Sao_Paulo"`) || !strings.Contains(string(body), `"queryUrl":"https://crm.example/ivr"`) {
		t.Errorf("time zone and query URL: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("POST", "/api/v1/numbers", map[string]any{"number": "+3612349999", "extension": "7777"}, auth...)
	if p = decodeProblem(t, resp, body, 400); len(p.Errors) != 1 || p.Errors[0].Field != "extension" {
		t.Errorf("number with an unknown extension: %s", body)
	}
	resp, body = e.do("POST", "/api/v1/numbers", map[string]any{"number": "+3612345002", "extension": "1001"}, auth...)
	decodeProblem(t, resp, body, 409) // the other tenant's DID
}

// Disabling a user stops their tokens, their websocket and their logins
// at once; enabling them again lets them sign in again, while what they
// held before stays revoked.
func TestDisabledUserStopsAtOnce(t *testing.T) {
	e := newAdminEnv(t)
	e.listen()
	bobLogin := e.login("bob")
	bobTok := bobLogin.AccessToken
	ws, _ := e.connectAgent("bob")
	if status, _ := e.as("admin", "POST", "/api/v1/users/"+e.users["bob"].ID+"/disable", nil); status != 200 {
		t.Fatalf("disable: %d", status)
	}
	ws.expectClose(closeRevoked)
	resp, body := e.do("GET", "/api/v1/me", nil, "Authorization", "Bearer "+bobTok)
	decodeProblem(t, resp, body, 401)
	resp, body = e.do("POST", "/api/v1/auth/login", loginRequest{Tenant: testTenant, Login: "bob", Password: testPassword})
	if p := decodeProblem(t, resp, body, 403); !strings.Contains(p.Detail, "disabled") {
		t.Fatalf("login of a disabled user: %q", p.Detail)
	}
	c := e.mustDialWS()
	c.send(wsMessageAuth(bobTok))
	c.expectClose(closeUnauthorized)

	if status, _ := e.as("admin", "POST", "/api/v1/users/"+e.users["bob"].ID+"/enable", nil); status != 200 {
		t.Fatalf("enable: %d", status)
	}
	// The tokens from before the disable are gone for good.
	resp, body = e.do("GET", "/api/v1/me", nil, "Authorization", "Bearer "+bobTok)
	decodeProblem(t, resp, body, 401)
	resp, body = e.do("POST", "/api/v1/auth/refresh", refreshRequest{Tenant: testTenant, RefreshToken: bobLogin.RefreshToken})
	decodeProblem(t, resp, body, 401)
	again := e.login("bob")
	resp, body = e.do("GET", "/api/v1/me", nil, "Authorization", "Bearer "+again.AccessToken)
	if resp.StatusCode != 200 {
		t.Fatalf("me after enable and a new sign-in: %d %s", resp.StatusCode, body)
	}
}

// A role change applies to the next request, whatever the token says:
// the open token is refused (sign in again), and the new sign-in carries
// the new role.
func TestRoleChangeAppliesToOpenTokens(t *testing.T) {
	e := newAdminEnv(t)
	if status, _ := e.as("sup", "GET", "/api/v1/users", nil); status != 200 {
		t.Fatal("supervisor cannot list users")
	}
	role := "agent"
	if status, body := e.as("admin", "PATCH", "/api/v1/users/"+e.ids["sup"], map[string]any{"role": role, "extension": "1500"}); status != 200 {
		t.Fatalf("demote: %d %s", status, body)
	}
	if status, _ := e.as("sup", "GET", "/api/v1/users", nil); status != 401 {
		t.Fatalf("demoted supervisor's open token still accepted: %d", status)
	}
	tr := e.login("sue")
	resp, body := e.do("GET", "/api/v1/users", nil, "Authorization", "Bearer "+tr.AccessToken)
	decodeProblem(t, resp, body, 403)
}

func wsMessageAuth(tok string) wsproto.Message {
	return wsproto.Message{Type: wsproto.TypeAuth, ID: "a1", Token: tok}
}

// A supervisor has no extension and signs in all the same; what they may
// read is their team.
func TestSupervisorSignsInWithoutExtension(t *testing.T) {
	e := newAdminEnv(t)
	tr := e.login("sue")
	if tr.User.Role != cti.RoleSupervisor || tr.User.Extension != "" {
		t.Fatalf("login: %+v", tr.User)
	}
	resp, body := e.do("GET", "/api/v1/me", nil, "Authorization", "Bearer "+tr.AccessToken)
	var me principalJSON
	if err := json.Unmarshal(body, &me); resp.StatusCode != 200 || err != nil || me.Role != cti.RoleSupervisor || fmt.Sprint(me.Teams) != "[red]" {
		t.Fatalf("me: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/api/v1/users", nil, "Authorization", "Bearer "+tr.AccessToken)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "alice") || strings.Contains(string(body), "bob") {
		t.Fatalf("supervisor's users: %d %s", resp.StatusCode, body)
	}
}

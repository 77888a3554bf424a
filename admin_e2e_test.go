package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlite"
	"github.com/ringbridge/ringbridge/media/trunk"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// Administration through the running product, no restart anywhere: a
// super-admin creates a tenant and its admin, the admin imports 50 agents
// by CSV and adds a number, and a real SIP call to that number rings one
// of the new agents, signed in with the password the import generated.

// loginAt signs in to a tenant and returns the access token.
func (e *e2e) loginAt(tenant, login, password string) string {
	e.t.Helper()
	status, body := e.api("POST", "/api/v1/auth/login", "", map[string]string{"tenant": tenant, "login": login, "password": password})
	var tok struct{ AccessToken string }
	if err := json.Unmarshal(body, &tok); err != nil || status != 200 || tok.AccessToken == "" {
		e.t.Fatalf("login %s/%s: %d %s", tenant, login, status, body)
	}
	return tok.AccessToken
}

// csvAPI posts a CSV body.
func (e *e2e) csvAPI(path, auth, csv string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.ctx, "POST", e.app.url()+path, strings.NewReader(csv))
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", auth)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// callRings has the carrier call number and checks that a rings, answers,
// and that both sides hear each other.
func (e *e2e) callRings(a *wsAgent, number string) {
	e.t.Helper()
	_, call := e.ringAndAnswer(a, number)
	heard := carrierAudio(call, 1000)
	a.hears(1000)
	if err := heard.WaitFor(e.ctx, 440); err != nil {
		e.t.Fatalf("caller does not hear the agent: %v", err)
	}
	if err := call.Hangup(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	a.waitCall("ended")
}

func TestE2EOnboardTenantByAPI(t *testing.T) {
	e := startE2E(t)
	super := "Bearer " + e.login("admin") // the demo admin is the install's super-admin

	status, body := e.api("POST", "/api/v1/tenants", super, map[string]any{"id": "acme", "name": "Acme Ltd",
		"admin": map[string]any{"username": "boss", "displayName": "The Boss"}})
	var tenant struct {
		ID    string
		Admin struct{ Username, Password string }
	}
	if err := json.Unmarshal(body, &tenant); err != nil || status != 201 || tenant.Admin.Password == "" {
		t.Fatalf("create tenant: %d %s", status, body)
	}
	boss := "Bearer " + e.loginAt("acme", "boss", tenant.Admin.Password)

	var csv strings.Builder
	csv.WriteString("username,displayName,extension,role,teams,skills\n")
	for i := range 50 {
		fmt.Fprintf(&csv, "agent%02d,Agent %02d,%d,agent,sales,english:%d\n", i, i, 3000+i, 50+i)
	}
	status, body = e.csvAPI("/api/v1/users/import", boss, csv.String())
	var imported struct {
		Items []struct{ Username, Extension, Password string }
	}
	if err := json.Unmarshal(body, &imported); err != nil || status != 201 || len(imported.Items) != 50 {
		t.Fatalf("import: %d %.300s", status, body)
	}
	pw := map[string]string{}
	for _, u := range imported.Items {
		if len(u.Password) < 12 {
			t.Fatalf("%s has no usable generated password", u.Username)
		}
		pw[u.Username] = u.Password
	}
	status, body = e.api("POST", "/api/v1/numbers", boss, map[string]any{"number": "+3619990042", "extension": "3042", "label": "sales line"})
	if status != 201 {
		t.Fatalf("number: %d %s", status, body)
	}
	// The demo tenant's admin cannot see any of it.
	status, body = e.api("GET", "/api/v1/numbers", super, nil)
	if status != 200 || bytes.Contains(body, []byte("3619990042")) {
		t.Fatalf("demo admin sees acme's number: %d %s", status, body)
	}

	a := e.signInToken(e.loginAt("acme", "agent42", pw["agent42"]), 440)
	e.callRings(a, "+3619990042")

	// The record belongs to acme: its admin finds it, the demo admin not.
	status, body = e.api("GET", "/api/v1/calls", boss, nil)
	if status != 200 || !bytes.Contains(body, []byte(`"static:3042"`)) {
		t.Fatalf("acme's calls: %d %.300s", status, body)
	}
	if status, body = e.api("GET", "/api/v1/calls", super, nil); bytes.Contains(body, []byte("3042")) {
		t.Fatalf("demo admin sees acme's call: %d %.300s", status, body)
	}
}

// The same onboarding with ringbridge admin against the running server's
// database: the server picks the new user and number up without a restart.
func TestE2EOnboardByCommandLine(t *testing.T) {
	e := startE2E(t)
	dir := e.app.cfg.DataDir
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := runAdmin(e.ctx, append([]string{"-data", dir}, args...), &out); err != nil {
			t.Fatalf("ringbridge admin %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	out := run("create-tenant", "-tenant", "beta", "-name", "Beta", "-admin", "beta-admin")
	if !strings.Contains(out, "password: ") {
		t.Fatalf("create-tenant printed %q", out)
	}
	out = run("create-user", "-tenant", "beta", "-username", "zoe", "-ext", "4100", "-teams", "support")
	m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("create-user printed %q", out)
	}
	csvFile := filepath.Join(t.TempDir(), "team.csv")
	if err := os.WriteFile(csvFile, []byte("username,extension,teams\nyan,4101,support\nxia,4102,support\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = run("import-users", "-tenant", "beta", csvFile)
	if !strings.Contains(out, "2 users created") || !regexp.MustCompile(`(?m)^yan,4101,\S{12,}$`).MatchString(out) {
		t.Fatalf("import-users printed %q", out)
	}
	run("add-number", "-tenant", "beta", "-number", "+3619994100", "-ext", "4100")
	if out = run("list-numbers", "-tenant", "beta"); !strings.Contains(out, "+3619994100") || !strings.Contains(out, "4100") {
		t.Fatalf("list-numbers: %q", out)
	}
	var errOut bytes.Buffer
	if err := runAdmin(e.ctx, []string{"-data", dir, "create-user", "-tenant", "beta", "-username", "bad", "-ext", "1", "-password", "short"}, &errOut); err == nil ||
		!strings.Contains(err.Error(), "extension") || !strings.Contains(err.Error(), "password") {
		t.Fatalf("invalid user: %v", err)
	}
	if err := runAdmin(e.ctx, []string{"-data", dir, "init", "-tenant", "x", "-name", "X", "-admin", "a"}, &errOut); err == nil {
		t.Fatal("init on a database with tenants succeeded")
	}

	a := e.signInToken(e.loginAt("beta", "zoe", m[1]), 440)
	e.callRings(a, "+3619994100")

	// A password reset by the command line ends the session and the old
	// password.
	out = run("reset-password", "-tenant", "beta", "-user", "zoe")
	if !strings.Contains(out, "password: ") {
		t.Fatalf("reset-password printed %q", out)
	}
	status, _ := e.api("POST", "/api/v1/auth/login", "", map[string]string{"tenant": "beta", "login": "zoe", "password": m[1]})
	if status != 401 {
		t.Fatalf("old password after reset: %d", status)
	}
}

// init on an empty database: the first tenant without the demo seed.
func TestAdminInitOnEmptyDatabase(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	err := runAdmin(t.Context(), []string{"-data", dir, "init", "-tenant", "first", "-name", "First", "-admin", "root", "-password", "a long enough secret"}, &out)
	if err != nil || !strings.Contains(out.String(), "super-admin") {
		t.Fatalf("init: %v %s", err, out.String())
	}
	out.Reset()
	if err := runAdmin(t.Context(), []string{"-data", dir, "list-users", "-tenant", "first"}, &out); err != nil || !strings.Contains(out.String(), "root") {
		t.Fatalf("list-users: %v %s", err, out.String())
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "ringbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts, _ := st.ListTenants(t.Context())
	u, err := st.FindUserByLogin(t.Context(), "first", "root")
	if len(ts) != 1 || ts[0].ID != "first" || err != nil || !u.SuperAdmin || u.Role != cti.RoleAdmin {
		t.Fatalf("after init: tenants %+v, root %+v %v", ts, u, err)
	}
	// A later serve on this database seeds no demo tenant.
	var seedOut bytes.Buffer
	if err := seedDemo(t.Context(), st, dir, &seedOut); err != nil || seedOut.Len() != 0 {
		t.Fatalf("demo seeded after init: %v %q", err, seedOut.String())
	}
}

// Trunks changed by a super-admin apply to the next call in the running
// product: outbound calls move to the new first trunk, and INVITEs from a
// source no trunk allows any more are refused.
func TestE2ETrunksChangeAtRuntime(t *testing.T) {
	e := startE2E(t)
	super := "Bearer " + e.login("admin")
	status, body := e.api("GET", "/api/v1/trunks", super, nil)
	var list struct {
		Items []struct{ ID, Name, Address string }
	}
	if err := json.Unmarshal(body, &list); err != nil || status != 200 || len(list.Items) != 1 || list.Items[0].Name != "carrier" {
		t.Fatalf("seeded trunks: %d %s", status, body)
	}
	second, err := trunk.NewPhone(trunk.PhoneConfig{Listen: "127.0.0.1:0", User: "second"})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	status, body = e.api("POST", "/api/v1/trunks", super, map[string]any{"name": "second", "address": "127.0.0.1:1", "allowFrom": []string{"nope"}})
	if status != 400 || !strings.Contains(string(body), `"field":"allowFrom"`) {
		t.Fatalf("bad trunk: %d %s", status, body)
	}
	status, body = e.api("POST", "/api/v1/trunks", super, map[string]any{"name": "second", "address": "127.0.0.1:1", "inDialogTarget": "via", "earlyMedia": "both"})
	if status != 400 || !strings.Contains(string(body), `"field":"inDialogTarget"`) || !strings.Contains(string(body), `"field":"earlyMedia"`) {
		t.Fatalf("bad inDialogTarget: %d %s", status, body)
	}
	status, body = e.api("POST", "/api/v1/trunks", super, map[string]any{"name": "second", "address": second.Addr().String(),
		"allowFrom": []string{"127.0.0.1/32"}, "password": "digest-secret"})
	var created struct {
		ID             string
		PasswordSet    bool
		InDialogTarget string
		EarlyMedia     string
	}
	if err := json.Unmarshal(body, &created); err != nil || status != 201 || !created.PasswordSet || strings.Contains(string(body), "digest-secret") {
		t.Fatalf("create trunk: %d %s", status, body)
	}
	if created.InDialogTarget != "auto" || created.EarlyMedia != "oneway" {
		t.Fatalf("inDialogTarget %q earlyMedia %q, want the defaults auto and oneway", created.InDialogTarget, created.EarlyMedia)
	}
	if status, body = e.api("DELETE", "/api/v1/trunks/"+list.Items[0].ID, super, nil); status != 204 {
		t.Fatalf("delete carrier: %d %s", status, body)
	}

	a := e.signIn("alice", 440)
	r := a.request(wsproto.Message{Type: wsproto.TypeDial, To: "+15559990000"})
	if r.Type != wsproto.TypeAck || r.Call == nil {
		t.Fatalf("dial: %+v", r)
	}
	select {
	case in := <-second.Incoming():
		if in.To != "+15559990000" {
			t.Fatalf("the new trunk got %q", in.To)
		}
	case in := <-e.carrier.Incoming():
		t.Fatalf("the deleted trunk got the call to %q", in.To)
	case <-time.After(10 * time.Second):
		t.Fatal("the new trunk never got the INVITE")
	}
	a.request(wsproto.Message{Type: wsproto.TypeHangup, CallID: r.Call.ID})
	a.waitCall("ended")

	// Inbound: 127.0.0.1 is allowed, then no longer.
	e.callRings(a, "1001")
	if status, body = e.api("PUT", "/api/v1/trunks/"+created.ID, super, map[string]any{"name": "second",
		"address": second.Addr().String(), "allowFrom": []string{"127.0.0.2/32"}, "inDialogTarget": "source", "earlyMedia": "twoway"}); status != 200 ||
		!strings.Contains(string(body), `"passwordSet":true`) || !strings.Contains(string(body), `"inDialogTarget":"source"`) {
		t.Fatalf("update trunk: %d %s", status, body)
	}
	if status, body = e.api("GET", "/api/v1/trunks/"+created.ID, super, nil); status != 200 || !strings.Contains(string(body), `"inDialogTarget":"source"`) ||
		!strings.Contains(string(body), `"earlyMedia":"twoway"`) {
		t.Fatalf("stored inDialogTarget: %d %s", status, body)
	}
	_, err = e.carrier.Dial(e.ctx, "sip:1001@"+e.app.sipAddr().String(), "15557654321")
	var de *trunk.DialError
	if !errors.As(err, &de) || de.Status != 403 {
		t.Fatalf("INVITE from a source no trunk allows: %v, want 403", err)
	}
	// Only super-admins touch trunks; the audit log has every change.
	status, body = e.api("GET", "/api/v1/audit?action=trunk.delete", super, nil)
	if status != 200 || !strings.Contains(string(body), list.Items[0].ID) {
		t.Fatalf("audit: %d %s", status, body)
	}
}

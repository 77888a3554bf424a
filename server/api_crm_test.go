package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
)

// createKey makes an API key (and its technical user) as the tenant's admin.
func (e *env) createKey(adminLogin, name string) newAPIKeyJSON {
	e.t.Helper()
	tok := e.login(adminLogin)
	resp, body := e.do("POST", "/api/v1/api-keys", apiKeyRequest{Name: name}, "Authorization", "Bearer "+tok.AccessToken)
	if resp.StatusCode != 201 {
		e.t.Fatalf("create key: %d %s", resp.StatusCode, body)
	}
	var k newAPIKeyJSON
	if err := json.Unmarshal(body, &k); err != nil {
		e.t.Fatal(err)
	}
	if !strings.HasPrefix(k.Key, "rbk_"+k.ID+"_") || k.Password == "" || k.Username != name {
		e.t.Fatalf("key response %+v", k)
	}
	return k
}

func authBearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func basic(user, pass string, extra ...string) []string {
	h := []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
	return append(h, extra...)
}

func TestAPIKeysAndBasicAuth(t *testing.T) {
	e := newEnv(t)
	k := e.createKey("admin", "hubspot")

	resp, body := e.do("GET", "/api/v1/phonebook", nil, authBearer(k.Key)...)
	if resp.StatusCode != 200 {
		t.Fatalf("with the key: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/api/v1/me", nil, authBearer(k.Key)...)
	var me principalJSON
	_ = json.Unmarshal(body, &me)
	if resp.StatusCode != 200 || me.Role != cti.RoleAPI || me.Username != "hubspot" || me.TenantID != testTenant {
		t.Fatalf("me: %d %s", resp.StatusCode, body)
	}
	// Bad keys: wrong secret, unknown id, garbage after the prefix.
	for _, bad := range []string{k.Key + "x", "rbk_knope_secret", "rbk_", "rbk_" + k.ID} {
		resp, body := e.do("GET", "/api/v1/phonebook", nil, authBearer(bad)...)
		p := decodeProblem(t, resp, body, 401)
		if p.Detail != "invalid API key" || resp.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("bad key %q: %+v", bad, p)
		}
	}
	// HTTP Basic with the technical user's generated password.
	resp, body = e.do("GET", "/api/v1/phonebook", nil, basic("hubspot", k.Password)...)
	if resp.StatusCode != 200 {
		t.Fatalf("basic: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/api/v1/phonebook", nil, basic("hubspot", "wrong")...)
	decodeProblem(t, resp, body, 401)
	resp, body = e.do("GET", "/api/v1/phonebook", nil, basic("hubspot", k.Password, HeaderTenant, "other")...)
	decodeProblem(t, resp, body, 401)
	// People use tokens, not Basic.
	resp, body = e.do("GET", "/api/v1/phonebook", nil, basic("alice", testPassword)...)
	decodeProblem(t, resp, body, 403)

	// Only admins manage keys.
	resp, body = e.do("POST", "/api/v1/api-keys", apiKeyRequest{Name: "x"}, authBearer(k.Key)...)
	decodeProblem(t, resp, body, 403)
	resp, body = e.do("POST", "/api/v1/api-keys", apiKeyRequest{Name: "x"}, authBearer(e.login("alice").AccessToken)...)
	decodeProblem(t, resp, body, 403)
	adminTok := e.login("admin").AccessToken
	resp, body = e.do("GET", "/api/v1/api-keys", nil, authBearer(adminTok)...)
	var list listJSON[apiKeyJSON]
	_ = json.Unmarshal(body, &list)
	if resp.StatusCode != 200 || len(list.Items) != 1 || list.Items[0].ID != k.ID || strings.Contains(string(body), k.Key) {
		t.Fatalf("list keys: %d %s", resp.StatusCode, body)
	}
	// A second key for an existing user; a key for an agent is refused.
	resp, body = e.do("POST", "/api/v1/api-keys", apiKeyRequest{Name: "second", UserID: k.UserID}, authBearer(adminTok)...)
	if resp.StatusCode != 201 || strings.Contains(string(body), `"password"`) {
		t.Fatalf("second key: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("POST", "/api/v1/api-keys", apiKeyRequest{Name: "agentkey", UserID: e.users["alice"].ID}, authBearer(adminTok)...)
	decodeProblem(t, resp, body, 400)

	// Revoked keys stop working at once.
	resp, _ = e.do("DELETE", "/api/v1/api-keys/"+k.ID, nil, authBearer(adminTok)...)
	if resp.StatusCode != 204 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	resp, body = e.do("GET", "/api/v1/phonebook", nil, authBearer(k.Key)...)
	decodeProblem(t, resp, body, 401)
}

func TestPhonebookREST(t *testing.T) {
	e := newEnv(t)
	k := e.createKey("admin", "crm")
	resp, body := e.do("POST", "/api/v1/phonebook", contactInput{Name: "Ada Lovelace", Company: "Analytical Engines", Tier: "gold",
		URL: "https://crm.example/c/1", Numbers: []string{"(555) 765-4321", "+1 555 000 0001"}, Fields: map[string]string{"owner": "bob"}}, authBearer(k.Key)...)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var ada contactJSON
	_ = json.Unmarshal(body, &ada)
	if ada.ID == "" || resp.Header.Get("Location") != "/api/v1/phonebook/"+ada.ID ||
		strings.Join(ada.Numbers, ",") != "+15557654321,+15550000001" || ada.Fields["owner"] != "bob" {
		t.Fatalf("created %s", body)
	}
	for _, bad := range []contactInput{
		{Name: "x", Numbers: []string{"12"}},
		{Name: "x", Numbers: []string{"not a number"}},
		{Name: "", Numbers: []string{"5557654321"}},
		{Name: "x"},
		{Name: "x", Numbers: []string{"5557654321"}, URL: "javascript:alert(1)"},
	} {
		resp, body := e.do("POST", "/api/v1/phonebook", bad, authBearer(k.Key)...)
		decodeProblem(t, resp, body, 400)
	}
	resp, body = e.do("POST", "/api/v1/phonebook", `{"name":"x","numbers":["5557654321"],"extra":1}`, authBearer(k.Key)...)
	decodeProblem(t, resp, body, 400)

	// Agents read, but do not write.
	agentTok := e.login("alice").AccessToken
	resp, body = e.do("GET", "/api/v1/phonebook/"+ada.ID, nil, authBearer(agentTok)...)
	if resp.StatusCode != 200 {
		t.Fatalf("agent read: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("DELETE", "/api/v1/phonebook/"+ada.ID, nil, authBearer(agentTok)...)
	decodeProblem(t, resp, body, 403)
	resp, body = e.do("GET", "/api/v1/phonebook?number=555-765-4321", nil, authBearer(agentTok)...)
	var found listJSON[contactJSON]
	_ = json.Unmarshal(body, &found)
	if resp.StatusCode != 200 || len(found.Items) != 1 || found.Items[0].ID != ada.ID {
		t.Fatalf("lookup by number: %d %s", resp.StatusCode, body)
	}

	// PUT replaces; the id in the body must match.
	resp, body = e.do("PUT", "/api/v1/phonebook/"+ada.ID, contactInput{Name: "Ada King", Numbers: []string{"+15557654321"}}, authBearer(k.Key)...)
	var upd contactJSON
	_ = json.Unmarshal(body, &upd)
	if resp.StatusCode != 200 || upd.Name != "Ada King" || len(upd.Numbers) != 1 || upd.Company != "" || !upd.UpdatedAt.After(ada.UpdatedAt) {
		t.Fatalf("put: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("PUT", "/api/v1/phonebook/"+ada.ID, contactInput{ID: "other", Name: "x", Numbers: []string{"+15557654321"}}, authBearer(k.Key)...)
	decodeProblem(t, resp, body, 400)
	resp, body = e.do("PUT", "/api/v1/phonebook/ct_missing", contactInput{Name: "x", Numbers: []string{"+15557654321"}}, authBearer(k.Key)...)
	decodeProblem(t, resp, body, 404)

	// Cursor pagination.
	for i := range 4 {
		resp, body := e.do("POST", "/api/v1/phonebook", contactInput{Name: fmt.Sprintf("Zed %d", i), Numbers: []string{fmt.Sprintf("+1555200000%d", i)}}, authBearer(k.Key)...)
		if resp.StatusCode != 201 {
			t.Fatalf("create %d: %s", i, body)
		}
	}
	var names []string
	path := "/api/v1/phonebook?limit=2"
	for range 10 {
		resp, body := e.do("GET", path, nil, authBearer(k.Key)...)
		var page listJSON[contactJSON]
		if err := json.Unmarshal(body, &page); err != nil || resp.StatusCode != 200 {
			t.Fatalf("page: %d %s", resp.StatusCode, body)
		}
		for _, c := range page.Items {
			names = append(names, c.Name)
		}
		if page.NextCursor == "" {
			break
		}
		path = "/api/v1/phonebook?limit=2&cursor=" + page.NextCursor
	}
	if strings.Join(names, ",") != "Ada King,Zed 0,Zed 1,Zed 2,Zed 3" {
		t.Fatalf("pages %q", names)
	}
	for _, q := range []string{"?limit=0", "?limit=abc", "?limit=100000", "?cursor=%21%21"} {
		resp, body := e.do("GET", "/api/v1/phonebook"+q, nil, authBearer(k.Key)...)
		decodeProblem(t, resp, body, 400)
	}

	resp, _ = e.do("DELETE", "/api/v1/phonebook/"+ada.ID, nil, authBearer(k.Key)...)
	if resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	resp, body = e.do("GET", "/api/v1/phonebook/"+ada.ID, nil, authBearer(k.Key)...)
	decodeProblem(t, resp, body, 404)
}

// Tenant B's credentials reach nothing of tenant A: everything is 404,
// indistinguishable from absent.
func TestTenantIsolation(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := e.store.CreateTenant(ctx, &cti.Tenant{ID: "b", Name: "B"}); err != nil {
		t.Fatal(err)
	}
	hash, _ := testHash()
	if err := e.store.CreateUser(ctx, &cti.User{TenantID: "b", Username: "admin", Role: cti.RoleAdmin, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	ka := e.createKey("admin", "crm-a")
	resp, body := e.do("POST", "/api/v1/auth/login", loginRequest{Tenant: "b", Login: "admin", Password: testPassword})
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || resp.StatusCode != 200 {
		t.Fatalf("tenant b login: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("POST", "/api/v1/api-keys", apiKeyRequest{Name: "crm-b"}, authBearer(tr.AccessToken)...)
	var kb newAPIKeyJSON
	if err := json.Unmarshal(body, &kb); err != nil || resp.StatusCode != 201 {
		t.Fatalf("tenant b key: %d %s", resp.StatusCode, body)
	}

	resp, body = e.do("POST", "/api/v1/phonebook", contactInput{Name: "A's customer", Numbers: []string{"+15557654321"}}, authBearer(ka.Key)...)
	var c contactJSON
	if err := json.Unmarshal(body, &c); err != nil || resp.StatusCode != 201 {
		t.Fatalf("tenant a contact: %d %s", resp.StatusCode, body)
	}
	rec := &cti.CallRecord{ID: "call_a1", TenantID: testTenant, Direction: cti.DirectionInbound, StartedAt: time.Now().UTC(), Tags: []string{}}
	if err := e.store.SaveCallRecord(ctx, rec); err != nil {
		t.Fatal(err)
	}
	disp := `{"disposition":"stolen"}`
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/v1/phonebook/" + c.ID, ""},
		{"PUT", "/api/v1/phonebook/" + c.ID, `{"name":"x","numbers":["+15557654321"]}`},
		{"DELETE", "/api/v1/phonebook/" + c.ID, ""},
		{"GET", "/api/v1/calls/call_a1", ""},
		{"PATCH", "/api/v1/calls/call_a1", disp},
		{"DELETE", "/api/v1/api-keys/" + ka.ID, ""},
	} {
		var b any
		if r.body != "" {
			b = r.body
		}
		resp, body := e.do(r.method, r.path, b, authBearer(kb.Key)...)
		if r.path == "/api/v1/api-keys/"+ka.ID {
			resp, body = e.do(r.method, r.path, b, authBearer(tr.AccessToken)...)
		}
		decodeProblem(t, resp, body, 404)
	}
	resp, body = e.do("GET", "/api/v1/phonebook?number=%2B15557654321", nil, authBearer(kb.Key)...)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"items":[]`) {
		t.Fatalf("b's lookup: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/api/v1/calls", nil, authBearer(kb.Key)...)
	if resp.StatusCode != 200 || strings.Contains(string(body), "call_a1") {
		t.Fatalf("b's call list: %d %s", resp.StatusCode, body)
	}
	// A's own key still sees its data untouched.
	resp, body = e.do("GET", "/api/v1/calls/call_a1", nil, authBearer(ka.Key)...)
	if resp.StatusCode != 200 || strings.Contains(string(body), "stolen") {
		t.Fatalf("a's call: %d %s", resp.StatusCode, body)
	}
}

func TestClickToCallREST(t *testing.T) {
	e := newEnv(t, func(c *cti.Config) {
		c.DialRules = map[string]cti.DialRule{testTenant: {AllowCountries: []string{"US"}}}
	})
	k := e.createKey("admin", "crm")
	if _, err := e.svc.Connect(t.Context(), principalFor(e.users["alice"]), false); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		auth   []string
		body   string
		status int
	}{
		{nil, `{"extension":"1001","number":"5551234567"}`, 401},
		{authBearer("rbk_kbad_secret"), `{"extension":"1001","number":"5551234567"}`, 401},
		{authBearer(e.login("alice").AccessToken), `{"extension":"1001","number":"5551234567"}`, 403},
		{authBearer(k.Key), `{"extension":"1001","number":"555"}`, 400},
		{authBearer(k.Key), `{"extension":"1001"}`, 400},
		{authBearer(k.Key), `{"extension":"1001","number":"+44 20 7946 0000"}`, 403},
		{authBearer(k.Key), `{"extension":"1001","number":"+1 876 555 1234"}`, 403}, // Jamaica shares +1
		{authBearer(k.Key), `{"extension":"1999","number":"5551234567"}`, 404},
		{authBearer(k.Key), `{"extension":"1002","number":"5551234567"}`, 409}, // signed out
	} {
		resp, body := e.do("POST", "/api/v1/calls", c.body, c.auth...)
		decodeProblem(t, resp, body, c.status)
	}
	resp, body := e.do("POST", "/api/v1/calls", `{"extension":"1001","number":"(555) 123-4567"}`, authBearer(k.Key)...)
	var started callStartedJSON
	_ = json.Unmarshal(body, &started)
	if resp.StatusCode != 202 || !strings.HasPrefix(started.ID, "call_") || started.State != "ringing" ||
		started.Number != "+15551234567" || resp.Header.Get("Location") != "/api/v1/calls/"+started.ID {
		t.Fatalf("click-to-call: %d %s", resp.StatusCode, body)
	}
	// The agent is now ringing: busy for another click-to-call.
	resp, body = e.do("POST", "/api/v1/calls", `{"extension":"1001","number":"5551234567"}`, authBearer(k.Key)...)
	decodeProblem(t, resp, body, 409)
	// The live call is readable.
	resp, body = e.do("GET", "/api/v1/calls/"+started.ID, nil, authBearer(k.Key)...)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"origin":"click_to_call"`) {
		t.Fatalf("live call: %d %s", resp.StatusCode, body)
	}
}

func TestCallRecordsREST(t *testing.T) {
	e := newEnv(t)
	events := &ctitest.Events{}
	e.svc.SetEventSink(events)
	k := e.createKey("admin", "crm")
	base := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := range 3 {
		r := &cti.CallRecord{ID: fmt.Sprintf("call_%d", i), TenantID: testTenant, Direction: cti.DirectionInbound,
			StartedAt: base.Add(time.Duration(i) * time.Hour), Tags: []string{},
			Agents: []cti.AgentSegment{{Extension: "1001", UserID: e.users["alice"].ID}}}
		if err := e.store.SaveCallRecord(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := e.do("GET", "/api/v1/calls?from=2026-03-02T09:30:00Z&limit=1", nil, authBearer(k.Key)...)
	var page listJSON[cti.CallRecord]
	_ = json.Unmarshal(body, &page)
	if resp.StatusCode != 200 || len(page.Items) != 1 || page.Items[0].ID != "call_2" || page.NextCursor == "" {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/api/v1/calls?from=2026-03-02T09:30:00Z&limit=1&cursor="+page.NextCursor, nil, authBearer(k.Key)...)
	page = listJSON[cti.CallRecord]{}
	_ = json.Unmarshal(body, &page)
	if resp.StatusCode != 200 || len(page.Items) != 1 || page.Items[0].ID != "call_1" || page.NextCursor != "" {
		t.Fatalf("second page: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/api/v1/calls?from=yesterday", nil, authBearer(k.Key)...)
	decodeProblem(t, resp, body, 400)
	// Agents cannot list the tenant's calls.
	resp, body = e.do("GET", "/api/v1/calls", nil, authBearer(e.login("alice").AccessToken)...)
	decodeProblem(t, resp, body, 403)

	resp, body = e.do("PATCH", "/api/v1/calls/call_1", `{"disposition":"sale","notes":"upgraded to gold","tags":["vip"]}`, authBearer(k.Key)...)
	var rec cti.CallRecord
	_ = json.Unmarshal(body, &rec)
	if resp.StatusCode != 200 || rec.Disposition != "sale" || rec.Notes != "upgraded to gold" || len(rec.Tags) != 1 {
		t.Fatalf("patch: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/api/v1/calls/call_1", nil, authBearer(k.Key)...)
	if !strings.Contains(string(body), `"disposition":"sale"`) {
		t.Fatalf("stored: %d %s", resp.StatusCode, body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if evs := events.All(); len(evs) > 0 {
			ev := evs[len(evs)-1]
			if ev.Type != cti.EventCallUpdated || ev.CallID != "call_1" || ev.TenantID != testTenant ||
				ev.Data.(*cti.CallRecord).Disposition != "sale" || !strings.HasPrefix(ev.ID, "evt_") {
				t.Fatalf("event %+v", ev)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(events.All()) == 0 {
		t.Fatal("no call.updated event")
	}
	// The agent who took the call may set its disposition too.
	resp, body = e.do("PATCH", "/api/v1/calls/call_1", `{"disposition":"callback"}`, authBearer(e.login("alice").AccessToken)...)
	if resp.StatusCode != 200 {
		t.Fatalf("agent patch: %d %s", resp.StatusCode, body)
	}
	for _, bad := range []string{`{}`, `{"disposition":"` + strings.Repeat("x", 65) + `"}`, `{"tags":[""]}`, `{"nope":1}`} {
		resp, body := e.do("PATCH", "/api/v1/calls/call_1", bad, authBearer(k.Key)...)
		decodeProblem(t, resp, body, 400)
	}
	resp, body = e.do("PATCH", "/api/v1/calls/call_missing", `{"disposition":"x"}`, authBearer(k.Key)...)
	decodeProblem(t, resp, body, 404)
	_ = http.StatusOK
}

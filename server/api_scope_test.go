package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// A supervisor of team red reads the time in status, status history and
// agent metrics of red's operators only: naming blue's operator is
// forbidden, lists and CSVs leave blue out, and another tenant's operator
// with the same extension and team name never shows. The admin sees both
// teams, so the data the supervisor misses is there.
func TestSupervisorReadsOnlyTheirTeamsHistory(t *testing.T) {
	e := newEnv(t)
	e.listen()
	ctx := t.Context()
	hash, err := testHash()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateTenant(ctx, &cti.Tenant{ID: "other", Name: "Other"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*cti.User{
		{TenantID: testTenant, Username: "rita", Extension: "1011", Role: cti.RoleAgent, Teams: []string{"red"}},
		{TenantID: testTenant, Username: "bert", Extension: "1012", Role: cti.RoleAgent, Teams: []string{"blue"}},
		{TenantID: testTenant, Username: "sue", Role: cti.RoleSupervisor, Teams: []string{"red"}},
		{TenantID: testTenant, Username: "nina", Role: cti.RoleSupervisor, Teams: []string{"green"}},
		{TenantID: "other", Username: "olga", Extension: "1011", Role: cti.RoleAgent, Teams: []string{"red"}},
	} {
		u.PasswordHash = hash
		if err := e.store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		e.users[u.Username+"@"+u.TenantID] = u
	}
	for _, who := range []struct{ login, reason string }{{"rita", "lunch"}, {"bert", "meeting"}} {
		c, _ := e.connectAgent(who.login)
		c.send(wsproto.Message{Type: wsproto.TypeStatus, ID: "s", Status: "away", Reason: who.reason})
		c.readUntil(wsproto.TypeAck)
	}
	olga := e.users["olga@other"]
	sess, err := e.svc.Connect(ctx, cti.Principal{TenantID: "other", UserID: olga.ID, Username: "olga", Extension: "1011", Role: cti.RoleAgent}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.SetStatus(cti.StatusAway, "training"); err != nil {
		t.Fatal(err)
	}

	sue := "Bearer " + e.login("sue").AccessToken
	nina := "Bearer " + e.login("nina").AccessToken
	admin := "Bearer " + e.login("admin").AccessToken
	period := "from=" + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) + "&to=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	get := func(auth, path string, status int) string {
		t.Helper()
		resp, body := e.do("GET", path, nil, "Authorization", auth)
		if resp.StatusCode != status {
			t.Fatalf("GET %s: %d %s, want %d", path, resp.StatusCode, body, status)
		}
		return string(body)
	}
	onlyRita := func(what, body string) {
		t.Helper()
		if !strings.Contains(body, "rita") || !strings.Contains(body, "lunch") {
			t.Fatalf("%s misses the supervisor's own team: %s", what, body)
		}
		for _, leak := range []string{"1012", "bert", "meeting", "olga", "training", "alice"} {
			if strings.Contains(body, leak) {
				t.Fatalf("%s shows %q to team red's supervisor: %s", what, leak, body)
			}
		}
	}

	// The admin sees both teams (never the other tenant).
	all := get(admin, "/api/v1/agents/time-in-status?"+period, 200)
	if !strings.Contains(all, "bert") || !strings.Contains(all, "rita") || strings.Contains(all, "olga") {
		t.Fatalf("the admin's time in status: %s", all)
	}

	onlyRita("time in status", get(sue, "/api/v1/agents/time-in-status?"+period, 200))
	onlyRita("time in status CSV", get(sue, "/api/v1/agents/time-in-status?format=csv&"+period, 200))
	onlyRita("status history", get(sue, "/api/v1/agents/status-history?"+period, 200))
	onlyRita("one operator's history", get(sue, "/api/v1/agents/status-history?extension=1011", 200))
	for _, path := range []string{
		"/api/v1/agents/time-in-status?extension=1012&" + period,
		"/api/v1/agents/time-in-status?format=csv&extension=1012&" + period,
		"/api/v1/agents/status-history?extension=1012",
	} {
		resp, body := e.do("GET", path, nil, "Authorization", sue)
		if p := decodeProblem(t, resp, body, 403); !strings.Contains(p.Detail, "own teams") {
			t.Fatalf("GET %s: %+v", path, p)
		}
	}
	get(sue, "/api/v1/agents/1012/call", 404)

	metrics := get(sue, "/api/v1/metrics/agents?interval=1h&"+period, 200)
	var rows []cti.AgentMetrics
	var page struct{ Items []cti.AgentMetrics }
	if err := json.Unmarshal([]byte(metrics), &page); err == nil && page.Items != nil {
		rows = page.Items
	} else if err := json.Unmarshal([]byte(metrics), &rows); err != nil {
		t.Fatalf("agent metrics: %v %s", err, metrics)
	}
	exts := map[string]bool{}
	for _, r := range rows {
		exts[r.Extension] = true
	}
	if !exts["1011"] || len(exts) != 1 {
		t.Fatalf("team red's supervisor gets agent metrics of %v: %s", exts, metrics)
	}
	csv := get(sue, "/api/v1/metrics/agents?format=csv&interval=1h&"+period, 200)
	if !strings.Contains(csv, "\n1011,") || strings.Contains(csv, "1012") {
		t.Fatalf("agent metrics CSV: %s", csv)
	}
	if all := get(admin, "/api/v1/metrics/agents?format=csv&interval=1h&"+period, 200); !strings.Contains(all, "\n1012,") {
		t.Fatalf("the admin's agent metrics lack team blue: %s", all)
	}

	// A supervisor whose teams have nobody gets empty answers, not the tenant.
	for _, path := range []string{
		"/api/v1/agents/time-in-status?" + period,
		"/api/v1/agents/status-history?" + period,
		"/api/v1/metrics/agents?interval=1h&" + period,
	} {
		body := get(nina, path, 200)
		for _, leak := range []string{"1011", "1012", "1001"} {
			if strings.Contains(body, leak) {
				t.Fatalf("GET %s shows %s to a supervisor of an empty team: %s", path, leak, body)
			}
		}
	}
}

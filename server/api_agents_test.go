package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/server/wsproto"
)

// Operators' statuses over REST: the list shows who is signed in, an
// integration sets a signed-in agent busy elsewhere (the agent's socket is
// told), a signed-out one cannot be set, agents read only themselves, and
// time in status comes as JSON and as CSV.
func TestAgentStatusesOverREST(t *testing.T) {
	e := newEnv(t)
	e.listen()
	admin := "Bearer " + e.login("admin").AccessToken
	agent := "Bearer " + e.login("bob").AccessToken
	alice, _ := e.connectAgent("alice")
	defer alice.conn.Close()

	resp, body := e.do("GET", "/api/v1/agents", nil, "Authorization", admin)
	var list struct {
		Items []struct{ Extension, Status, ChosenStatus string }
	}
	if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != 200 || len(list.Items) != 2 ||
		list.Items[0].Extension != "1001" || list.Items[0].Status != "available" || list.Items[1].Status != "offline" {
		t.Fatalf("GET /agents: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("PUT", "/api/v1/agents/1001/status", map[string]string{"status": "busy_elsewhere"}, "Authorization", admin)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"busy_elsewhere"`) {
		t.Fatalf("PUT status: %d %s", resp.StatusCode, body)
	}
	if m := alice.readUntil(wsproto.TypeStatus); m.Status != "busy_elsewhere" {
		t.Fatalf("the agent's socket was told %+v", m)
	}
	resp, body = e.do("PUT", "/api/v1/agents/1002/status", map[string]string{"status": "away"}, "Authorization", admin)
	decodeProblem(t, resp, body, 409)
	resp, body = e.do("PUT", "/api/v1/agents/1001/status", map[string]string{"status": "on_call"}, "Authorization", admin)
	if p := decodeProblem(t, resp, body, 400); !strings.Contains(string(body), `"status"`) {
		t.Fatalf("bad status without its field: %+v", p)
	}
	resp, body = e.do("GET", "/api/v1/agents/1001", nil, "Authorization", agent)
	decodeProblem(t, resp, body, 403)
	resp, body = e.do("GET", "/api/v1/agents/1002/call", nil, "Authorization", agent)
	decodeProblem(t, resp, body, 404)

	from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	to := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	resp, body = e.do("GET", "/api/v1/agents/time-in-status?from="+from+"&to="+to, nil, "Authorization", admin)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"available"`) || !strings.Contains(string(body), `"status":"busy_elsewhere"`) {
		t.Fatalf("time in status: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/api/v1/agents/time-in-status?format=csv&from="+from+"&to="+to, nil, "Authorization", admin)
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/csv") ||
		!strings.HasPrefix(string(body), "extension,username,status,reason,seconds\n1001,alice,available,,") {
		t.Fatalf("CSV: %d %s %s", resp.StatusCode, ct, body)
	}
	resp, body = e.do("GET", "/api/v1/agents/time-in-status?from="+to+"&to="+from, nil, "Authorization", admin)
	decodeProblem(t, resp, body, 400)
	resp, body = e.do("GET", "/api/v1/agents/status-history?extension=1001", nil, "Authorization", agent)
	decodeProblem(t, resp, body, 403)
	resp, body = e.do("GET", "/api/v1/agents/status-history?extension=1001", nil, "Authorization", admin)
	if resp.StatusCode != 200 || strings.Count(string(body), `"startedAt"`) != 2 {
		t.Fatalf("history: %d %s", resp.StatusCode, body)
	}
}

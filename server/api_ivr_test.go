package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ringbridge/ringbridge/cti"
)

const ivrFlowJSON = `{"id": "main", "name": "Main line", "start": "menu", "nodes": [
  {"id": "menu", "kind": "menu", "say": [{"toneHz": 600, "ms": 300}], "choices": {"1": "sales", "2": "bye"},
   "timeoutSeconds": 5, "retries": 2, "onTimeout": "menu", "onInvalid": "bye"},
  {"id": "sales", "kind": "route", "to": {"kind": "queue", "target": "sales"}},
  {"id": "bye", "kind": "hangup"}]}`

// IVR flows over REST: an admin creates and changes a flow (each change a
// version), a broken change is refused naming its node, a single node is
// added and removed, an earlier version is made current again; agents may
// not change flows, another tenant does not see them, every change is
// audited.
func TestIVRFlowsREST(t *testing.T) {
	e := newAdminEnv(t)
	var flow map[string]any
	if err := json.Unmarshal([]byte(ivrFlowJSON), &flow); err != nil {
		t.Fatal(err)
	}
	code, body := e.as("admin", "POST", "/api/v1/ivr/flows", flow)
	if code != 201 || !strings.Contains(string(body), `"version":1`) {
		t.Fatalf("create: %d %s", code, body)
	}

	// A dangling branch is refused, naming the node; nothing is stored.
	flow["nodes"].([]any)[0].(map[string]any)["choices"].(map[string]any)["3"] = "billing"
	code, body = e.as("admin", "PUT", "/api/v1/ivr/flows/main", flow)
	if code != 400 || !strings.Contains(string(body), `node \"menu\": goes to \"billing\", which does not exist`) {
		t.Fatalf("dangling branch: %d %s", code, body)
	}

	// Add a billing node and point choice 3 at it, one node at a time.
	code, body = e.as("admin", "PUT", "/api/v1/ivr/flows/main/nodes/billing", map[string]any{"kind": "route", "to": map[string]any{"kind": "extension", "target": "1001"}})
	if code != 400 || !strings.Contains(string(body), "cannot be reached") {
		t.Fatalf("an unreachable node: %d %s", code, body)
	}
	code, body = e.as("admin", "PUT", "/api/v1/ivr/flows/main", flow) // now refers to billing, which is still missing
	if code != 400 {
		t.Fatalf("still dangling: %d %s", code, body)
	}
	flow["nodes"] = append(flow["nodes"].([]any), map[string]any{"id": "billing", "kind": "route", "to": map[string]any{"kind": "extension", "target": "1001"}})
	code, body = e.as("admin", "PUT", "/api/v1/ivr/flows/main", flow)
	if code != 200 || !strings.Contains(string(body), `"version":2`) {
		t.Fatalf("version 2: %d %s", code, body)
	}
	code, body = e.as("admin", "DELETE", "/api/v1/ivr/flows/main/nodes/billing", nil)
	if code != 400 || !strings.Contains(string(body), `goes to \"billing\"`) {
		t.Fatalf("deleting a node still used: %d %s", code, body)
	}

	code, body = e.as("sup", "GET", "/api/v1/ivr/flows/main/versions", nil)
	var versions struct {
		Items []cti.IVRFlowVersion `json:"items"`
	}
	if code != 200 || json.Unmarshal(body, &versions) != nil || len(versions.Items) != 2 || !versions.Items[0].Current {
		t.Fatalf("versions: %d %s", code, body)
	}
	code, body = e.as("admin", "POST", "/api/v1/ivr/flows/main/rollback", map[string]any{"version": 1})
	if code != 200 || !strings.Contains(string(body), `"version":1`) || strings.Contains(string(body), "billing") {
		t.Fatalf("rollback: %d %s", code, body)
	}
	if code, body = e.as("admin", "GET", "/api/v1/ivr/flows/main?version=2", nil); code != 200 || !strings.Contains(string(body), "billing") {
		t.Fatalf("version 2 after the rollback: %d %s", code, body)
	}

	for _, c := range []struct {
		role, method, path string
		want               int
	}{
		{"agent", "PUT", "/api/v1/ivr/flows/main", 403},
		{"agent", "DELETE", "/api/v1/ivr/flows/main", 403},
		{"sup", "POST", "/api/v1/ivr/flows/main/rollback", 403},
		{"oadmin", "GET", "/api/v1/ivr/flows/main", 404},
		{"oadmin", "DELETE", "/api/v1/ivr/flows/main", 404},
		{"api", "GET", "/api/v1/ivr/flows", 200},
	} {
		var body any
		switch {
		case strings.HasSuffix(c.path, "/rollback"):
			body = map[string]any{"version": 1}
		case c.method == "PUT":
			body = map[string]any{"name": "x", "start": "a", "nodes": []any{map[string]any{"id": "a", "kind": "hangup"}}}
		}
		if code, b := e.as(c.role, c.method, c.path, body); code != c.want {
			t.Errorf("%s %s %s: %d %s, want %d", c.role, c.method, c.path, code, b, c.want)
		}
	}
	if code, body := e.as("oadmin", "GET", "/api/v1/ivr/flows", nil); code != 200 || strings.Contains(string(body), "main") {
		t.Fatalf("other tenant's list: %d %s", code, body)
	}

	entries, _, err := e.svc.ListAudit(t.Context(), cti.SystemPrincipal(testTenant, "test"), cti.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range entries {
		if strings.HasPrefix(a.Action, "ivr.") {
			actions = append(actions, fmt.Sprintf("%s:%v", a.Action, a.Details["version"]))
		}
	}
	if strings.Join(actions, " ") != "ivr.rollback:1 ivr.save:2 ivr.save:1" {
		t.Errorf("audit %v", actions)
	}
	if code, _ := e.as("admin", "DELETE", "/api/v1/ivr/flows/main", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := e.as("admin", "GET", "/api/v1/ivr/flows/main", nil); code != 404 {
		t.Fatalf("after delete: %d", code)
	}
}

package crm

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ringbridge/ringbridge/cti"
)

// An IVR query goes to the routing URL when no query URL is set, with the
// tenant's credentials, and its answer's branch, tag and vars come back;
// a garbled answer is an error (the node's onTimeout branch).
func TestQueryUsesTheRoutingURLAndReadsTheAnswer(t *testing.T) {
	var got queryParams
	var user, pass, path string
	answer := `{"branch": "vip", "tag": "gold", "vars": {"account": 42, "open": true}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ = r.BasicAuth()
		path = r.URL.Path
		_ = json.NewDecoder(r.Body).Decode(&got)
		io.WriteString(w, answer)
	}))
	defer srv.Close()
	c := newClient(t, TenantConfig{RoutingURL: srv.URL + "/route", Username: "u", Password: "p"})
	q := cti.IVRQuery{TenantID: "demo", CallID: "call_1", From: "+15557654321", To: "15550009000",
		Direction: cti.DirectionInbound, Flow: "main", Node: "ask", Vars: map[string]string{"pin": "1234"}}
	a, err := c.Query(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	if a.Branch != "vip" || a.Tag != "gold" || a.Vars["account"] != "42" || a.Vars["open"] != "true" {
		t.Fatalf("answer %+v", a)
	}
	if path != "/route" || user != "u" || pass != "p" || got.Node != "ask" || got.Flow != "main" || got.Vars["pin"] != "1234" ||
		got.From != "+15557654321" || got.Tenant != "demo" || got.Direction != "inbound" {
		t.Fatalf("request %s %+v (auth %s:%s)", path, got, user, pass)
	}
	for _, bad := range []string{`[]`, `{"branch": {"x": 1}}`, `{"vars": {"Bad-Name": "x"}}`, `{"vars": {"ok": [1]}}`, `{"tag": 1} {}`} {
		answer = bad
		if _, err := c.Query(t.Context(), q); err == nil {
			t.Errorf("answer %s accepted", bad)
		}
	}
	if _, err := newClient(t, TenantConfig{LookupURL: srv.URL}).Query(t.Context(), q); err != ErrNotConfigured {
		t.Errorf("a tenant without query or routing URL: %v", err)
	}
}

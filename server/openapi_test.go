package server

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The OpenAPI document and the route table must describe the same API:
// every /api/v1 route documented, every documented operation routed.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	var spec struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &spec); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", spec.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range spec.Paths {
		for method := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	param := regexp.MustCompile(`:(\w+)`)
	routed := map[string]bool{}
	for _, r := range e.srv.App().GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/api/v1/") || r.Method == "HEAD" {
			continue
		}
		routed[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	var missing, stale []string
	for op := range routed {
		if !documented[op] {
			missing = append(missing, op)
		}
	}
	for op := range documented {
		if !routed[op] {
			stale = append(stale, op)
		}
	}
	slices.Sort(missing)
	slices.Sort(stale)
	if len(missing) > 0 {
		t.Errorf("routes missing from server/openapi.json:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(stale) > 0 {
		t.Errorf("server/openapi.json documents operations no route serves:\n  %s", strings.Join(stale, "\n  "))
	}
	if len(routed) < 10 {
		t.Fatalf("only %d routes found; is the route walk broken?", len(routed))
	}

	resp, body := e.do("GET", "/api/v1/openapi.json", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !json.Valid(body) {
		t.Fatalf("GET openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

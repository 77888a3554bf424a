package server

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// saveRecording registers a file as a tenant's recording and returns its
// bytes and download code.
func (e *env) saveRecording(tenantID, id string) ([]byte, string) {
	e.t.Helper()
	body := append([]byte("RIFF....WAVE"), bytes.Repeat([]byte{7}, 1000)...)
	path := filepath.Join(e.t.TempDir(), id+".wav")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		e.t.Fatal(err)
	}
	err := e.store.SaveRecording(e.t.Context(), &cti.RecordingMeta{ID: id, TenantID: tenantID, CallID: "call_" + id,
		Path: path, DurationSeconds: 1.5, SizeBytes: int64(len(body)), CreatedAt: time.Now()})
	if err != nil {
		e.t.Fatal(err)
	}
	return body, e.svc.RecordingCode(id)
}

// GET /api/v1/recordings/{code}: the tenant's integration downloads the
// bytes as audio/wav; no credentials 401; a forged or garbled code 400;
// another tenant's recording and an agent's look at a call they were not
// on 404.
func TestGetRecording(t *testing.T) {
	e := newEnv(t)
	if err := e.store.CreateTenant(t.Context(), &cti.Tenant{ID: "other", Name: "Other"}); err != nil {
		t.Fatal(err)
	}
	want, code := e.saveRecording(testTenant, "rec_demo1")
	_, otherCode := e.saveRecording("other", "rec_other1")
	k := e.createKey("admin", "crm")
	url := "/api/v1/recordings/" + code

	resp, body := e.do("GET", url, nil, authBearer(k.Key)...)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" || !bytes.Equal(body, want) {
		t.Fatalf("download: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	resp, body = e.do("GET", url, nil, authBearer(e.login("admin").AccessToken)...)
	if resp.StatusCode != 200 || !bytes.Equal(body, want) {
		t.Fatalf("admin download: %d", resp.StatusCode)
	}

	resp, body = e.do("GET", url, nil)
	decodeProblem(t, resp, body, 401)
	resp, body = e.do("GET", "/api/v1/recordings/not-a-code", nil, authBearer(k.Key)...)
	decodeProblem(t, resp, body, 400)
	// A code with one character changed in the middle (the last ones may
	// already be the garbage chosen, and carry padding bits).
	forged := []byte(code)
	forged[len(forged)/2] ^= 'A' ^ 'B'
	if forged[len(forged)/2] == '-' || forged[len(forged)/2] == '_' {
		forged[len(forged)/2] = 'Q'
	}
	resp, body = e.do("GET", "/api/v1/recordings/"+string(forged), nil, authBearer(k.Key)...)
	decodeProblem(t, resp, body, 400)
	resp, body = e.do("GET", "/api/v1/recordings/"+otherCode, nil, authBearer(k.Key)...)
	decodeProblem(t, resp, body, 404)
	resp, body = e.do("GET", "/api/v1/recordings/"+e.svc.RecordingCode("rec_unknown"), nil, authBearer(k.Key)...)
	decodeProblem(t, resp, body, 404)
	// alice was not on call_rec_demo1 (there is no such call record).
	resp, body = e.do("GET", url, nil, authBearer(e.login("alice").AccessToken)...)
	decodeProblem(t, resp, body, 404)
}

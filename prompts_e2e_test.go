package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/media/mediatest"
	"github.com/ringbridge/ringbridge/media/wav"
)

// stereoToneWAV is a 16-bit stereo WAV of a sine at rate (both channels).
func stereoToneWAV(hz float64, rate int, seconds float64) []byte {
	n := int(float64(rate) * seconds)
	var b bytes.Buffer
	if err := wav.WriteHeader(&b, 2, rate, int64(n)); err != nil {
		panic(err)
	}
	s := make([]byte, 4)
	for i := range n {
		v := uint16(int16(0.5 * 32767 * math.Sin(2*math.Pi*hz*float64(i)/float64(rate))))
		binary.LittleEndian.PutUint16(s, v)
		binary.LittleEndian.PutUint16(s[2:], v)
		b.Write(s)
	}
	return b.Bytes()
}

type promptJSON struct {
	ID, Name   string
	DurationMs int
	Source     struct {
		Format, Encoding, Filename string
		Rate, Channels, Bytes      int
	}
}

type problemJSON struct {
	Status int
	Detail string
	Errors []struct{ Field, Detail string }
}

// upload posts a file as multipart/form-data.
func (e *e2e) upload(auth, name, filename string, data []byte) (int, []byte, http.Header) {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if name != "" {
		_ = mw.WriteField("name", name)
	}
	fw, _ := mw.CreateFormFile("file", filename)
	_, _ = fw.Write(data)
	_ = mw.Close()
	return e.request("POST", "/api/v1/prompts", auth, mw.FormDataContentType(), body.Bytes())
}

func wantProblem(t *testing.T, what string, status int, body []byte, hdr http.Header, want int, detail string) problemJSON {
	t.Helper()
	var p problemJSON
	if err := json.Unmarshal(body, &p); err != nil || status != want || p.Status != want ||
		!strings.HasPrefix(hdr.Get("Content-Type"), "application/problem+json") || !strings.Contains(p.Detail, detail) {
		t.Fatalf("%s: %d %s (%s), want %d with %q", what, status, body, hdr.Get("Content-Type"), want, detail)
	}
	return p
}

// Prompts through the whole product: a 44.1 kHz stereo WAV and an MP3 of
// a 1 kHz tone are uploaded over REST, converted to 8 kHz mono, listed and
// played back; a flow playing them (one by id, one by name) answers a
// number, and the SIP caller hears 1 kHz, then the flow's 600 Hz tone,
// then 1 kHz again. Bad files, names and roles are refused with
// problem+json; another tenant sees none of the prompts; a prompt in use cannot be deleted; a flow naming a prompt
// that does not exist is refused naming the node.
func TestE2EPromptsUploadPlayDelete(t *testing.T) {
	e := startE2E(t)
	admin := "Bearer " + e.login("admin")

	// The WAV by multipart form; the MP3 as the raw body.
	status, body, hdr := e.upload(admin, "welcome", "welcome.wav", stereoToneWAV(1000, 44100, 1.5))
	var welcome promptJSON
	if err := json.Unmarshal(body, &welcome); err != nil || status != 201 || !strings.HasPrefix(welcome.ID, "prm_") {
		t.Fatalf("upload wav: %d %s", status, body)
	}
	if hdr.Get("Location") != "/api/v1/prompts/"+welcome.ID || welcome.DurationMs < 1490 || welcome.DurationMs > 1510 ||
		welcome.Source.Format != "wav" || welcome.Source.Rate != 44100 || welcome.Source.Channels != 2 || welcome.Source.Filename != "welcome.wav" {
		t.Fatalf("wav prompt: %+v (Location %q)", welcome, hdr.Get("Location"))
	}
	mp3, err := os.ReadFile("media/audiofile/testdata/tone1k.mp3")
	if err != nil {
		t.Fatal(err)
	}
	status, body, _ = e.request("POST", "/api/v1/prompts?name=goodbye&filename=tone1k.mp3", admin, "audio/mpeg", mp3)
	var goodbye promptJSON
	if err := json.Unmarshal(body, &goodbye); err != nil || status != 201 || goodbye.Source.Format != "mp3" || goodbye.Source.Bytes != len(mp3) {
		t.Fatalf("upload mp3: %d %s", status, body)
	}

	// What is refused, and how.
	status, body, hdr = e.upload(admin, "notes", "notes.txt", []byte("these are not sounds"))
	p := wantProblem(t, "a text file", status, body, hdr, 400, "neither WAV nor MP3")
	if len(p.Errors) != 1 || p.Errors[0].Field != "file" {
		t.Errorf("a text file: errors %+v, want the file field", p.Errors)
	}
	status, body, hdr = e.upload(admin, "welcome", "again.wav", stereoToneWAV(500, 8000, 0.2))
	wantProblem(t, "a name taken", status, body, hdr, 409, `"welcome"`)
	status, body, hdr = e.upload(admin, "../etc", "x.wav", stereoToneWAV(500, 8000, 0.2))
	wantProblem(t, "a bad name", status, body, hdr, 400, "name")
	status, body, hdr = e.request("POST", "/api/v1/prompts?name=x", admin, "text/plain", []byte("x"))
	wantProblem(t, "text/plain", status, body, hdr, 415, "multipart/form-data")
	status, body, hdr = e.upload("Bearer "+e.login("alice"), "mine", "x.wav", stereoToneWAV(500, 8000, 0.2))
	wantProblem(t, "an agent's upload", status, body, hdr, 403, "")
	status, body, hdr = e.upload("", "anon", "x.wav", stereoToneWAV(500, 8000, 0.2))
	wantProblem(t, "no credentials", status, body, hdr, 401, "")
	long := stereoToneWAV(1000, 8000, 301) // 9.6 MB: under the size limit, over 300 s
	status, body, hdr = e.request("POST", "/api/v1/prompts?name=long", admin, "audio/wav", long)
	wantProblem(t, "301 s", status, body, hdr, 400, "longer than 300 seconds")

	status, body = e.api("GET", "/api/v1/prompts", admin, nil)
	var list struct{ Items []promptJSON }
	if err := json.Unmarshal(body, &list); err != nil || status != 200 || len(list.Items) != 2 || list.Items[0].Name != "goodbye" || list.Items[1].Name != "welcome" {
		t.Fatalf("list: %d %s", status, body)
	}

	// Played back as 8 kHz mono WAV holding the tone.
	res, audio := e.get("/api/v1/prompts/"+welcome.ID+"/audio", admin, nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("audio: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	pcm, rate, err := wav.Read(bytes.NewReader(audio))
	if err != nil || rate != 8000 || len(pcm) < 11900 || len(pcm) > 12100 {
		t.Fatalf("audio: %d samples at %d Hz, %v", len(pcm), rate, err)
	}
	det := mediatest.NewToneDetector(mediatest.ToneDetectorConfig{})
	det.WritePCM(pcm)
	if !det.Detected(1000) {
		t.Fatal("the converted prompt does not hold 1 kHz")
	}
	if res, _ := e.get("/api/v1/prompts/"+welcome.ID+"/audio", "", nil); res.StatusCode != 401 {
		t.Fatalf("audio without credentials: %d", res.StatusCode)
	}

	// Another tenant sees none of it.
	status, body = e.api("POST", "/api/v1/tenants", admin, map[string]any{"id": "acme", "name": "Acme", "admin": map[string]string{"username": "boss"}})
	var acme struct {
		Admin struct{ Username, Password string }
	}
	if err := json.Unmarshal(body, &acme); err != nil || status != 201 {
		t.Fatalf("tenant: %d %s", status, body)
	}
	status, body = e.api("POST", "/api/v1/auth/login", "", map[string]string{"tenant": "acme", "login": "boss", "password": acme.Admin.Password})
	var tok struct{ AccessToken string }
	if err := json.Unmarshal(body, &tok); err != nil || status != 200 {
		t.Fatalf("acme login: %d %s", status, body)
	}
	other := "Bearer " + tok.AccessToken
	if status, body = e.api("GET", "/api/v1/prompts", other, nil); status != 200 || strings.Contains(string(body), welcome.ID) {
		t.Fatalf("acme lists demo's prompts: %d %s", status, body)
	}
	for _, path := range []string{"/api/v1/prompts/" + welcome.ID, "/api/v1/prompts/" + welcome.ID + "/audio", "/api/v1/prompts/welcome"} {
		if res, _ := e.get(path, other, nil); res.StatusCode != 404 {
			t.Fatalf("acme GET %s: %d, want 404", path, res.StatusCode)
		}
	}
	if status, _ = e.api("DELETE", "/api/v1/prompts/"+welcome.ID, other, nil); status != 404 {
		t.Fatalf("acme deletes demo's prompt: %d", status)
	}

	// A flow naming a prompt that does not exist is refused, naming the node.
	flow := func(hello string) map[string]any {
		return map[string]any{"id": "greeting", "name": "Greeting", "start": "hello", "nodes": []map[string]any{
			{"id": "hello", "kind": "play", "say": []map[string]any{{"prompt": hello}}, "next": "beep"},
			{"id": "beep", "kind": "play", "say": []map[string]any{{"toneHz": 600, "ms": 600}}, "next": "bye"},
			{"id": "bye", "kind": "play", "say": []map[string]any{{"prompt": "goodbye"}}, "next": "end"},
			{"id": "end", "kind": "hangup"},
		}}
	}
	status, body = e.api("POST", "/api/v1/ivr/flows", admin, flow("nope"))
	var prob problemJSON
	_ = json.Unmarshal(body, &prob)
	if status != 400 || !strings.Contains(prob.Detail, `node "hello": plays prompt "nope", which does not exist`) ||
		len(prob.Errors) != 1 || prob.Errors[0].Field != "nodes/hello" {
		t.Fatalf("flow with a missing prompt: %d %s", status, body)
	}
	if status, body = e.api("POST", "/api/v1/ivr/flows", admin, flow(welcome.ID)); status != 201 {
		t.Fatalf("flow: %d %s", status, body)
	}
	if status, body = e.api("POST", "/api/v1/numbers", admin, map[string]string{
		"number": "+3612349100", "route": "ivr", "target": "greeting", "extension": "1001"}); status != 201 {
		t.Fatalf("number: %d %s", status, body)
	}

	// The caller hears the WAV prompt, the tone, then the MP3 prompt.
	calls, errs := e.dialIn("+3612349100")
	var heard *mediatest.ToneDetector
	select {
	case call := <-calls:
		heard = carrierAudio(call, 440)
		defer func() { _ = call.Hangup(context.WithoutCancel(e.ctx)) }()
	case err := <-errs:
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 15*time.Second)
	defer cancel()
	for i, hz := range []float64{1000, 600, 1000} {
		if err := heard.WaitFor(ctx, hz); err != nil {
			t.Fatalf("step %d: the caller does not hear %.0f Hz: %v", i, hz, err)
		}
		heard.Reset()
	}

	// In use: refused, naming the flow; a new version without it frees it.
	status, body = e.api("DELETE", "/api/v1/prompts/"+welcome.ID, admin, nil)
	if status != 409 || !strings.Contains(string(body), "greeting") {
		t.Fatalf("delete a prompt in use: %d %s", status, body)
	}
	if status, body = e.api("PUT", "/api/v1/ivr/flows/greeting", admin, flow("goodbye")); status != 200 {
		t.Fatalf("flow v2: %d %s", status, body)
	}
	if status, body = e.api("DELETE", "/api/v1/prompts/welcome", admin, nil); status != 204 {
		t.Fatalf("delete by name: %d %s", status, body)
	}
	if res, _ := e.get("/api/v1/prompts/"+welcome.ID+"/audio", admin, nil); res.StatusCode != 404 {
		t.Fatalf("audio after delete: %d", res.StatusCode)
	}
	// Version 1 played the deleted prompt: it cannot be current again.
	status, body = e.api("POST", "/api/v1/ivr/flows/greeting/rollback", admin, map[string]int{"version": 1})
	if status != 400 || !strings.Contains(string(body), `node \"hello\"`) {
		t.Fatalf("rollback to a version whose prompt is gone: %d %s", status, body)
	}

	status, body = e.api("GET", "/api/v1/audit", admin, nil)
	var audit struct {
		Items []struct{ Action, Target string }
	}
	if err := json.Unmarshal(body, &audit); err != nil || status != 200 {
		t.Fatalf("audit: %d %s", status, body)
	}
	seen := map[string]bool{}
	for _, it := range audit.Items {
		seen[it.Action+" "+it.Target] = true
	}
	for _, want := range []string{"prompt.create " + welcome.ID, "prompt.create " + goodbye.ID, "prompt.delete " + welcome.ID} {
		if !seen[want] {
			t.Errorf("no audit entry %q", want)
		}
	}
}

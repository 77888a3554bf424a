package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/media/trunk"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// Webhooks through the whole product: an administrator configures an
// endpoint over REST, a real call rings, is answered and hung up, and a
// real HTTP server playing the CRM receives the call's events, signed and
// in order, from the outbox that main wires as the core's event sink.
func TestE2EWebhooks(t *testing.T) {
	type got struct {
		header http.Header
		body   []byte
	}
	var mu sync.Mutex
	var received []got
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		received = append(received, got{r.Header.Clone(), b})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer crm.Close()
	// The stand-in CRM listens on loopback, which webhooks reach only when
	// the operator allow-lists it.
	e := startE2E(t, func(c *Config) { c.WebhookAllowPrivate = []string{"127.0.0.1/32"} })

	cfg, _ := json.Marshal(map[string]any{"url": crm.URL + "/events", "events": []string{"*"}})
	req, _ := http.NewRequestWithContext(e.ctx, "POST", e.base+"/api/v1/webhooks", bytes.NewReader(cfg))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.login("admin"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var ep struct{ ID, Secret string }
	if err := json.Unmarshal(body, &ep); err != nil || res.StatusCode != 201 || ep.Secret == "" {
		t.Fatalf("create webhook: %d %s", res.StatusCode, body)
	}

	a := e.signIn("alice", 440)
	calls, errs := e.dialIn("1001")
	ring := a.waitCall("ringing")
	if r := a.request(wsproto.Message{Type: wsproto.TypeAnswer, CallID: ring.ID}); r.Type != wsproto.TypeAck {
		t.Fatalf("answer: %+v", r)
	}
	select {
	case <-calls:
	case err := <-errs:
		t.Fatal(err)
	}
	if r := a.request(wsproto.Message{Type: wsproto.TypeHangup, CallID: ring.ID}); r.Type != wsproto.TypeAck {
		t.Fatalf("hangup: %+v", r)
	}
	a.waitCall("ended")

	// The call's events, in order, each signed with the endpoint's secret.
	want := []string{"call.ringing", "call.answered", "call.ended"}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var types []string
		var ended map[string]any
		mu.Lock()
		hits := slices.Clone(received)
		mu.Unlock()
		for _, h := range hits {
			if err := verifyStandardWebhook(ep.Secret, h.header, h.body); err != nil {
				t.Fatalf("signature: %v", err)
			}
			var env map[string]any
			if err := json.Unmarshal(h.body, &env); err != nil {
				t.Fatalf("body %s: %v", h.body, err)
			}
			if env["id"] != h.header.Get("webhook-id") || env["tenantId"] != "demo" {
				t.Fatalf("envelope %s", h.body)
			}
			if env["callId"] == ring.ID {
				types = append(types, env["type"].(string))
				if env["type"] == "call.ended" {
					ended, _ = env["data"].(map[string]any)
				}
			}
		}
		if slices.Equal(types, want) {
			if ended["id"] != ring.ID || ended["durations"] == nil || ended["legs"] == nil {
				t.Fatalf("call.ended carries no call record: %v", ended)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("call events received: %v, want %v", types, want)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A caller who reaches an away agent is turned away (480) but not
	// lost: the CRM gets the attempt's call.ended, once.
	if r := a.request(wsproto.Message{Type: wsproto.TypeStatus, Status: "away", Reason: "lunch"}); r.Type != wsproto.TypeAck {
		t.Fatalf("away: %+v", r)
	}
	_, err = e.carrier.Dial(e.ctx, "sip:1001@"+e.sip, "15557654321")
	var de *trunk.DialError
	if !errors.As(err, &de) || de.Status != 480 {
		t.Fatalf("call to an away agent: %v, want 480", err)
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		var missed []map[string]any
		mu.Lock()
		for _, h := range received {
			var env map[string]any
			_ = json.Unmarshal(h.body, &env)
			if d, _ := env["data"].(map[string]any); env["type"] == "call.ended" && d["endReason"] == "unavailable" {
				missed = append(missed, d)
			}
		}
		mu.Unlock()
		if len(missed) > 1 {
			t.Fatalf("missed call delivered %d times", len(missed))
		}
		if len(missed) == 1 {
			legs, _ := missed[0]["legs"].([]any)
			leg, _ := legs[0].(map[string]any)
			if missed[0]["from"] != "15557654321" || leg["sipStatus"] != float64(480) {
				t.Fatalf("missed call record: %v", missed[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no call.ended for the call to the away agent")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// verifyStandardWebhook checks the signature headers from the
// specification's description, independently of cti/webhook's code.
func verifyStandardWebhook(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("no webhook-signature matches")
}

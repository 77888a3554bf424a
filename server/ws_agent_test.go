package server

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"

	"github.com/ringbridge/ringbridge/cti"

	"github.com/ringbridge/ringbridge/server/wsproto"
)

func TestWSOriginChecks(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowedOrigins = []string{"https://crm.example.test"} })
	e.listen()

	for name, origin := range map[string]string{
		"missing":   "",
		"foreign":   "https://evil.example.test",
		"lookalike": "https://crm.example.test.evil.test",
		// Same host, but not the same origin: scheme and port count too.
		"other scheme": "https://" + e.addr,
		"other port":   "http://127.0.0.1:1",
	} {
		t.Run(name, func(t *testing.T) {
			_, resp, err := e.dialWS(origin)
			if err == nil {
				t.Fatal("upgrade accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("want 403, got %v (%v)", resp, err)
			}
			if ct := resp.Header.Get("Content-Type"); ct != problemContentType {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	for name, origin := range map[string]string{
		"allow-listed": "https://crm.example.test",
		"same origin":  e.origin(),
	} {
		t.Run(name, func(t *testing.T) {
			c, _, err := e.dialWS(origin)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			_ = c.conn.Close()
		})
	}

	t.Run("plain GET", func(t *testing.T) {
		resp, err := http.Get("http://" + e.addr + "/ws/agent")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusUpgradeRequired {
			t.Fatalf("status %d, want 426", resp.StatusCode)
		}
	})
}

func TestWSNoOriginWhenAllowed(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowNoOrigin = true })
	e.listen()
	c, _, err := e.dialWS("")
	if err != nil {
		t.Fatalf("dial without Origin: %v", err)
	}
	_ = c.conn.Close()
	if _, resp, err := e.dialWS("https://evil.example.test"); err == nil || resp.StatusCode != 403 {
		t.Fatalf("foreign origin: %v %v", resp, err)
	}
}

func TestWSAuthTimeout(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.WSAuthTimeout = 200 * time.Millisecond })
	e.listen()
	c := e.mustDialWS()
	seen := c.expectClose(closeUnauthorized)
	if len(seen) != 1 || seen[0].Type != wsproto.TypeError || seen[0].Code != wsproto.CodeUnauthorized {
		t.Fatalf("want one unauthorized error before close, got %+v", seen)
	}
}

func TestWSBadToken(t *testing.T) {
	e := newEnv(t)
	e.listen()
	for name, first := range map[string]wsproto.Message{
		"garbage token": {Type: wsproto.TypeAuth, ID: "a", Token: "nope"},
		"no token":      {Type: wsproto.TypeAuth, ID: "a"},
		"not auth":      {Type: wsproto.TypePing, ID: "a"},
	} {
		t.Run(name, func(t *testing.T) {
			c := e.mustDialWS()
			c.send(first)
			seen := c.expectClose(closeUnauthorized)
			if len(seen) != 1 || seen[0].Code != wsproto.CodeUnauthorized {
				t.Fatalf("want unauthorized error, got %+v", seen)
			}
		})
	}
}

func TestWSWelcomeAndRequests(t *testing.T) {
	e := newEnv(t, withMetricsToken)
	e.listen()
	c, w := e.connectAgent("alice")
	if w.Version != wsproto.Version || w.SessionID == "" || w.TenantID != testTenant ||
		w.Extension != "1001" || w.Username != "alice" || w.UserID != e.users["alice"].ID ||
		w.Status != "available" || w.Calls == nil || len(w.ICEServers) != 1 {
		t.Fatalf("welcome %+v", w)
	}

	c.send(wsproto.Message{Type: wsproto.TypeOffer, ID: "o1", SDP: "v=0 offer"})
	if m := c.read(); m.Type != wsproto.TypeAnswer || m.ID != "o1" || m.SDP != fakeAnswer {
		t.Fatalf("offer reply %+v", m)
	}

	mid := "0"
	c.send(wsproto.Message{Type: wsproto.TypeICE, ID: "i1", Candidate: &wsproto.ICECandidate{
		Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", SDPMid: &mid}})
	if m := c.read(); m.Type != wsproto.TypeAck || m.ID != "i1" {
		t.Fatalf("ice reply %+v", m)
	}

	badMessages := []struct {
		raw, id, mention string
	}{
		{`{"type":"ping",`, "", "malformed JSON"},
		{`not json at all`, "", "malformed JSON"},
		{`[1,2]`, "", "JSON object"},
		{`{"id":"x1"}`, "x1", `missing "type"`},
		{`{"type":"frobnicate","id":"u1"}`, "u1", `unknown message type "frobnicate"`},
		{`{"type":"dial","id":"d1"}`, "d1", `"to"`},
		{`{"type":"hangup","id":"h1"}`, "h1", `"callId"`},
		{`{"type":"dtmf","id":"t1","callId":"c"}`, "t1", `"digits"`},
		{`{"type":"status","id":"s1","status":"dancing"}`, "s1", "unknown status"},
		{`{"type":"ping","id":"n1","to":5}`, "n1", `field "to" must be a string`},
		{`{"type":"auth","id":"r1","token":"x"}`, "r1", "already authenticated"},
	}
	for _, bm := range badMessages {
		c.sendRaw(fws.TextMessage, []byte(bm.raw))
		m := c.read()
		if m.Type != wsproto.TypeError || m.Code != wsproto.CodeBadMessage || m.ID != bm.id ||
			!strings.Contains(m.Message, bm.mention) {
			t.Errorf("%s: got %+v, want bad_message id %q mentioning %q", bm.raw, m, bm.id, bm.mention)
		}
	}
	c.sendRaw(fws.BinaryMessage, []byte{1, 2, 3})
	if m := c.read(); m.Code != wsproto.CodeBadMessage || !strings.Contains(m.Message, "binary") {
		t.Errorf("binary message: %+v", m)
	}

	// A domain error maps to its code and carries the request id.
	c.send(wsproto.Message{Type: wsproto.TypeAnswer, ID: "an1", CallID: "call_nope"})
	if m := c.read(); m.Type != wsproto.TypeError || m.Code != wsproto.CodeNotFound || m.ID != "an1" {
		t.Errorf("answering an unknown call: %+v", m)
	}

	// After all that the connection still serves requests.
	c.send(wsproto.Message{Type: wsproto.TypePing, ID: "p1"})
	if m := c.read(); m.Type != wsproto.TypeAck || m.ID != "p1" {
		t.Fatalf("ping reply %+v", m)
	}

	resp, body := e.do("GET", "/metrics", nil, "Authorization", "Bearer "+testMetricsToken)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "ringbridge_agent_sessions 1") ||
		strings.Contains(string(body), `ringbridge_ws_errors_total{code="bad_message"} 0`) {
		t.Errorf("metrics after the session:\n%s", body)
	}
}

func TestWSTooLarge(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.WSMaxMessage = 1024 })
	e.listen()
	c, _ := e.connectAgent("alice")

	// Exactly at the limit is fine.
	pad := strings.Repeat("x", 1024-len(`{"type":"ping","id":"p","reason":""}`))
	c.sendRaw(fws.TextMessage, []byte(`{"type":"ping","id":"p","reason":"`+pad+`"}`))
	if m := c.read(); m.Type != wsproto.TypeAck {
		t.Fatalf("message at the limit: %+v", m)
	}

	c.sendRaw(fws.TextMessage, []byte(`{"type":"offer","id":"big","sdp":"`+strings.Repeat("a", 2000)+`"}`))
	seen := c.expectClose(closeTooBig)
	if len(seen) != 1 || seen[0].Code != wsproto.CodeTooLarge {
		t.Fatalf("want too_large before close, got %+v", seen)
	}
}

func TestWSStatusEvent(t *testing.T) {
	e := newEnv(t)
	e.listen()
	c, _ := e.connectAgent("1001")
	c.send(wsproto.Message{Type: wsproto.TypeStatus, ID: "s1", Status: "away", Reason: "lunch"})
	var gotAck, gotEvent bool
	for !gotAck || !gotEvent {
		m := c.read()
		switch {
		case m.Type == wsproto.TypeAck && m.ID == "s1":
			gotAck = true
		case m.Type == wsproto.TypeStatus && m.Status == "away" && m.Reason == "lunch" && m.ID == "":
			gotEvent = true
		default:
			t.Fatalf("unexpected %+v", m)
		}
	}
}

func TestWSSessionReplaced(t *testing.T) {
	e := newEnv(t)
	e.listen()
	first, w1 := e.connectAgent("alice")

	// A second tab is refused while the first is live...
	tok := e.login("alice")
	tab := e.mustDialWS()
	tab.send(wsproto.Message{Type: wsproto.TypeAuth, ID: "a2", Token: tok.AccessToken})
	if m := tab.read(); m.Type != wsproto.TypeError || m.Code != wsproto.CodeSessionInUse {
		t.Fatalf("second tab: %+v, want session_in_use", m)
	}
	tab.expectClose(closeReplaced)

	// ...and may take over on request.
	second, w2 := e.connectAgentWith("alice", true)
	if w1.SessionID == w2.SessionID {
		t.Fatal("second sign-in reused the first session")
	}
	seen := first.expectClose(closeReplaced)
	if len(seen) == 0 || seen[len(seen)-1].Code != wsproto.CodeSessionReplace {
		t.Fatalf("want session_replaced before close, got %+v", seen)
	}
	second.send(wsproto.Message{Type: wsproto.TypePing, ID: "p"})
	if m := second.read(); m.Type != wsproto.TypeAck {
		t.Fatalf("second connection: %+v", m)
	}
}

func TestWSResume(t *testing.T) {
	e := newEnv(t)
	e.listen()
	c, w := e.connectAgent("alice")
	_ = c.conn.WriteMessage(fws.CloseMessage, fws.FormatCloseMessage(fws.CloseNormalClosure, ""))
	c.expectClose(fws.CloseNormalClosure)

	tok := e.login("alice")
	for _, tc := range []struct {
		resume  string
		sameSID bool
	}{
		{w.SessionID, true},
		{"sess_bogus", false},
	} {
		c2 := e.mustDialWS()
		// The previous iteration's socket may not be torn down yet; a
		// failed resume opens a new session, which must take over from it.
		c2.send(wsproto.Message{Type: wsproto.TypeAuth, Token: tok.AccessToken, Resume: tc.resume, Takeover: true})
		m := c2.read()
		if m.Type != wsproto.TypeWelcome {
			t.Fatalf("resume %s: %+v", tc.resume, m)
		}
		if (m.Welcome.SessionID == w.SessionID) != tc.sameSID {
			t.Errorf("resume %s: got session %s (original %s)", tc.resume, m.Welcome.SessionID, w.SessionID)
		}
		_ = c2.conn.Close()
	}
}

// A client that reconnects before the server noticed its old socket died
// must keep the session when the old socket is finally torn down.
func TestWSResumeSupersedesLiveConnection(t *testing.T) {
	const grace = 300 * time.Millisecond
	e := newEnv(t, func(c *cti.Config) { c.SessionGrace = grace })
	e.listen()
	old, w := e.connectAgent("alice")

	tok := e.login("alice")
	c := e.mustDialWS()
	c.send(wsproto.Message{Type: wsproto.TypeAuth, ID: "r", Token: tok.AccessToken, Resume: w.SessionID})
	if m := c.read(); m.Type != wsproto.TypeWelcome || m.Welcome.SessionID != w.SessionID {
		t.Fatalf("resume: %+v", m)
	}
	seen := old.expectClose(closeReplaced)
	if len(seen) == 0 || seen[len(seen)-1].Code != wsproto.CodeSessionReplace {
		t.Fatalf("old connection: want session_replaced, got %+v", seen)
	}

	// Had the old socket's teardown detached the session, it would close
	// after the grace period and this connection would be closed with it.
	time.Sleep(2 * grace)
	c.send(wsproto.Message{Type: wsproto.TypePing, ID: "p"})
	if m := c.read(); m.Type != wsproto.TypeAck || m.ID != "p" {
		t.Fatalf("after the grace period: %+v", m)
	}
	if n := e.svc.ConnectedAgents(); n != 1 {
		t.Fatalf("%d sessions, want 1", n)
	}
}

func TestWSPongDeadline(t *testing.T) {
	const interval = 100 * time.Millisecond
	e := newEnv(t, func(c *Config) { c.WSPingInterval = interval })
	e.listen()

	// A client that keeps reading answers pings and stays connected.
	alive, _ := e.connectAgent("alice")
	msgs := make(chan wsproto.Message, 8)
	go func() {
		defer close(msgs)
		for {
			var m wsproto.Message
			if err := alive.conn.ReadJSON(&m); err != nil {
				return
			}
			msgs <- m
		}
	}()
	time.Sleep(6 * interval)
	alive.send(wsproto.Message{Type: wsproto.TypePing, ID: "p"})
	select {
	case m, ok := <-msgs:
		if !ok || m.Type != wsproto.TypeAck {
			t.Fatalf("live client after %s: %+v (open %v)", 6*interval, m, ok)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ack")
	}

	// A client that stops reading never pongs and is dropped.
	silent, _ := e.connectAgent("bob")
	time.Sleep(6 * interval)
	silent.expectClose(closePongTimeout)
}

func TestWSRefusedWhileDraining(t *testing.T) {
	e := newEnv(t)
	e.srv.draining.Store(true)
	resp, body := e.do("GET", "/ws/agent", nil, "Connection", "Upgrade", "Upgrade", "websocket",
		"Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	decodeProblem(t, resp, body, 503)
}

func TestWSInternalCall(t *testing.T) {
	e := newEnv(t)
	e.listen()
	alice, _ := e.connectAgent("alice")
	bob, _ := e.connectAgent("bob")

	alice.send(wsproto.Message{Type: wsproto.TypeDial, ID: "d1", To: "1002"})
	ack := alice.readUntil(wsproto.TypeAck)
	if ack.ID != "d1" || ack.Call == nil || ack.Call.Direction != "internal" || ack.Call.Remote != "1002" {
		t.Fatalf("dial ack %+v", ack)
	}
	if _, err := time.Parse(time.RFC3339Nano, ack.Call.StartedAt); err != nil {
		t.Errorf("startedAt %q: %v", ack.Call.StartedAt, err)
	}
	ring := bob.readUntil(wsproto.TypeCall)
	if ring.Call.State != "ringing" || ring.Call.ID != ack.Call.ID || ring.Call.Remote != "1001" {
		t.Fatalf("bob's ring %+v", ring.Call)
	}

	bob.send(wsproto.Message{Type: wsproto.TypeAnswer, ID: "b1", CallID: ring.Call.ID})
	waitCall(t, bob, "active")
	waitCall(t, alice, "active")

	alice.send(wsproto.Message{Type: wsproto.TypeHangup, ID: "h1", CallID: ack.Call.ID})
	ended := waitCall(t, bob, "ended")
	// The reason is the call's (cti reports it from the caller's side).
	if ended.EndReason == "" || ended.EndedAt == "" {
		t.Errorf("bob's ended call %+v", ended)
	}
}

// waitCall reads c until a call event in state arrives.
func waitCall(t *testing.T, c *wsClient, state string) *wsproto.Call {
	t.Helper()
	for range 20 {
		m := c.read()
		if m.Type == wsproto.TypeError {
			t.Fatalf("error while waiting for %s: %+v", state, m)
		}
		if m.Type == wsproto.TypeCall && m.Call.State == state {
			return m.Call
		}
	}
	t.Fatalf("no %s call event", state)
	return nil
}

func TestWSShutdownGoingAway(t *testing.T) {
	e := newEnv(t)
	e.listen()
	c, _ := e.connectAgent("alice")

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	c.expectClose(fws.CloseGoingAway)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := e.srv.conns.count(); n != 0 {
		t.Fatalf("%d websockets still registered", n)
	}
	// New websockets are refused while draining (the listener is closed).
	if _, _, err := e.dialWS(e.origin()); err == nil {
		t.Fatal("websocket accepted after Shutdown")
	}
}

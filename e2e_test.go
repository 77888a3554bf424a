package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/ringbridge/ringbridge/media/mediatest"
	"github.com/ringbridge/ringbridge/media/peer"
	"github.com/ringbridge/ringbridge/media/rtpio"
	"github.com/ringbridge/ringbridge/media/trunk"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// These tests run the product as main wires it — SQLite, pion, sipgo,
// cti, Fiber — and drive it as a browser and a carrier would: REST login,
// the agent websocket, WebRTC media, SIP calls with audio.

type e2e struct {
	t       *testing.T
	ctx     context.Context
	app     *app   // nil when the product runs as a separate process
	base    string // the product's URL, "http://127.0.0.1:port"
	sip     string // its SIP address, "127.0.0.1:port"
	carrier *trunk.Phone
	creds   map[string]string // username → password
}

// startE2E starts the product; opts adjust the configuration before its
// defaults are filled in.
func startE2E(t *testing.T, opts ...func(*Config)) *e2e {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	carrier, err := trunk.NewPhone(trunk.PhoneConfig{Listen: "127.0.0.1:0", User: "carrier"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { carrier.Close() })
	tlsOff, tcpOff := false, 0
	cfg := &Config{
		DataDir: t.TempDir(), TLS: &tlsOff, HTTPAddr: "127.0.0.1:0", SIPAddr: "127.0.0.1:0",
		MediaIP: "127.0.0.1", WebRTCTCPPort: &tcpOff, RTPPorts: "41000-45000",
		Trunks: []trunk.TrunkConfig{{Name: "carrier", Address: carrier.Addr().String(), AllowFrom: []string{"127.0.0.1/32"}}},
	}
	for _, o := range opts {
		o(cfg)
	}
	cfg.setDefaults()
	cfg.WebRTCUDPPort = 0
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("RB_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a, err := newApp(ctx, cfg, log, &out)
	if err != nil {
		t.Fatal(err)
	}
	a.start()
	t.Cleanup(a.close)
	e := &e2e{t: t, ctx: ctx, app: a, base: a.url(), sip: a.sipAddr().String(), carrier: carrier, creds: demoCredentials(t, out.String())}
	return e
}

// demoCredentials reads the demo users' passwords from what the first
// start prints.
func demoCredentials(t *testing.T, out string) map[string]string {
	t.Helper()
	creds := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(\w+)\s+ext \S+\s+role \S+\s+password (\S+)$`).FindAllStringSubmatch(out, -1) {
		creds[m[1]] = m[2]
	}
	if len(creds) != 3 {
		t.Fatalf("demo credentials not printed as expected:\n%s", out)
	}
	return creds
}

// wsAgent is a browser stand-in: websocket + pion peer.
type wsAgent struct {
	t      *testing.T
	e      *e2e
	conn   *websocket.Conn
	msgs   chan wsproto.Message
	client *peer.Client
	heard  *mediatest.ToneDetector
	sessID string
	token  string
	nextID int
	// seen keeps messages read while waiting for another, so an event
	// that overtakes an ack on the wire is not lost to the test.
	seen []wsproto.Message
}

// wait returns the first message, already seen or still to come, that
// matches.
func (a *wsAgent) wait(match func(wsproto.Message) bool) wsproto.Message {
	a.t.Helper()
	for i, m := range a.seen {
		if match(m) {
			a.seen = append(a.seen[:i], a.seen[i+1:]...)
			return m
		}
	}
	timeout := time.After(15 * time.Second)
	for {
		select {
		case m, ok := <-a.msgs:
			if !ok {
				a.t.Fatal("websocket closed while waiting")
			}
			if match(m) {
				return m
			}
			a.seen = append(a.seen, m)
		case <-timeout:
			a.t.Fatal("timed out waiting for a websocket message")
		}
	}
}

func (e *e2e) login(user string) string {
	e.t.Helper()
	body, _ := json.Marshal(map[string]string{"login": user, "password": e.creds[user]})
	res, err := http.Post(e.base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct{ AccessToken string }
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != 200 || tok.AccessToken == "" {
		e.t.Fatalf("login %s: %d %v", user, res.StatusCode, err)
	}
	return tok.AccessToken
}

func (e *e2e) connect(token, resume string) (*websocket.Conn, chan wsproto.Message, wsproto.Message) {
	e.t.Helper()
	url := strings.Replace(e.base, "http", "ws", 1) + "/ws/agent"
	conn, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {e.base}})
	if err != nil {
		e.t.Fatal(err)
	}
	msgs := make(chan wsproto.Message, 256)
	go func() {
		defer close(msgs)
		for {
			var m wsproto.Message
			if err := conn.ReadJSON(&m); err != nil {
				return
			}
			msgs <- m
		}
	}()
	if err := conn.WriteJSON(wsproto.Message{Type: wsproto.TypeAuth, Token: token, Resume: resume}); err != nil {
		e.t.Fatal(err)
	}
	welcome := waitMsg(e.t, msgs, func(m wsproto.Message) bool { return m.Type == wsproto.TypeWelcome })
	return conn, msgs, welcome
}

func waitMsg(t *testing.T, msgs <-chan wsproto.Message, match func(wsproto.Message) bool) wsproto.Message {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatal("websocket closed while waiting")
			}
			if match(m) {
				return m
			}
		case <-timeout:
			t.Fatal("timed out waiting for a websocket message")
		}
	}
}

func (e *e2e) signIn(user string, toneHz float64) *wsAgent {
	e.t.Helper()
	return e.signInToken(e.login(user), toneHz)
}

// signInToken is signIn with an access token from any login.
func (e *e2e) signInToken(token string, toneHz float64) *wsAgent {
	e.t.Helper()
	a := &wsAgent{t: e.t, e: e, token: token, heard: mediatest.NewToneDetector(mediatest.ToneDetectorConfig{})}
	var welcome wsproto.Message
	a.conn, a.msgs, welcome = e.connect(a.token, "")
	a.sessID = welcome.Welcome.SessionID
	capi, err := peer.NewClientAPI()
	if err != nil {
		e.t.Fatal(err)
	}
	if a.client, err = capi.NewClient(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { a.client.Close() })
	offer, err := a.client.Offer(e.ctx, false)
	if err != nil {
		e.t.Fatal(err)
	}
	ans := a.request(wsproto.Message{Type: wsproto.TypeOffer, SDP: offer})
	if ans.Type != wsproto.TypeAnswer || ans.SDP == "" {
		e.t.Fatalf("offer answered with %+v", ans)
	}
	if err := a.client.SetAnswer(ans.SDP); err != nil {
		e.t.Fatal(err)
	}
	select {
	case <-a.client.Connected():
	case <-e.ctx.Done():
		e.t.Fatal("browser peer never connected")
	}
	gen := mediatest.NewToneGenerator(toneHz, 0.3, 8000)
	a.client.SendAudio(gen.NextPCMU)
	a.client.OnAudio(a.heard.WriteUlaw)
	return a
}

// request sends m with a fresh id and returns the reply with that id.
func (a *wsAgent) request(m wsproto.Message) wsproto.Message {
	a.t.Helper()
	a.nextID++
	m.ID = fmt.Sprintf("r%d", a.nextID)
	if err := a.conn.WriteJSON(m); err != nil {
		a.t.Fatal(err)
	}
	return a.wait(func(r wsproto.Message) bool { return r.ID == m.ID })
}

func (a *wsAgent) waitCall(state string) wsproto.Call {
	a.t.Helper()
	return *a.wait(func(m wsproto.Message) bool {
		return m.Type == wsproto.TypeCall && m.Call.State == state
	}).Call
}

func (a *wsAgent) hears(hz float64) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(a.e.ctx, 10*time.Second)
	defer cancel()
	if err := a.heard.WaitFor(ctx, hz); err != nil {
		a.t.Fatalf("agent does not hear %.0f Hz: %v", hz, err)
	}
}

func (e *e2e) dialIn(number string) (chan *trunk.PhoneCall, chan error) {
	calls, errs := make(chan *trunk.PhoneCall, 1), make(chan error, 1)
	go func() {
		c, err := e.carrier.Dial(e.ctx, "sip:"+number+"@"+e.sip, "15557654321")
		if err != nil {
			errs <- err
			return
		}
		calls <- c
	}()
	return calls, errs
}

// ringAndAnswer has the carrier call number, the agent answer it on the
// websocket, and returns the ringing call as the agent saw it and the
// carrier's side of the answered call.
func (e *e2e) ringAndAnswer(a *wsAgent, number string) (wsproto.Call, *trunk.PhoneCall) {
	e.t.Helper()
	calls, errs := e.dialIn(number)
	ring := a.waitCall("ringing")
	if r := a.request(wsproto.Message{Type: wsproto.TypeAnswer, CallID: ring.ID}); r.Type != wsproto.TypeAck {
		e.t.Fatalf("answer: %+v", r)
	}
	select {
	case call := <-calls:
		return ring, call
	case err := <-errs:
		e.t.Fatal(err)
	}
	return ring, nil
}

func carrierAudio(c *trunk.PhoneCall, hz float64) *mediatest.ToneDetector {
	det := mediatest.NewToneDetector(mediatest.ToneDetectorConfig{})
	gen := mediatest.NewToneGenerator(hz, 0.3, 8000)
	c.SendAudio(func(_ rtpio.Codec, dst []byte) { gen.NextPCMU(dst) })
	c.OnAudio(func(_ rtpio.Codec, p []byte) { det.WriteUlaw(p) })
	return det
}

// A call through the whole product survives the agent's websocket
// dropping: audio keeps flowing, the reconnecting client resumes the
// session, sees the call in its welcome and hangs it up.
func TestE2EInboundCallSurvivesWebsocketDrop(t *testing.T) {
	e := startE2E(t)
	a := e.signIn("alice", 440)
	ring, call := e.ringAndAnswer(a, "1001")
	if ring.Remote != "15557654321" {
		t.Fatalf("ringing call shows %q", ring.Remote)
	}
	heard := carrierAudio(call, 1000)
	a.hears(1000)
	if err := heard.WaitFor(e.ctx, 440); err != nil {
		t.Fatalf("caller does not hear the agent: %v", err)
	}

	// The websocket drops; the call does not.
	a.conn.Close()
	time.Sleep(300 * time.Millisecond)
	a.heard.Reset()
	a.hears(1000)
	select {
	case <-call.Done():
		t.Fatal("call dropped with the websocket")
	default:
	}
	conn, msgs, welcome := e.connect(a.token, a.sessID)
	a.conn, a.msgs, a.seen = conn, msgs, nil
	if welcome.Welcome.SessionID != a.sessID || len(welcome.Welcome.Calls) != 1 || welcome.Welcome.Calls[0].ID != ring.ID {
		t.Fatalf("resume welcome %+v, want session %s with call %s", welcome.Welcome, a.sessID, ring.ID)
	}
	if r := a.request(wsproto.Message{Type: wsproto.TypeHangup, CallID: ring.ID}); r.Type != wsproto.TypeAck {
		t.Fatalf("hangup: %+v", r)
	}
	select {
	case <-call.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("caller never got BYE")
	}
	if end := a.waitCall("ended"); end.EndReason != "local_hangup" {
		t.Fatalf("end reason %q", end.EndReason)
	}
}

// SIGTERM-style drain: from the first moment the health check fails,
// sign-ins and new websockets are refused, the agent is told, new calls
// are refused (and leave a record), the live call may finish, and
// shutdown completes once it has.
func TestE2EGracefulDrain(t *testing.T) {
	e := startE2E(t)
	a := e.signIn("alice", 440)
	token := e.login("admin")
	_, call := e.ringAndAnswer(a, "1001")
	done := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	began := time.Now()
	go func() { e.app.shutdown(ctx); close(done) }()

	// The health check turns within 100 ms (polled, not slept).
	for {
		res, err := http.Get(e.base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == 503 {
			if !strings.Contains(string(body), "reason") {
				t.Fatalf("healthz while draining gives no reason: %s", body)
			}
			break
		}
		if time.Since(began) > 100*time.Millisecond {
			t.Fatalf("healthz still %d %s after %v", res.StatusCode, body, time.Since(began))
		}
	}
	if m := a.wait(func(m wsproto.Message) bool { return m.Type == wsproto.TypeDraining }); m.Until == "" {
		t.Fatalf("draining message without a deadline: %+v", m)
	}
	body, _ := json.Marshal(map[string]string{"login": "bob", "password": e.creds["bob"]})
	res, err := http.Post(e.base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 {
		t.Fatalf("sign-in while draining: %d, want 503", res.StatusCode)
	}
	url := strings.Replace(e.base, "http", "ws", 1) + "/ws/agent"
	if conn, res, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {e.base}}); err == nil {
		conn.Close()
		t.Fatal("websocket upgrade accepted while draining")
	} else if res == nil || res.StatusCode != 503 {
		t.Fatalf("websocket upgrade while draining: %v %v, want 503", res, err)
	}

	_, err = e.carrier.Dial(e.ctx, "sip:1002@"+e.sip, "15557654321")
	var de *trunk.DialError
	if !errors.As(err, &de) || de.Status != 480 {
		t.Fatalf("call during drain: %v, want 480", err)
	}
	// The refused caller is in the call history, with the status it got.
	st, list := e.api("GET", "/api/v1/calls?limit=10", "Bearer "+token, nil)
	if st != 200 || !strings.Contains(string(list), `"endReason":"unavailable"`) || !strings.Contains(string(list), `"sipStatus":480`) {
		t.Fatalf("refused call not in the history: %d %s", st, list)
	}
	select {
	case <-done:
		t.Fatal("shutdown did not wait for the live call")
	case <-call.Done():
		t.Fatal("live call was cut during the drain")
	default:
	}
	if err := call.Hangup(e.ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown did not finish after the last call ended")
	}
}

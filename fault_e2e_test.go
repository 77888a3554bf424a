package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/ringbridge/ringbridge/media/mediatest"
	"github.com/ringbridge/ringbridge/media/trunk"
	"github.com/ringbridge/ringbridge/media/wav"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// Fault tests: the real binary, killed with SIGKILL while producers write,
// then started again on the same data. What was acknowledged to anyone
// must reach the CRM; what was live must be accounted for.

// eventLog is a CRM's webhook receiver that remembers every delivery.
type eventLog struct {
	mu    sync.Mutex
	byID  map[string]*gotEvent
	order []string // event ids in order of first arrival
	hits  int
}

type gotEvent struct {
	Type   string          `json:"type"`
	CallID string          `json:"callId"`
	Data   json.RawMessage `json:"data"`
	times  int
}

func newEventLog() (*eventLog, *httptest.Server) {
	l := &eventLog{byID: map[string]*gotEvent{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev gotEvent
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &ev); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		id := r.Header.Get("webhook-id")
		l.mu.Lock()
		l.hits++
		if prev := l.byID[id]; prev != nil {
			prev.times++
		} else {
			ev.times = 1
			l.byID[id] = &ev
			l.order = append(l.order, id)
		}
		l.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	return l, srv
}

// tokens maps each producer token found in the delivered events to the
// ids of the events that carry it, in arrival order.
func (l *eventLog) tokens() (map[string][]string, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	byToken := map[string][]string{}
	var inOrder []string
	for _, id := range l.order {
		ev := l.byID[id]
		var d struct {
			Notes  string `json:"notes"`
			Reason string `json:"reason"`
			Status string `json:"status"`
			From   string `json:"from"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		tok := ""
		switch {
		case ev.Type == "call.updated" && strings.HasPrefix(d.Notes, "g"):
			tok = d.Notes
		case ev.Type == "agent.status" && d.Status == "away" && strings.HasPrefix(d.Reason, "s-"):
			tok = d.Reason
		case ev.Type == "call.ended" && strings.HasPrefix(d.From, "1555123"):
			tok = "c-" + d.From
		}
		if tok != "" {
			byToken[tok] = append(byToken[tok], id)
			inOrder = append(inOrder, tok)
		}
	}
	return byToken, inOrder
}

// acked is the set of tokens whose action was acknowledged.
type acked struct {
	mu sync.Mutex
	m  map[string]bool
}

func (a *acked) add(tok string) {
	a.mu.Lock()
	a.m[tok] = true
	a.mu.Unlock()
}

func (a *acked) list() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.m))
	for t := range a.m {
		out = append(out, t)
	}
	return out
}

// The write-ahead promise under SIGKILL: REST writes (call updates),
// websocket status changes and SIP calls run concurrently while the
// process is killed at random moments and started again. Every action
// that was acknowledged (200, ack, a SIP final response) reaches the CRM;
// a duplicate only ever carries the same id; each call's events keep
// their order.
func TestProcessEventsSurviveKills(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the real binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	carrier, err := trunk.NewPhone(trunk.PhoneConfig{Listen: "127.0.0.1:0", User: "carrier"})
	if err != nil {
		t.Fatal(err)
	}
	defer carrier.Close()
	events, crm := newEventLog()
	defer crm.Close()
	p := newProc(t, carrier, nil)
	e := p.e2e(ctx, carrier)
	admin := "Bearer " + e.login("admin")
	if st, body := e.api("POST", "/api/v1/webhooks", admin, map[string]any{"url": crm.URL, "events": []string{"*"}}); st != 201 {
		t.Fatalf("create webhook: %d %s", st, body)
	}

	// Calls to bob, who is signed out, are refused (480) and each leaves
	// a record: the calls the REST producers update.
	const updaters = 6
	var callIDs []string
	for i := range updaters {
		if _, err := carrier.Dial(ctx, "sip:1002@"+p.sip, fmt.Sprintf("1555000%04d", i)); err == nil {
			t.Fatal("call to a signed-out agent was answered")
		}
	}
	st, body := e.api("GET", "/api/v1/calls?limit=10", admin, nil)
	var page struct {
		Items []struct{ ID string } `json:"items"`
	}
	if err := json.Unmarshal(body, &page); err != nil || st != 200 || len(page.Items) < updaters {
		t.Fatalf("calls: %d %s", st, body)
	}
	for _, c := range page.Items[:updaters] {
		callIDs = append(callIDs, c.ID)
	}

	ack := &acked{m: map[string]bool{}}
	var stop atomic.Bool
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 3 * time.Second}
	for g, id := range callIDs {
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				tok := fmt.Sprintf("g%d-%06d", g, n)
				b, _ := json.Marshal(map[string]string{"notes": tok})
				req, _ := http.NewRequest("PATCH", p.base+"/api/v1/calls/"+id, bytes.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", admin)
				res, err := client.Do(req)
				if err != nil {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == 200 {
					ack.add(tok)
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	wg.Go(func() { statusProducer(ctx, e, p, ack, &stop) })
	wg.Go(func() {
		for n := 0; !stop.Load(); n++ {
			from := fmt.Sprintf("1555123%04d", n)
			// An INVITE the kill cut after 100 Trying would wait forever.
			dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			_, err := carrier.Dial(dctx, "sip:1002@"+p.sip, from)
			cancel()
			var de *trunk.DialError
			if errors.As(err, &de) && de.Status == 480 {
				ack.add("c-" + from)
			}
			time.Sleep(30 * time.Millisecond)
		}
	})

	kills := 6
	for range kills {
		time.Sleep(time.Duration(700+rand.IntN(1500)) * time.Millisecond)
		p.kill()
		p.start()
	}
	// Keep producing after the last restart until there is enough to
	// judge by (bounded: a slow machine gets 30 s more).
	for enough := time.Now().Add(30 * time.Second); len(ack.list()) < 1200 && time.Now().Before(enough); {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	want := ack.list()
	if len(want) < 1000 {
		t.Fatalf("only %d acknowledged actions; the test needs at least 1000", len(want))
	}
	var missing []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, _ := events.tokens()
		missing = missing[:0]
		for _, tok := range want {
			if len(got[tok]) == 0 {
				missing = append(missing, tok)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		t.Fatalf("%d of %d acknowledged events never reached the CRM, e.g. %v", len(missing), len(want), missing[:min(10, len(missing))])
	}
	got, inOrder := events.tokens()
	for tok, ids := range got {
		if len(ids) > 1 {
			t.Errorf("%s delivered as %d different events %v: duplicates must keep their id", tok, len(ids), ids)
		}
	}
	// Per call, the updates arrive in the order they were made.
	last := map[string]string{}
	for _, tok := range inOrder {
		if g, _, ok := strings.Cut(tok, "-"); ok && strings.HasPrefix(tok, "g") {
			if prev := last[g]; prev != "" && tok < prev {
				t.Errorf("call %s: %s arrived after %s", g, tok, prev)
			}
			last[g] = tok
		}
	}
	events.mu.Lock()
	t.Logf("%d acknowledged actions, %d events delivered in %d requests, %d kills", len(want), len(events.byID), events.hits, kills)
	events.mu.Unlock()
}

// statusProducer signs alice in over the websocket and keeps switching
// her away (with a fresh reason) and back, signing in again after every
// restart. An ack for "away" is an acknowledged action.
func statusProducer(ctx context.Context, e *e2e, p *proc, ack *acked, stop *atomic.Bool) {
	n := 0
	for !stop.Load() && ctx.Err() == nil {
		body, _ := json.Marshal(map[string]string{"login": "alice", "password": e.creds["alice"]})
		res, err := http.Post(p.base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		var tok struct{ AccessToken string }
		_ = json.NewDecoder(res.Body).Decode(&tok)
		res.Body.Close()
		conn, _, err := websocket.DefaultDialer.Dial(strings.Replace(p.base, "http", "ws", 1)+"/ws/agent", http.Header{"Origin": {p.base}})
		if err != nil || tok.AccessToken == "" {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		_ = conn.WriteJSON(wsproto.Message{Type: wsproto.TypeAuth, Token: tok.AccessToken})
		for !stop.Load() {
			n++
			reason := fmt.Sprintf("s-%06d", n)
			acked, alive := wsRequest(conn, wsproto.Message{ID: reason, Type: wsproto.TypeStatus, Status: "away", Reason: reason})
			if !alive {
				break
			}
			if !acked {
				// Refused (status changes are rate limited per agent).
				time.Sleep(time.Second)
				continue
			}
			ack.add(reason)
			if _, alive := wsRequest(conn, wsproto.Message{ID: reason + "a", Type: wsproto.TypeStatus, Status: "available"}); !alive {
				break
			}
		}
		conn.Close()
	}
}

// wsRequest sends m and reports whether its ack came back, and whether
// the connection is still usable.
func wsRequest(conn *websocket.Conn, m wsproto.Message) (acked, alive bool) {
	_ = conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if err := conn.WriteJSON(m); err != nil {
		return false, false
	}
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		var r wsproto.Message
		if err := conn.ReadJSON(&r); err != nil {
			return false, false
		}
		if r.ID == m.ID {
			return r.Type == wsproto.TypeAck, true
		}
	}
}

// A recorded call cut by SIGKILL: at the next start its record says
// "interrupted", its recording is a valid WAV with both parties' tones up
// to about a second before the kill, the CRM hears of both, and the agent
// who was signed in is signed out.
func TestProcessRecordingSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the real binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	carrier, err := trunk.NewPhone(trunk.PhoneConfig{Listen: "127.0.0.1:0", User: "carrier"})
	if err != nil {
		t.Fatal(err)
	}
	defer carrier.Close()
	events, crm := newEventLog()
	defer crm.Close()
	p := newProc(t, carrier, func(c map[string]any) {
		c["tenants"] = map[string]any{"demo": map[string]any{"record": true}}
	})
	e := p.e2e(ctx, carrier)
	admin := "Bearer " + e.login("admin")
	if st, body := e.api("POST", "/api/v1/webhooks", admin, map[string]any{"url": crm.URL, "events": []string{"*"}}); st != 201 {
		t.Fatalf("create webhook: %d %s", st, body)
	}
	a := e.signIn("alice", 440)
	ring, call := e.ringAndAnswer(a, "1001")
	heard := carrierAudio(call, 1000)
	a.hears(1000)
	if err := heard.WaitFor(ctx, 440); err != nil {
		t.Fatal(err)
	}
	answered := time.Now()
	time.Sleep(4 * time.Second)
	talked := time.Since(answered)
	p.kill()
	a.client.Close()
	p.start()

	var rec struct {
		EndReason string `json:"endReason"`
		Recording *struct {
			URL             string  `json:"url"`
			DurationSeconds float64 `json:"durationSeconds"`
		} `json:"recording"`
	}
	st, body := e.api("GET", "/api/v1/calls/"+ring.ID, admin, nil)
	if err := json.Unmarshal(body, &rec); err != nil || st != 200 || rec.EndReason != "interrupted" || rec.Recording == nil {
		t.Fatalf("record of the interrupted call: %d %s", st, body)
	}
	st, body = e.api("GET", rec.Recording.URL, admin, nil)
	if st != 200 {
		t.Fatalf("download: %d %s", st, body)
	}
	pcm, channels, rate, err := wav.ReadInterleaved(bytes.NewReader(body))
	if err != nil || rate != 8000 || channels != 2 {
		t.Fatalf("recording: rate %d channels %d err %v", rate, channels, err)
	}
	frames := len(pcm) / 2
	dur := time.Duration(frames) * time.Second / 8000
	if dur < talked-1500*time.Millisecond {
		t.Fatalf("recording holds %v of a call answered %v before the kill", dur, talked)
	}
	// The last half second recorded still holds both parties.
	tail := pcm[max(0, len(pcm)-8000):]
	left, right := mediatest.NewToneDetector(mediatest.ToneDetectorConfig{}), mediatest.NewToneDetector(mediatest.ToneDetectorConfig{})
	l, r := make([]int16, len(tail)/2), make([]int16, len(tail)/2)
	for i := range l {
		l[i], r[i] = tail[2*i], tail[2*i+1]
	}
	left.WritePCM(l)
	right.WritePCM(r)
	if !left.Detected(440) || !right.Detected(1000) {
		t.Fatalf("end of the recording: agent 440 Hz %v, caller 1000 Hz %v", left.Detected(440), right.Detected(1000))
	}
	if m, _ := filepath.Glob(filepath.Join(p.dataDir, "recordings", "*", "*.part")); len(m) != 0 {
		t.Fatalf("partial recordings left behind: %v", m)
	}

	// The CRM hears: the call ended (interrupted), its recording, alice offline.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ended, ready, offline bool
		events.mu.Lock()
		for _, ev := range events.byID {
			var d struct {
				EndReason, Status, Reason, Extension, CallID string
			}
			_ = json.Unmarshal(ev.Data, &d)
			switch {
			case ev.Type == "call.ended" && ev.CallID == ring.ID && d.EndReason == "interrupted":
				ended = true
			case ev.Type == "recording.ready" && ev.CallID == ring.ID:
				ready = true
			case ev.Type == "agent.status" && d.Extension == "1001" && d.Status == "offline" && d.Reason == "interrupted":
				offline = true
			}
		}
		events.mu.Unlock()
		if ended && ready && offline {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the CRM heard: call.ended %v, recording.ready %v, agent offline %v", ended, ready, offline)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A second SIGTERM during the drain hangs the live call up at once, but
// its record is still written (ended by the shutdown, not interrupted).
func TestProcessSecondSignalKeepsRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("signals the real binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	carrier, err := trunk.NewPhone(trunk.PhoneConfig{Listen: "127.0.0.1:0", User: "carrier"})
	if err != nil {
		t.Fatal(err)
	}
	defer carrier.Close()
	p := newProc(t, carrier, func(c map[string]any) { c["shutdownTimeout"] = "60s" })
	e := p.e2e(ctx, carrier)
	a := e.signIn("alice", 440)
	ring, call := e.ringAndAnswer(a, "1001")
	p.signal(syscall.SIGTERM)
	a.wait(func(m wsproto.Message) bool { return m.Type == wsproto.TypeDraining })
	p.signal(syscall.SIGTERM)
	select {
	case <-call.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the second signal did not hang the call up")
	}
	if !p.wait(15 * time.Second) {
		t.Fatal("the process did not exit after the second signal")
	}
	a.client.Close()
	p.start()
	st, body := e.api("GET", "/api/v1/calls/"+ring.ID, "Bearer "+e.login("admin"), nil)
	var rec struct{ EndReason string }
	if err := json.Unmarshal(body, &rec); err != nil || st != 200 || rec.EndReason != "shutdown" {
		t.Fatalf("record of the call cut by the second signal: %d %s", st, body)
	}
}
